/**
 * Telemetry: the `node:diagnostics_channel` channels every server publishes on,
 * the per-connection frame counts of `beamsock:connection:stop`, and the
 * tracing of each inbound message. A connection counts frames only if someone
 * listened to the stop channel when it started; nothing is built or published
 * for a channel without subscribers. Payloads are plain fields (a `Pid` prints
 * and serializes as `#PID<...>`), never a socket or a request.
 *
 * | channel | published | carries |
 * |---|---|---|
 * | `beamsock:upgrade` | once per upgrade attempt | `server`, `path`, `status`, `reason` for a refusal |
 * | `beamsock:connection:start` | once per connection | `pid`, `handlerName`, `server`, `remoteAddress`, `path`, `protocol`, `compress` |
 * | `beamsock:connection:stop` | once per connection | `pid`, the same connection fields, `reason`, `duration` (ms), `FrameStats` |
 * | `beamsock:connection:crash` | when a callback threw | `pid`, the same connection fields, `reason` |
 * | `tracing:beamsock:connection:message:{start,end,asyncStart,asyncEnd,error}` | around each `handleIn` | a `MessageTrace` |
 *
 * The message channel is a `TracingChannel` (as undici's and fastify's): `start`
 * before `handleIn`, `end` after it returns, `asyncStart`/`asyncEnd` when its
 * promise settles, `error` with what it threw or rejected with. A connection
 * that started while it had subscribers runs each traced `handleIn` in the
 * async context of its upgrade (`AsyncLocalStorage.snapshot()` taken when the
 * connection started), so a span or store bound at upgrade time is the parent
 * of each message's.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { channel, tracingChannel } from 'node:diagnostics_channel';
import type { Pid } from '../runtime/pid.js';
import type { ExitReason } from '../runtime/reasons.js';
import type { CloseReason, Frame, InFrame, WebSock } from './behaviour.js';
import { Outbound, type ConnectionMeta } from './transport.js';

const upgradeChannel = channel('beamsock:upgrade');
const startChannel = channel('beamsock:connection:start');
const stopChannel = channel('beamsock:connection:stop');
const crashChannel = channel('beamsock:connection:crash');
const messageTrace = tracingChannel<object, MessageTrace>('beamsock:connection:message');
const { start: traceStart, end: traceEnd, asyncStart: traceAsyncStart, asyncEnd: traceAsyncEnd, error: traceError } = messageTrace;
/** The async context each connection started in, kept only while the message channel had subscribers then. */
const contexts = new WeakMap<Pid, <R>(fn: () => R) => R>();

/**
 * What each trace of `tracing:beamsock:connection:message` carries: the
 * connection's fields, the message's opcode and size, and, as the trace goes,
 * `handleIn`'s result or error.
 */
export interface MessageTrace {
  readonly pid: Pid;
  readonly handlerName: string;
  readonly server: string;
  readonly remoteAddress: string | undefined;
  readonly path: string | undefined;
  readonly protocol: string | undefined;
  readonly opcode: 'text' | 'binary';
  /** The message's size in bytes. */
  readonly bytes: number;
  /** `handleIn`'s result (its promise at `end`, the settled value at `asyncEnd`). */
  result?: unknown;
  /** What `handleIn` threw or rejected with (at `error`). */
  error?: unknown;
}

/**
 * Called as a connection starts, in the async context of its upgrade: keeps that
 * context for its traced messages if the message channel has subscribers.
 *
 * @example
 * rememberContext(conn.pid);
 */
export function rememberContext(pid: Pid): void {
  if (tracing()) contexts.set(pid, AsyncLocalStorage.snapshot());
}

/** `messageTrace.hasSubscribers`, which Bun's TracingChannel lacks. */
function tracing(): boolean {
  return traceStart.hasSubscribers || traceEnd.hasSubscribers || traceAsyncStart.hasSubscribers || traceAsyncEnd.hasSubscribers || traceError.hasSubscribers;
}

/**
 * Calls `handler.handleIn(frame, state)`, traced on the message channel when it
 * has subscribers (and then in the connection's upgrade context, if kept).
 *
 * @example
 * const result = handleIn(handler, ['hi', { opcode: 'text' }], state, pid, meta);
 */
export function handleIn<S>(handler: WebSock<S>, frame: InFrame, state: S, pid: Pid, meta: ConnectionMeta): unknown {
  if (!tracing()) return handler.handleIn(frame, state);
  const run = contexts.get(pid);
  return run === undefined ? traceIn(handler, frame, state, pid, meta) : run(() => traceIn(handler, frame, state, pid, meta));
}

function traceIn<S>(handler: WebSock<S>, frame: InFrame, state: S, pid: Pid, meta: ConnectionMeta): unknown {
  const [data, { opcode }] = frame;
  const trace: MessageTrace = { pid, ...metaFields(meta), opcode, bytes: typeof data === 'string' ? Buffer.byteLength(data) : data.length };
  const result: unknown = messageTrace.traceSync(() => handler.handleIn(frame, state), trace);
  if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
    (result as PromiseLike<unknown>).then(
      (value) => {
        trace.result = value;
        traceAsyncStart.publish(trace);
        traceAsyncEnd.publish(trace);
      },
      (error: unknown) => {
        trace.error = error;
        traceError.publish(trace);
        traceAsyncStart.publish(trace);
        traceAsyncEnd.publish(trace);
      },
    );
  }
  return result;
}

/**
 * Publishes one upgrade attempt: accepted (101) or refused (with its reason).
 *
 * @example
 * publishUpgrade({ server: 'ws', path: '/chat', status: 400, reason: 'HTTP method POST unsupported' });
 */
export function publishUpgrade(event: { server: string; path: string | undefined; status: number; reason?: string }): void {
  if (upgradeChannel.hasSubscribers) upgradeChannel.publish(event);
}

