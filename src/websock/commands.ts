/**
 * Cowboy's connection commands, beyond WebSock: called from inside a connection's
 * callbacks, they act on that connection.
 */
import { rejectUnknownOptions } from '../runtime/options.js';
import { currentProc } from '../runtime/scheduler.js';
import { connectionOf, type Connection } from './connection.js';

function current(what: string): Connection<unknown> {
  // Not self(): outside any process it throws its own message, which names no command.
  const proc = currentProc();
  const conn = proc === null ? undefined : connectionOf(proc.pid);
  if (conn === undefined) throw new Error(`${what}() must be called from a WebSock callback (inside a connection process)`);
  return conn;
}

/**
 * Stops (false) or resumes (true) reading from the socket, like Cowboy's `{active, Bool}`:
 * while paused, TCP backpressure slows the peer down.
 *
 * @example
 * handleIn([data], state) { setActive(false); startWork(data); return ok(state); }
 */
export function setActive(active: boolean): void {
  if (typeof active !== 'boolean') throw new TypeError(`setActive(active) takes a boolean, got ${String(active)}`);
  current('setActive').setActive(active);
}

/**
 * Compresses (true) or not (false) the frames pushed from now on, like Cowboy's
 * `{deflate, Bool}`. Ignored when permessage-deflate was not negotiated.
 *
 * @example
 * setDeflate(false); // this payload is already compressed
 */
export function setDeflate(on: boolean): void {
  if (typeof on !== 'boolean') throw new TypeError(`setDeflate(on) takes a boolean, got ${String(on)}`);
  current('setDeflate').setDeflate(on);
}

/**
 * Changes the idle `timeout` (ms; 0 for none) and/or `maxFrameSize` (bytes; 0 for
 * unlimited) of this connection, like Cowboy's `{set_options, Map}`. The idle
 * clock restarts.
 *
 * @example
 * setConnectionOptions({ timeout: 5 * 60_000 });
 */
export function setConnectionOptions(opts: { timeout?: number; maxFrameSize?: number }): void {
  rejectUnknownOptions(opts, ['timeout', 'maxFrameSize'], 'setConnectionOptions');
  for (const [key, value] of Object.entries(opts)) {
    if (typeof value !== 'number' || !(value >= 0)) throw new TypeError(`setConnectionOptions: option '${key}' must be a non-negative number, got ${String(value)}`);
  }
  current('setConnectionOptions').setOptions(opts);
}

/**
 * When this connection closes (other than by a crash), its process exits with
 * `{ shutdown: reason }` instead of `normal`, like Cowboy's `{shutdown_reason, Term}`:
 * linked processes and monitors see that reason.
 *
 * @example
 * setShutdownReason('kicked');
 */
export function setShutdownReason(reason: unknown): void {
  current('setShutdownReason').setShutdownReason(reason);
}
