/**
 * The connection process: drives one WebSock handler for one socket, whatever the
 * server. An adapter owns the socket, hands the connection a `Transport` and
 * delivers its `Inbound` events (see `transport.ts`); the connection owns the
 * rest — the callbacks and their results, the closing table, the idle timeout
 * (`idle-wheel.ts`), flow control, output batching, and what telemetry reports
 * (`telemetry.ts`).
 *
 * Socket events enter the process's mailbox like any other message, so a frame,
 * a `send(pid, msg)` and the peer's close are handled strictly in arrival order,
 * one at a time. Frames pushed during one scheduler slice leave in one write.
 */
import { performance } from 'node:perf_hooks';
import type { Pid } from '../runtime/pid.js';
import { report } from '../runtime/logger.js';
import { enqueue, exit, kill, procOf, rootPid, setHeld, spawnOwned, type SpawnOptions } from '../runtime/process.js';
import { isExit, isShutdownReason, type ExitReason } from '../runtime/reasons.js';
import { BUSY, DEAD, SCHEDULED, type Proc, type ProcOwner } from '../runtime/proc.js';
import type { CloseDetail, CloseInfo, CloseReason, Frame, Frames, HandleResult, Payload, WebSock } from './behaviour.js';
import { CloseCode, validateCloseDetail } from './close-codes.js';
import { drainPoll } from './drain-poll.js';
import { IdleWheel, type IdleWatched } from './idle-wheel.js';
import type { ResolvedOptions } from './options.js';
import { countClose, countControl, countReceived, countSent, frameStats, handleIn, publishCrash, publishStart, publishStop, type FrameStats } from './telemetry.js';
import { Outbound, type Cast, type ConnectionMeta, type Inbound, type Transport } from './transport.js';

/** The per-connection settings a connection enforces itself. */
export interface ConnectionSettings {
  /** Idle milliseconds (inbound bytes alone reset the clock); 0 for none. */
  readonly timeout: number;
  /** Largest inbound message in bytes; 0 for unlimited. */
  readonly maxFrameSize: number;
  /** Inbound messages waiting in the mailbox at most: at this many the socket stops being read. */
  readonly activeN: number;
  readonly maxHeapSize: SpawnOptions['maxHeapSize'];
  readonly fullsweepAfter: number | undefined;
  /** Unwritten outbound bytes over which the socket stops being read; Infinity for never. */
  readonly highWaterMark: number;
  /** Reading resumes once unwritten outbound bytes are back at or under this. */
  readonly lowWaterMark: number;
  /** Bytes held for a peer that does not read past which the connection closes with 1008; Infinity for none. */
  readonly maxBufferedAmount: number;
}

/**
 * The settings a connection enforces itself, from resolved upgrade options: what
 * the serving core (and the test kit) hands `Connection`.
 *
 * @example
 * const settings = connectionSettings(normalizeOptions({ timeout: 30_000 }));
 */
export function connectionSettings(o: ResolvedOptions): ConnectionSettings {
  return {
    timeout: o.timeout === Infinity ? 0 : o.timeout,
    maxFrameSize: o.maxFrameSize,
    activeN: o.activeN,
    maxHeapSize: o.maxHeapSize.size === 0 ? undefined : o.maxHeapSize,
    fullsweepAfter: o.fullsweepAfter,
    highWaterMark: o.highWaterMark,
    lowWaterMark: o.lowWaterMark,
    maxBufferedAmount: o.maxBufferedAmount,
  };
}


// What handleIn and handleControl receive beside the data: shared, never changed.
const TEXT_META = Object.freeze({ opcode: 'text' as const });
const BINARY_META = Object.freeze({ opcode: 'binary' as const });
const PING_META = Object.freeze({ opcode: 'ping' as const });
const PONG_META = Object.freeze({ opcode: 'pong' as const });

