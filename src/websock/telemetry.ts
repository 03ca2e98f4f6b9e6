/**
 * Telemetry: the `node:diagnostics_channel` channels every server publishes on,
 * and the per-connection frame counts of `beamsock:connection:stop`. A connection
 * counts frames only if someone listened to the stop channel when it started;
 * nothing is built or published for a channel without subscribers.
 *
 * | channel | published | carries |
 * |---|---|---|
 * | `beamsock:upgrade` | once per upgrade attempt | `server`, `path`, `status`, `reason` for a refusal |
 * | `beamsock:connection:start` | once per connection | `pid`, the connection's meta, `compress` |
 * | `beamsock:connection:stop` | once per connection | `pid`, meta, `reason`, `duration` (ms), `FrameStats` |
 * | `beamsock:connection:crash` | when a callback threw | `pid`, meta, `reason` |
 */
import { channel } from 'node:diagnostics_channel';
import type { Pid } from '../runtime/pid.js';
import type { ExitReason } from '../runtime/reasons.js';
import type { CloseReason, Frame } from './behaviour.js';
import { Outbound, type ConnectionMeta } from './transport.js';

const upgradeChannel = channel('beamsock:upgrade');
const startChannel = channel('beamsock:connection:start');
const stopChannel = channel('beamsock:connection:stop');
const crashChannel = channel('beamsock:connection:crash');

/**
 * Publishes one upgrade attempt: accepted (101) or refused (with its reason).
 *
 * @example
 * publishUpgrade({ server: 'ws', path: '/chat', status: 400, reason: 'HTTP method POST unsupported' });
 */
export function publishUpgrade(event: { server: string; path: string | undefined; status: number; reason?: string }): void {
  if (upgradeChannel.hasSubscribers) upgradeChannel.publish(event);
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

/** The meta as plain fields: an adapter's meta may be a class whose `remoteAddress` is a getter. */
function metaFields(meta: ConnectionMeta): ConnectionMeta {
  return { handlerName: meta.handlerName, remoteAddress: meta.remoteAddress, path: meta.path, protocol: meta.protocol, server: meta.server };
}
