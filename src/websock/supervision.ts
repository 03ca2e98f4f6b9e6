/**
 * Every connection is a `temporary` child of a DynamicSupervisor: a server's own
 * (so stopping the server shuts its connections down), or a shared one for
 * connections upgraded outside a server (`upgrade()`).
 *
 * The connection process is spawned first and adopted by the supervisor after (it
 * links it and records it under one shared child spec): its socket's first frames
 * are already queued in its mailbox, never lost while the supervisor answers.
 */
import { DynamicSupervisor, adoptChild, prepareChildSpec } from '../runtime/dynamic-supervisor.js';
import { Pid } from '../runtime/pid.js';
import { isAlive } from '../runtime/process.js';
import { connectionOf, type Connection } from './connection.js';

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
/** The shared supervisor once started: checked before each use, since anyone may stop it. */
let fallbackPid: Pid | undefined;

/**
 * The DynamicSupervisor of connections upgraded without a server of their own
 * (registered as `beamsock.connections`), started on first use, and started
 * again when the last one was stopped: no connection runs unsupervised.
 *
 * @example
 * await DynamicSupervisor.countChildren(await connectionSupervisor());
 */
export function connectionSupervisor(): Promise<Pid> {
  if (fallback !== undefined && (fallbackPid === undefined || isAlive(fallbackPid))) return fallback;
  fallbackPid = undefined;
  const starting = DynamicSupervisor.start({ name: 'beamsock.connections' });
  fallback = starting;
  starting.then(
    (pid) => {
      if (fallback === starting) fallbackPid = pid;
    },
    () => {
      if (fallback === starting) fallback = undefined;
    },
  );
  return starting;
}

/**
 * Puts `conn` under `supervisor` (undefined: the shared `connectionSupervisor()`).
 * If the supervisor is full (`maxChildren`), the connection is closed with 1013
 * (Try Again Later) and `terminate` sees `{ error: 'max_children' }`; if it could
 * not start, with 1011.
 *
 * @example
 * superviseConnection(conn, serverSupervisor, options.shutdownTimeout);
 */
export function superviseConnection(conn: Connection<unknown>, supervisor: Pid | Promise<Pid> | undefined, shutdown: number): void {
  const spec = specFor(shutdown);
  const sup = supervisor ?? (fallbackPid !== undefined && isAlive(fallbackPid) ? fallbackPid : connectionSupervisor());
  if (sup instanceof Pid) {
    // The supervisor links it when it reads the cast; until then its exit signals are none of ours.
    conn.adopt(sup);
    adoptChild(sup, conn.pid, spec, refuseMaxChildren);
    return;
  }
  void sup.then(
    (pid) => {
      conn.adopt(pid);
      adoptChild(pid, conn.pid, spec, refuseMaxChildren);
    },
    (err: unknown) => conn.refuse(1011, `no supervisor: ${err instanceof Error ? err.message : String(err)}`),
  );
}

/** The supervisor is full: one function for every connection, not a closure each. */
function refuseMaxChildren(pid: Pid): void {
  connectionOf(pid)?.refuse(1013, 'max_children');
}