// A connection's booleans (`Connection.bits`).
const DONE = 1;
const DEFLATE = 2;
const USER_PAUSED = 4;
const FLOW_PAUSED = 8;
const OUT_PAUSED = 16;
const STARTED = 32;
const IDLE_QUEUED = 64;
/** Reading stopped for any of its three reasons. */
const PAUSED = USER_PAUSED | FLOW_PAUSED | OUT_PAUSED;

const TEXT = 0;
const BINARY = 1;
const PING = 2;
const PONG = 3;
const CLOSED = 4;
const PROTOCOL_ERROR = 5;
const IDLE = 6;

/** A socket event in the connection's mailbox; user code never sees one. */
class SocketEvent {
  constructor(
    readonly kind: number,
    readonly data: unknown,
    readonly code: number,
  ) {}

  /** How a crash report shows the event the connection was handling. */
  toJSON(): unknown {
    const name = ['text', 'binary', 'ping', 'pong', 'closed', 'protocol_error', 'idle_timeout'][this.kind];
    return this.kind <= PONG ? [name, typeof this.data === 'string' ? this.data : `<${(this.data as Buffer).length} bytes>`] : [name, this.code];
  }
}

/** @internal the connection run by the calling process, for the connection commands. */
export function connectionOf(pid: Pid): Connection<unknown> | undefined {
  const owner = procOf(pid)?.owner;
  return owner instanceof Connection ? (owner as Connection<unknown>) : undefined;
}

/**
 * One connection process. A server starts one per upgraded socket through
 * `Serving.start`, which also supervises and tracks it; the adapter then reports
 * the socket's events through the `Inbound` methods.
 *
 * @example
 * const conn = serving.start(transport, meta, args);
 * socket.on('message', (data) => conn.received(String(data), false, data.length));
 */
export class Connection<S> implements ProcOwner, Inbound, IdleWatched {
  private readonly proc: Proc;
  /** The handler's state; until `init` has run, `init`'s args (see `start`), which saves a field per connection. */
  private state: S;
  private out: (Frame | Outbound)[] | null = null;
  /**
   * Its seven booleans, one bit each (`DONE`, `DEFLATE`, the three reasons reading
   * is paused, `STARTED`, `IDLE_QUEUED`; read with `is`): one field instead of
   * seven, 48 bytes less a connection on V8 and 32 on JavaScriptCore.
   */
  private bits = DEFLATE;
  /** Payload bytes (string length for text) in `out`: past `highWaterMark` they are written before the slice ends. */
  private outBytes = 0;
  /** Inbound messages in the mailbox, not yet handled: never more than `activeN`. */
  private pending = 0;
  /**
   * Socket events that arrived after `activeN` messages were already waiting (the
   * rest of the socket read that filled the mailbox): they enter the mailbox, in
   * order, as those are handled. Null when none wait.
   */
  private held: (SocketEvent | undefined)[] | null = null;
  private heldAt = 0;
  /** Idle-wheel ticks since the last inbound data: reset by data, counted by the wheel. */
  private idleTicks = 0;
  private idleWheel: IdleWheel | undefined;
  private timeout: number;
  private shutdownReason: ExitReason | undefined;
  private refusal: { code: number; why: string } | undefined;
  /** The supervisor that adopted it; until then the root, as for any process without a parent. */
  private supervisor: Pid | undefined;
  private readonly startedAt = performance.now();
  private readonly stats: FrameStats | null;

  constructor(
    private readonly handler: WebSock<S>,
    args: unknown,
    private readonly transport: Transport,
    private readonly settings: ConnectionSettings,
    private readonly meta: ConnectionMeta,
  ) {
    this.state = args as S;
    this.timeout = settings.timeout;
    this.stats = frameStats();
    // The process runs `start` first, as its init: no closure per connection.
    this.proc = procOf(spawnOwned(this, spawnOptions(settings))) as Proc;
    publishStart(this.proc.pid, meta, transport.compressed);
    this.armIdle();
  }

  /** The connection's process. */
  get pid(): Pid {
    return this.proc.pid;
  }