/**
 * Publishes an accepted upgrade (101); its event is built only for subscribers,
 * since every upgrade passes here.
 *
 * @example
 * publishUpgraded('ws', '/chat');
 */
export function publishUpgraded(server: string, path: string | undefined): void {
  if (upgradeChannel.hasSubscribers) upgradeChannel.publish({ server, path, status: 101 });
}

/** Frame counts and bytes per type, received and sent, as `beamsock:connection:stop` reports them. */
export interface FrameStats {
  recvTextCount: number;
  recvTextBytes: number;
  recvBinaryCount: number;
  recvBinaryBytes: number;
  recvPingCount: number;
  recvPingBytes: number;
  recvPongCount: number;
  recvPongBytes: number;
  recvCloseCount: number;
  recvCloseBytes: number;
  sendTextCount: number;
  sendTextBytes: number;
  sendBinaryCount: number;
  sendBinaryBytes: number;
  sendPingCount: number;
  sendPingBytes: number;
  sendPongCount: number;
  sendPongBytes: number;
}

/**
 * The counters for a connection starting now: zeroes if the stop channel has
 * subscribers, else null (and the connection counts nothing).
 *
 * @example
 * const stats = frameStats();
 * if (stats !== null) countReceived(stats, false, 5);
 */
export function frameStats(): FrameStats | null {
  if (!stopChannel.hasSubscribers) return null;
  return {
    recvTextCount: 0,
    recvTextBytes: 0,
    recvBinaryCount: 0,
    recvBinaryBytes: 0,
    recvPingCount: 0,
    recvPingBytes: 0,
    recvPongCount: 0,
    recvPongBytes: 0,
    recvCloseCount: 0,
    recvCloseBytes: 0,
    sendTextCount: 0,
    sendTextBytes: 0,
    sendBinaryCount: 0,
    sendBinaryBytes: 0,
    sendPingCount: 0,
    sendPingBytes: 0,
    sendPongCount: 0,
    sendPongBytes: 0,
  };
}

/**
 * Counts one whole inbound message.
 *
 * @example
 * countReceived(stats, true, data.length);
 */
export function countReceived(stats: FrameStats, binary: boolean, bytes: number): void {
  if (binary) {
    stats.recvBinaryCount++;
    stats.recvBinaryBytes += bytes;
  } else {
    stats.recvTextCount++;
    stats.recvTextBytes += bytes;
  }
}

/**
 * Counts one inbound ping (and the pong the adapter answered it with) or pong.
 *
 * @example
 * countControl(stats, 'ping', 6);
 */
export function countControl(stats: FrameStats, opcode: 'ping' | 'pong', bytes: number): void {
  if (opcode === 'ping') {
    stats.recvPingCount++;
    stats.recvPingBytes += bytes;
    stats.sendPongCount++;
    stats.sendPongBytes += bytes;
  } else {
    stats.recvPongCount++;
    stats.recvPongBytes += bytes;
  }
}

/**
 * Counts the peer's close frame: its code (none for 1005) and reason.
 *
 * @example
 * countClose(stats, 1000, 'bye');
 */
export function countClose(stats: FrameStats, code: number, reason: string): void {
  stats.recvCloseCount++;
  stats.recvCloseBytes += code === 1005 ? 0 : 2 + Buffer.byteLength(reason);
}

/**
 * Counts frames handed to the transport.
 *
 * @example
 * countSent(stats, [['text', 'hi']]);
 */
export function countSent(stats: FrameStats, frames: readonly (Frame | Outbound)[]): void {
  for (const item of frames) {
    const [opcode, data] = item instanceof Outbound ? item.frame : item;
    const bytes = data === null ? 0 : typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    switch (opcode) {
      case 'text':
        stats.sendTextCount++;
        stats.sendTextBytes += bytes;
        break;
      case 'binary':
        stats.sendBinaryCount++;
        stats.sendBinaryBytes += bytes;
        break;
      case 'ping':
        stats.sendPingCount++;
        stats.sendPingBytes += bytes;
        break;
      case 'pong':
        stats.sendPongCount++;
        stats.sendPongBytes += bytes;
        break;
    }
  }
}

/**
 * Publishes a connection's start.
 *
 * @example
 * publishStart(conn.pid, meta, transport.compressed);
 */
export function publishStart(pid: Pid, meta: ConnectionMeta, compress: boolean): void {
  if (startChannel.hasSubscribers) startChannel.publish({ pid, ...metaFields(meta), compress });
}

/**
 * Publishes a connection's end: why, how long it lived, and its frame counts.
 *
 * @example
 * publishStop(conn.pid, meta, 'normal', performance.now() - startedAt, stats);
 */
export function publishStop(pid: Pid, meta: ConnectionMeta, reason: CloseReason, duration: number, stats: FrameStats | null): void {
  if (stopChannel.hasSubscribers) stopChannel.publish({ pid, ...metaFields(meta), reason, duration, ...(stats ?? {}) });
}

/**
 * Publishes a connection's crash (a callback threw or rejected).
 *
 * @example
 * publishCrash(conn.pid, meta, { error: err });
 */
export function publishCrash(pid: Pid, meta: ConnectionMeta, reason: ExitReason): void {
  if (crashChannel.hasSubscribers) crashChannel.publish({ pid, ...metaFields(meta), reason });
}

/** The meta as plain fields: an adapter's meta may be a class whose `remoteAddress` is a getter, or hold its socket. */
function metaFields(meta: ConnectionMeta): ConnectionMeta {
  return { handlerName: meta.handlerName, remoteAddress: meta.remoteAddress, path: meta.path, protocol: meta.protocol, server: meta.server };
}
