/**
 * Every connection is a `temporary` child of a DynamicSupervisor: a server's own
 * (so stopping the server shuts its connections down), or a default one for
 * connections upgraded outside a server.
 *
 * The connection process is spawned first and adopted by the supervisor after (it
 * links it and records it under one shared child spec): its socket's first frames
 * are already queued in its mailbox, never lost while the supervisor answers.
 */
import { DynamicSupervisor, adoptChild, prepareChildSpec } from '../runtime/dynamic-supervisor.js';
import { Pid } from '../runtime/pid.js';
import type { Connection } from './connection.js';

/** One child spec per shutdown timeout, shared by every connection: their `start` is never called. */
const specs = new Map<number, ReturnType<typeof prepareChildSpec>>();

function specFor(shutdown: number): ReturnType<typeof prepareChildSpec> {
  let spec = specs.get(shutdown);
  if (spec === undefined) {
    spec = prepareChildSpec({
      id: 'connection',
      start: () => undefined,
      restart: 'temporary',
      shutdown: shutdown === Infinity ? 'infinity' : shutdown,
    });
    specs.set(shutdown, spec);
  }
  return spec;
}

let fallback: Promise<Pid> | undefined;

/**
 * The DynamicSupervisor of connections upgraded without a server of their own
 * (registered as `beamsock.connections`), started on first use.
 *
 * @example
 * await DynamicSupervisor.countChildren(await connectionSupervisor());
 */
export function connectionSupervisor(): Promise<Pid> {
  fallback ??= DynamicSupervisor.start({ name: 'beamsock.connections' }).then((pid) => pid);
  return fallback;
}

/**
 * Puts `conn` under `supervisor` (default: `connectionSupervisor()`). If the
 * supervisor is full (`maxChildren`), the connection is closed with 1013 (Try
 * Again Later) and `terminate` sees `{ error: 'max_children' }`.
 */
export function superviseConnection(conn: Connection<unknown>, supervisor: Pid | Promise<Pid> | undefined, shutdown: number): void {
  const spec = specFor(shutdown);
  const refused = (): void => conn.refuse(1013, 'max_children');
  if (supervisor instanceof Pid) {
    // The supervisor links it when it reads the cast; until then its exit signals are none of ours.
    conn.adopt(supervisor);
    adoptChild(supervisor, conn.pid, spec, refused);
    return;
  }
  const owned = supervisor === undefined;
  void (supervisor ?? connectionSupervisor()).then(
    (pid) => {
      conn.adopt(pid);
      adoptChild(pid, conn.pid, spec, refused);
    },
    (err: unknown) => {
      if (owned) fallback = undefined;
      conn.refuse(1011, `no supervisor: ${err instanceof Error ? err.message : String(err)}`);
    },
  );
}

/**
 * A server's graceful shutdown of its connections: its supervisor sends every one
 * `'shutdown'` at once (1001, `terminate('shutdown')`) and kills those still running
 * after their shutdown timeout. Waits up to `timeoutMs` for `live` to empty (the
 * sockets finish their closing handshake), then `cutRest` kills and cuts what is left:
 * a connection stuck in a callback would otherwise outlive its server.
 */
export async function shutdownConnections(supervisor: Pid | Promise<Pid>, timeoutMs: number, live: { readonly size: number }, cutRest: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const stopping = Promise.resolve(supervisor)
    .then((pid) => DynamicSupervisor.stop(pid, 'shutdown'))
    .catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  // Cleared below: a pending deadline would keep the process alive long after the close.
  const expired = new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)));
  await Promise.race([stopping, expired]);
  clearTimeout(timer);
  while (live.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  cutRest();
}