  /** Unwritten outbound bytes over this (the lower of the high-water mark and the limit) are looked at; Infinity when neither is set. Derived, not kept: a field less a connection. */
  private get watchOver(): number {
    return Math.min(this.settings.highWaterMark, this.settings.maxBufferedAmount);
  }

  /** Whether any of `mask`'s booleans (`DONE`, `DEFLATE`, ..., or several or'ed together) is set. */
  private is(mask: number): boolean {
    return (this.bits & mask) !== 0;
  }

  // Inbound: the adapter's events ------------------------------------------------------

  bytesArrived(): void {
    this.idleTicks = 0;
  }

  received(data: string | Buffer, binary: boolean, bytes: number): void {
    this.idleTicks = 0;
    if (this.stats !== null) countReceived(this.stats, binary, bytes);
    this.deliver(new SocketEvent(binary ? BINARY : TEXT, data, 0));
  }

  control(data: Buffer, opcode: 'ping' | 'pong'): void {
    this.idleTicks = 0;
    if (this.stats !== null) countControl(this.stats, opcode, data.length);
    this.deliver(new SocketEvent(opcode === 'ping' ? PING : PONG, data, 0));
  }

  closed(remote: boolean, code: number, reason: string): void {
    if (this.stats !== null && remote) countClose(this.stats, code, reason);
    this.deliver(new SocketEvent(CLOSED, remote ? reason : null, remote ? code : 0));
  }

  protocolError(error: Error, code: number | undefined): void {
    this.deliver(new SocketEvent(PROTOCOL_ERROR, error, code ?? 0));
  }

  drained(): void {
    if (this.is(DONE)) return;
    if (this.proc.maxHeap !== 0) setHeld(this.proc, this.transport.bufferedAmount());
    if (this.is(OUT_PAUSED) && this.transport.bufferedAmount() <= this.settings.lowWaterMark) {
      this.bits &= ~OUT_PAUSED;
      drainPoll.delete(this);
      this.resumeReading();
    }
  }

  /**
   * The adapter holds `bytes` of inbound messages for this connection that it
   * could not stop reading (Deno): past `maxBufferedAmount` the connection closes
   * as for unwritten outbound bytes.
   */
  holding(bytes: number): void {
    if (!this.is(DONE) && bytes > this.settings.maxBufferedAmount) this.overflow('inbound', bytes);
  }

  /**
   * The connection now belongs to `supervisor` (a DynamicSupervisor that linked it):
   * an exit signal from it is a shutdown (1001).
   */
  adopt(supervisor: Pid): void {
    // Kept here, not in the process's extras, which a connection then never needs.
    this.supervisor = supervisor;
  }

  /**
   * The server will not keep this connection (its supervisor is at `maxChildren`):
   * close with `code` and end the process; `terminate` sees `{ error: why }`.
   */
  refuse(code: number, why: string): void {
    this.refusal = { code, why };
    exit(this.pid, 'kill');
  }

  /**
   * @internal the fastlane: writes `item` at once if nothing of this connection's
   * could come before it (its process idle, its mailbox and output empty); otherwise
   * returns false and the caller queues it in the mailbox.
   */
  writeNow(item: Outbound): boolean {
    if (!this.nothingBefore()) return false;
    ONE[0] = item;
    if (this.stats !== null) countSent(this.stats, ONE);
    this.transport.write(ONE, this.is(DEFLATE));
    ONE[0] = undefined as unknown as Outbound;
    if (this.watchOver !== Infinity) this.watchOut();
    return true;
  }

  /**
   * @internal the fastlane: offers `cast` to the server's own fan-out (see
   * `Transport.joinCast`) if nothing of this connection's could come before its
   * frame, as for `writeNow`; true, the frame counted as sent, when the server took it.
   */
  joinCast(cast: Cast): boolean {
    const t = this.transport;
    if (t.joinCast === undefined || !this.nothingBefore() || !t.joinCast(cast, this.is(DEFLATE), this.watchOver)) return false;
    if (this.stats !== null) {
      ONE[0] = cast.item;
      countSent(this.stats, ONE);
      ONE[0] = undefined as unknown as Outbound;
    }
    return true;
  }

