import { within } from '../conformance/client.js';

/** Resolves once `check()` holds, polling every 5 ms; rejects after the conformance wait limit, naming `what`. */
export async function until(check: () => boolean, what: string): Promise<void> {
  await within(
    (async () => {
      while (!check()) await new Promise((r) => setTimeout(r, 5));
    })(),
    what,
  );
}
