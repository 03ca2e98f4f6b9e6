/**
 * Abrupt resets mid-message: clients that send part of a frame, or the first
 * fragment of a message, and then reset the TCP connection (RST, as
 * `socket.resetAndDestroy()` sends it). Each connection ends on the server: its
 * `terminate` runs, its process exits (the process table and the connection
 * count are back to their baseline), and nothing it held stays (RSS back
 * within the bound).
 */
import { describe, expect, it } from 'vitest';
import { clientFrame, lengthHeader, MiB, OP, RawSocket, RUNTIMES, scaled, serverFor, TEST_TIMEOUT_MS, underAttack } from './support.js';

/** Resetting clients in all, and at once. */
const RESETS = scaled(50, 10_000);
const AT_ONCE = scaled(50, 500);
/** What the server may grow by: about 150 KiB for each connection open at once on Deno, the hungriest. */
const MEMORY_BOUND = scaled(64, 128) * MiB;

/** What a resetting client sends before its RST: half a 64 KiB frame, or a first fragment whose message never ends. */
const PARTS = {
  'half a frame': () => Buffer.concat([lengthHeader(OP.binary, 64 * 1024), Buffer.alloc(4), Buffer.alloc(32 * 1024, 0x61)]),
  'the first fragment of a message': () => clientFrame(OP.text, 'x'.repeat(16 * 1024), { fin: false }),
} as const;

describe.each(RUNTIMES)('abrupt resets on %s', (runtime) => {
  const target = serverFor(runtime);

  for (const [what, part] of Object.entries(PARTS)) {
    it(`${RESETS} clients resetting after ${what}: terminate runs for each, and connections, processes and memory are back to baseline`, async () => {
      const before = (await target().stats()).terminated;
      await underAttack(target(), MEMORY_BOUND, async () => {
        const bytes = part();
        for (let done = 0; done < RESETS; done += AT_ONCE) {
          const batch = Math.min(AT_ONCE, RESETS - done);
          await Promise.all(
            Array.from({ length: batch }, async () => {
              const attacker = await RawSocket.open(target().port, { read: false });
              await attacker.write(bytes);
              attacker.socket.resetAndDestroy();
              await attacker.ended;
              expect(attacker.closeCode).toBeUndefined();
            }),
          );
        }
      });
      // And the bystander's.
      expect((await target().stats()).terminated - before).toBe(RESETS + 1);
    }, TEST_TIMEOUT_MS);
  }
});