  /** Its process idle, its mailbox and output empty: a frame written now goes out after everything it pushed. */
  private nothingBefore(): boolean {
    const p = this.proc;
    return !this.is(DONE) && (this.out === null || this.out.length === 0) && p.mq === null && (p.flags & (SCHEDULED | BUSY | DEAD)) === 0;
  }

  /**
   * @internal true while socket messages wait or a callback runs: what the peer
   * sent so far may still produce frames, so a server answering a close frame
   * now would put its answer before them.
   */
  working(): boolean {
    return this.pending !== 0 || this.held !== null || (this.proc.flags & (SCHEDULED | BUSY)) !== 0;
  }

  /** Cuts the socket without a close frame (a server giving up on a connection stuck past its shutdown timeout). */
  abortSocket(): void {
    this.transport.abort();
  }

  private deliver(ev: SocketEvent): void {
    if (this.is(DONE)) return;
    if (this.held !== null) {
      // Behind held messages, in arrival order: a close or a protocol error too.
      this.held.push(ev);
      return;
    }
    if (ev.kind <= BINARY && ++this.pending >= this.settings.activeN) {
      if (this.pending > this.settings.activeN) {
        this.pending--;
        this.held = [ev];
        return;
      }
      if (!this.is(FLOW_PAUSED)) {
        this.bits |= FLOW_PAUSED;
        if (!this.is(USER_PAUSED | OUT_PAUSED)) this.transport.pause();
      }
    }
    enqueue(this.proc, ev);
  }

  // Connection commands (Cowboy's, beyond WebSock) --------------------------------------

  /** Pause (false) or resume (true) reading from the socket. */
  setActive(active: boolean): void {
    if (active) {
      if (!this.is(USER_PAUSED)) return;
      this.bits &= ~USER_PAUSED;
      this.resumeReading();
    } else if (!this.is(USER_PAUSED)) {
      this.bits |= USER_PAUSED;
      if (!this.is(FLOW_PAUSED | OUT_PAUSED)) this.transport.pause();
    }
  }

  /** Reads the socket again unless something else still holds it paused. */
  private resumeReading(): void {
    if (!this.is(PAUSED)) this.transport.resume();
  }

  /** Compress (true, the default when negotiated) or not the frames pushed from now on. */
  setDeflate(on: boolean): void {
    this.bits = on ? this.bits | DEFLATE : this.bits & ~DEFLATE;
  }

  /** Changes the idle timeout (ms, 0 for none) and/or the largest inbound message from now on. */
  setOptions(opts: { timeout?: number; maxFrameSize?: number }): void {
    if (opts.timeout !== undefined) {
      this.timeout = opts.timeout;
      this.armIdle();
    }
    if (opts.maxFrameSize !== undefined) this.transport.setMaxFrameSize(opts.maxFrameSize);
  }

  /** The process exits with `{ shutdown: reason }` instead of `normal` when the connection closes (not on crash). */
  setShutdownReason(reason: unknown): void {
    this.shutdownReason = { shutdown: reason };
  }

  // The process ----------------------------------------------------------------------

  /** ProcOwner (runtime-facing, not for applications): one message of the connection's mailbox. */
  receive(msg: unknown): unknown {
    if (msg instanceof Outbound) {
      (this.out ??= []).push(msg);
      return undefined;
    }
    if (msg instanceof SocketEvent) {
      switch (msg.kind) {
        case TEXT:
        case BINARY:
          this.unpend();
          return this.settle('handleIn', handleIn(this.handler, [msg.data, msg.kind === TEXT ? TEXT_META : BINARY_META] as never, this.state, this.pid, this.meta));
        case PING:
        case PONG: {
          const handleControl = this.handler.handleControl;
          if (handleControl === undefined) return undefined;
          return this.settle('handleControl', handleControl.call(this.handler, [msg.data as Buffer, msg.kind === PING ? PING_META : PONG_META], this.state));
        }
        case CLOSED:
          if (msg.code === 0) return this.finish({ error: 'closed' }, info(undefined, undefined, undefined), 'normal');
          // What the messages before the close produced goes out before its echo (where the server waited for us).
          this.flush();
          this.transport.close(msg.code, msg.data as string);
          return this.finish('remote', info(msg.code, msg.data as string, msg.code), 'normal');
        case PROTOCOL_ERROR:
          this.flush();
          // 0: the server cut the connection without a close frame (Deno), so there is nothing to answer.
          if (msg.code !== 0) this.transport.close(msg.code, '');
          return this.finish({ error: msg.data }, info(undefined, undefined, msg.code === 0 ? undefined : msg.code), { shutdown: { protocolError: (msg.data as Error).message } });
        case IDLE: {
          this.bits &= ~IDLE_QUEUED;
          // Data may have arrived since the wheel looked: checked again here, in order.
          if (this.idleWheel === undefined || !this.idleWheel.expired(this.idleTicks)) return undefined;
          this.flush();
          this.transport.close(1000, '');
          return this.finish('timeout', info(undefined, undefined, 1000), 'normal');
        }
      }
    }
    if (isExit(msg) && msg.from === (this.supervisor ?? rootPid()) && msg.reason !== 'normal') {
      return this.shutdown(msg.reason);
    }
    return this.settle('handleInfo', this.handler.handleInfo(msg as never, this.state));
  }

  private unpend(): void {
    this.pending--;
    if (this.held !== null) this.release();
    if (this.held === null && this.is(FLOW_PAUSED) && this.pending <= this.settings.activeN >> 1) {
      this.bits &= ~FLOW_PAUSED;
      this.resumeReading();
    }
  }

  /** Moves held events into the mailbox, in order, until `activeN` messages wait again. */
  private release(): void {
    const held = this.held as (SocketEvent | undefined)[];
    const activeN = this.settings.activeN;
    let i = this.heldAt;
    while (i < held.length) {
      const ev = held[i] as SocketEvent;
      if (ev.kind <= BINARY) {
        if (this.pending >= activeN) break;
        this.pending++;
      }
      held[i++] = undefined;
      enqueue(this.proc, ev);
    }
    if (i === held.length) {
      this.held = null;
      this.heldAt = 0;
    } else {
      this.heldAt = i;
    }
  }

  /** Server shutdown (an exit signal from the parent): close with 1001, terminate('shutdown'). */
  private shutdown(reason: ExitReason): unknown {
    this.flush();
    this.transport.close(1001, '');
    return this.finish('shutdown', info(undefined, undefined, 1001), reason);
  }

  /**
   * ProcOwner (runtime-facing, not for applications): runs init, the process's
   * first turn. Only once its result is applied has the connection a state, and
   * only then will `terminate` run: a failed init skips it, as websock_adapter
   * (0.5.8 on) and a GenServer do.
   */
  start(): unknown {
    const args = this.state;
    this.state = undefined as S;
    const result = this.settle('init', this.handler.init(args));
    if (result !== undefined) {
      return (result as PromiseLike<unknown>).then(() => {
        this.bits |= STARTED;
      });
    }
    this.bits |= STARTED;
    return undefined;
  }

  /** Applies a callback's result, waiting for it if it is a promise. */
  private settle(name: string, result: unknown): unknown {
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      return (result as PromiseLike<unknown>).then((r) => this.apply(name, r));
    }
    return this.apply(name, result);
  }

  private apply(name: string, r: unknown): unknown {
    if (r === null || typeof r !== 'object') throw invalidResult(name, r);
    const result = r as HandleResult<S>;
    switch (result.type) {
      case 'push':
      case 'reply':
        this.queue(result.frames);
        this.state = result.state;
        return undefined;
      case 'ok':
        this.state = result.state;
        return undefined;
      case 'stop':
        return this.stopWith(result.reason, result.closeDetail, result.frames, result.state);
      default:
        throw invalidResult(name, r);
    }
  }

  private stopWith(reason: ExitReason, detail: CloseDetail | undefined, frames: Frames | undefined, state: S): unknown {
    let code: number;
    let terminateReason: CloseReason;
    if (reason === 'normal') {
      code = 1000;
      terminateReason = 'normal';
    } else if (isShutdownReason(reason) && (reason.shutdown === 'restart' || reason.shutdown === 'disconnected')) {
      code = reason.shutdown === 'restart' ? 1012 : 1000;
      terminateReason = 'normal';
    } else {
      code = 1011;
      terminateReason = { error: reason };
    }
    let closeReason: Payload = '';
    if (detail !== undefined) {
      if (detail === null || typeof detail !== 'object' || Array.isArray(detail)) {
        throw new TypeError(`stop() close detail must be { code, reason? }, got ${describeValue(detail)}`);
      }
      code = detail.code;
      closeReason = detail.reason ?? '';
      validateCloseDetail(code, closeReason);
    }
    if (frames !== undefined) this.queue(frames);
    // Those frames took the connection past maxBufferedAmount: it is closed already.
    if (this.is(DONE)) return undefined;
    this.state = state;
    this.flush();
    this.transport.close(code, closeReason ?? '');
    return this.finish(terminateReason, info(undefined, undefined, code), reason);
  }

  private queue(frames: Frames): void {
    if (frames.length === 0) return;
    if (typeof frames[0] === 'string') {
      (this.out ??= []).push(checkFrame(frames as Frame));
      this.outBytes += payloadLength(frames as Frame);
    } else {
      const out = (this.out ??= []);
      for (const f of frames as readonly Frame[]) {
        out.push(checkFrame(f));
        this.outBytes += payloadLength(f);
      }
    }
    // A slice may handle thousands of messages: what they push goes out, and is weighed, before it piles up here.
    if (this.outBytes > this.watchOver) this.flush();
  }

  private flush(): void {
    const out = this.out;
    if (out !== null && out.length !== 0) {
      if (this.stats !== null) countSent(this.stats, out);
      this.transport.write(out, this.is(DEFLATE));
      out.length = 0;
      this.outBytes = 0;
      if (this.watchOver !== Infinity && !this.is(DONE)) this.watchOut();
    }
    if (this.proc.maxHeap !== 0) setHeld(this.proc, this.transport.bufferedAmount());
  }

  /**
   * Backpressure, after a write: over the high-water mark the socket stops being
   * read (until `drained` finds it at the low-water mark), so a peer that does not
   * read stops being answered; past `maxBufferedAmount`, once paused, the connection
   * closes. A write that crosses the limit on a connection not yet paused only pauses
   * it: an echo of a maximal message to a peer that reads is not a peer that does not.
   */
  private watchOut(): void {
    const buffered = this.transport.bufferedAmount();
    if (buffered <= this.watchOver) return;
    if (buffered > this.settings.maxBufferedAmount && this.is(OUT_PAUSED)) {
      this.overflow('outbound', buffered);
    } else if (!this.is(OUT_PAUSED)) {
      this.bits |= OUT_PAUSED;
      drainPoll.add(this);
      if (!this.is(USER_PAUSED | FLOW_PAUSED)) this.transport.pause();
    }
  }

  /**
   * Past `maxBufferedAmount`: reports, and closes with 1008 after what is already
   * written (frames not yet written are dropped). The process exits with
   * `{ shutdown: 'backpressure' }`; `terminate` sees `{ error: 'backpressure' }`.
   */
  private overflow(held: 'outbound' | 'inbound', bytes: number): void {
    if (this.out !== null) this.out.length = 0;
    this.outBytes = 0;
    report({ kind: 'backpressure', pid: this.pid, server: this.meta.server, held, bytes, limit: this.settings.maxBufferedAmount, code: CloseCode.POLICY_VIOLATION });
    this.refusal = { code: CloseCode.POLICY_VIOLATION, why: 'backpressure' };
    kill(this.proc, { shutdown: 'backpressure' });
  }

  /**
   * Ends the connection in order: terminate once, then the process exits. The close
   * frame (if any) has been sent by the caller.
   */
  private finish(reason: CloseReason, closeInfo: CloseInfo, exitReason: ExitReason): unknown {
    this.bits |= DONE;
    this.clearIdle();
    drainPoll.delete(this);
    this.publishStop(reason);
    const finalReason = this.shutdownReason ?? exitReason;
    const terminate = this.handler.terminate;
    if (terminate !== undefined) {
      const t = terminate.call(this.handler, reason, this.state, closeInfo);
      if (t !== null && typeof t === 'object' && typeof (t as PromiseLike<unknown>).then === 'function') {
        return (t as PromiseLike<unknown>).then(() => kill(this.proc, finalReason));
      }
    }
    // Ended in order: the process goes now (not by throwing, as exit(reason) would).
    kill(this.proc, finalReason);
    return undefined;
  }

  /**
   * ProcOwner (runtime-facing, not for applications): any exit that did not go
   * through `finish` (a crash, a kill, a linked process's exit signal).
   *
   * A killed process runs no more code, as on the BEAM: no `terminate`, and the
   * socket is cut without a close frame (the peer sees 1006), whether
   * `exit(pid, 'kill')`, `maxHeapSize` or a supervisor's shutdown timeout killed
   * it. A connection refused over `maxConnections` is the exception: it is
   * killed by its own server, which still owes the peer its close code.
   */
  exited(reason: ExitReason): void {
    if (this.is(DONE)) return;
    this.bits |= DONE;
    this.clearIdle();
    drainPoll.delete(this);
    this.held = null;
    if (reason === 'killed' && this.refusal === undefined) {
      this.transport.abort();
      this.publishStop({ error: 'killed' });
      return;
    }
    let code = 1011;
    let terminateReason: CloseReason;
    if (this.refusal !== undefined) {
      code = this.refusal.code;
      terminateReason = { error: this.refusal.why };
    } else if (reason === 'shutdown' || isShutdownReason(reason)) {
      code = 1001;
      terminateReason = 'shutdown';
    } else if (typeof reason === 'object' && reason !== null && 'error' in reason) {
      terminateReason = reason as { error: unknown };
      publishCrash(this.pid, this.meta, reason);
    } else {
      terminateReason = { error: reason };
    }
    try {
      this.flush();
    } catch {
      // The socket may already be gone; the close below reports nothing either way.
    }
    this.transport.close(code, '');
    this.publishStop(terminateReason);
    const terminate = this.handler.terminate;
    // Without a finished init there is no state to terminate with.
    if (terminate !== undefined && this.is(STARTED)) {
      try {
        const t = terminate.call(this.handler, terminateReason, this.state, info(undefined, undefined, code));
        if (t !== null && typeof t === 'object' && typeof (t as PromiseLike<unknown>).then === 'function') {
          (t as PromiseLike<unknown>).then(undefined, () => undefined);
        }
      } catch {
        // terminate of a process that is already dead: nothing left to tell.
      }
    }
  }

  private publishStop(reason: CloseReason): void {
    publishStop(this.pid, this.meta, reason, performance.now() - this.startedAt, this.stats);
  }

  /** ProcOwner (runtime-facing, not for applications): flushes what the slice pushed. */
  sliceEnd(): void {
    this.flush();
  }

  /** ProcOwner (runtime-facing, not for applications): frames pushed earlier in this slice still go out; only the buffer's capacity is released. */
  hibernated(): void {
    this.flush();
    this.out = null;
  }

  /** @internal one tick of the idle wheel: true when it makes the connection time out (see `idleOut`). */
  idleTick(wheel: IdleWheel): boolean {
    if (!wheel.expired(++this.idleTicks) || this.is(IDLE_QUEUED)) return false;
    this.bits |= IDLE_QUEUED;
    return true;
  }

  /** @internal the idle wheel lets the timeout out: it goes through the mailbox, in order, and is checked again there. */
  idleOut(): void {
    this.deliver(new SocketEvent(IDLE, null, 0));
  }

  private armIdle(): void {
    this.clearIdle();
    this.idleTicks = 0;
    if (this.timeout === 0 || !Number.isFinite(this.timeout)) return;
    this.idleWheel = IdleWheel.for(this.timeout);
    this.idleWheel.add(this as Connection<unknown>);
  }

  private clearIdle(): void {
    if (this.idleWheel !== undefined) {
      this.idleWheel.delete(this as Connection<unknown>);
      this.idleWheel = undefined;
    }
  }

  /** ProcOwner (runtime-facing, not for applications): the supervisor, for processInfo's parent. */
  parent(): Pid | undefined {
    return this.supervisor;
  }

  /** ProcOwner (runtime-facing, not for applications): the `fullsweepAfter` option, for processInfo and `flag`. */
  fullsweepAfter(): number | undefined {
    return this.settings.fullsweepAfter;
  }

  /** ProcOwner (runtime-facing, not for applications): what processInfo shows as details. */
  describe(): Record<string, unknown> {
    return {
      handler: this.meta.handlerName,
      server: this.meta.server,
      remoteAddress: this.meta.remoteAddress,
      path: this.meta.path,
      protocol: this.meta.protocol,
      compress: this.transport.compressed,
      bufferedAmount: this.transport.bufferedAmount(),
      paused: this.is(PAUSED),
      timeout: this.timeout,
    };
  }
}

const ONE: Outbound[] = [undefined as unknown as Outbound];

/**
 * What a connection is spawned with when it has no heap limit: one object for
 * every connection. `fullsweepAfter` is never among them: the connection answers
 * for it (see `fullsweepAfter()`), so that its process needs no extras for it.
 */
const CONNECTION_SPAWN: SpawnOptions = Object.freeze({ kind: 'connection', trapExit: true });

function spawnOptions(settings: ConnectionSettings): SpawnOptions {
  return settings.maxHeapSize === undefined ? CONNECTION_SPAWN : { ...CONNECTION_SPAWN, maxHeapSize: settings.maxHeapSize };
}

/** A frame's payload size for the mid-slice flush: string length for text (no UTF-8 count on the hot path). */
function payloadLength(f: Frame): number {
  const data = f[1];
  return data === null ? 0 : typeof data === 'string' ? data.length : data.byteLength;
}

function info(remoteCode: number | undefined, remoteReason: string | undefined, sentCode: number | undefined): CloseInfo {
  return { remoteCode, remoteReason, sentCode };
}

function checkFrame(f: Frame): Frame {
  if (!Array.isArray(f) || f.length !== 2) throw new TypeError(`a frame must be [opcode, data], got ${describeValue(f)}`);
  const [opcode, data] = f;
  if (opcode !== 'text' && opcode !== 'binary' && opcode !== 'ping' && opcode !== 'pong') {
    throw new TypeError(`frame opcode must be 'text', 'binary', 'ping' or 'pong', got ${describeValue(opcode)}`);
  }
  if (data !== null && typeof data !== 'string' && !(data instanceof Uint8Array)) {
    throw new TypeError(`frame payload must be a string, a Uint8Array or null, got ${describeValue(data)}`);
  }
  return f;
}

function invalidResult(callback: string, r: unknown): TypeError {
  return new TypeError(`${callback} returned ${describeValue(r)}: expected push(), reply(), ok() or stop() from beamsock`);
}

function describeValue(v: unknown): string {
  try {
    return typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    return String(v);
  }
}

