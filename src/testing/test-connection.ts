/**
 * `startHandler`: a WebSock handler run in a real connection process with no
 * network, the way Phoenix's ChannelTest runs a channel without a socket. The
 * test is the peer: it pushes frames in, sends the process messages, and asserts
 * on the frames pushed out, the close and what `terminate` received.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Pid } from '../runtime/pid.js';
import { exit, isAlive, send, watch } from '../runtime/process.js';
import { formatReason, type ExitReason } from '../runtime/reasons.js';
import type { CloseInfo, CloseReason, WebSock } from '../websock/behaviour.js';
import { validateCloseDetail } from '../websock/close-codes.js';
import { Connection, connectionSettings } from '../websock/connection.js';
import { normalizeOptions, type ConnectionOptions, type ResolvedOptions } from '../websock/options.js';
import { handlerName } from '../websock/serving.js';
import { describeValue } from '../websock/upgrade-validation.js';
import {
  assertClose,
  CallSite,
  DEFAULT_ASSERT_TIMEOUT,
  FrameLog,
  formatList,
  formatPredicate,
  Signal,
  timeoutOf,
  waitFor,
  type FrameMatch,
  type WaitOptions,
  type WireFrame,
} from './frames.js';
import { MemoryTransport, describeClosed, type ClosedInfo } from './memory-transport.js';

/**
 * What `terminate` received.
 *
 * @example
 * const t = await conn.assertTerminated('remote');
 * t.info.remoteCode; // 1001
 */
export interface Termination<S> {
  readonly reason: CloseReason;
  readonly state: S;
  readonly info: CloseInfo;
}

/**
 * What `assertClosed` expects; each given key must match.
 *
 * @example
 * await conn.assertClosed({ code: 4000, reason: 'bye', by: 'server' });
 */
export type ExpectedClose = Partial<ClosedInfo>;


/** Control frames carry at most 125 bytes (RFC 6455 §5.5). */
function controlPayload(method: string, data: string | Uint8Array | undefined): Buffer {
  const bytes = data === undefined ? Buffer.alloc(0) : typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
  if (bytes.length > 125) throw new RangeError(`${method}: payload is ${bytes.length} bytes; a control frame carries at most 125 (RFC 6455 §5.5)`);
  return bytes;
}

/**
 * One handler running in a connection process whose peer is the test. Create it
 * with `startHandler`. Frames the handler pushes are recorded in `frames`; the
 * assertions wait for them. Peer actions (`pushText`, `ping`, `peerClose`...)
 * throw once the connection is closed, since a peer could send nothing more.
 */
export class TestConnection<S = unknown, I = unknown> {
  /** The connection's process: `send` to it, link or monitor it. */
  readonly pid: Pid;
  private readonly signal = new Signal();
  private readonly log: FrameLog;
  private readonly socket: MemoryTransport;
  private readonly shutdownTimeout: number;
  private termination: Termination<S> | undefined;
  private exitedWith: ExitReason | undefined;

  /** @internal use `startHandler`. */
  constructor(handler: WebSock<S, unknown, I>, args: unknown, o: ResolvedOptions) {
    this.log = new FrameLog('pushed', () => this.describeState(), this.signal);
    this.socket = new MemoryTransport(this.log, o.compress, o.maxFrameSize, o.validateUtf8);
    this.shutdownTimeout = o.shutdownTimeout;
    const conn = new Connection(
      this.observe(handler) as WebSock<unknown>,
      args,
      this.socket,
      connectionSettings(o),
      { handlerName: handlerName(handler), remoteAddress: undefined, path: undefined, protocol: undefined, server: 'testing' },
    );
    this.socket.attach(conn);
    this.pid = conn.pid;
    // init is queued, not run yet: the process cannot have ended before this watch.
    watch(this.pid, (_pid, reason) => {
      this.exitedWith = reason;
      this.signal.notify();
    });
  }

  /**
   * Every frame the handler pushed so far, in order, as the peer received them
   * (including the automatic pong to each `ping`), asserted or not.
   */
  get frames(): readonly WireFrame[] {
    return this.log.frames;
  }

  /** How the connection closed, or undefined while it is open. */
  get closed(): ClosedInfo | undefined {
    return this.socket.closed;
  }

  /** What `terminate` received, or undefined until it ran. */
  get terminated(): Termination<S> | undefined {
    return this.termination;
  }

  /** The connection process's exit reason, or undefined while it runs. */
  get exitReason(): ExitReason | undefined {
    return this.exitedWith;
  }

  /** True while the connection has stopped reading (flow control or `setActive(false)`); frames pushed meanwhile wait. */
  get paused(): boolean {
    return this.socket.paused;
  }

  // The peer ------------------------------------------------------------------------

  /**
   * The peer sends a text message. Bytes are sent as they are, so a test can send
   * invalid UTF-8 (closed with 1007 unless `validateUtf8: false`). A message over
   * `maxFrameSize` closes with 1009, as on a real server.
   *
   * @throws Error once the connection is closed or the peer has closed it.
   */
  pushText(data: string | Uint8Array): void {
    this.peer('pushText');
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw new TypeError(`pushText(data) takes a string or a Uint8Array, got ${describeValue(data)}`);
    this.socket.text(data);
  }

  /**
   * The peer sends a binary message (copied, so the test may reuse its buffer).
   *
   * @throws Error once the connection is closed or the peer has closed it.
   */
  pushBinary(data: Uint8Array): void {
    this.peer('pushBinary');
    if (!(data instanceof Uint8Array)) throw new TypeError(`pushBinary(data) takes a Uint8Array, got ${describeValue(data)}`);
    this.socket.binary(data);
  }

  /**
   * The peer sends a ping. As on a real server, the pong goes out at once (it
   * appears in `frames`) and then `handleControl` runs.
   *
   * @throws RangeError for a payload over 125 bytes; Error once the connection is closed.
   */
  ping(data?: string | Uint8Array): void {
    this.peer('ping');
    this.socket.ping(controlPayload('ping', data));
  }

  /**
   * The peer sends an unsolicited pong; `handleControl` runs.
   *
   * @throws RangeError for a payload over 125 bytes; Error once the connection is closed.
   */
  pong(data?: string | Uint8Array): void {
    this.peer('pong');
    this.socket.pong(controlPayload('pong', data));
  }

  /**
   * The peer closes with a close frame: `code` and `reason`, or no code at all
   * (the handler's terminate then sees `remoteCode` 1005). The server echoes it,
   * and `terminate` gets `'remote'`.
   *
   * @throws RangeError for a code a peer may not send (as `validateCloseDetail`);
   *   TypeError for a reason without a code; Error once the connection is closed.
   */
  peerClose(code?: number, reason?: string): void {
    this.peer('peerClose');
    if (code === undefined && reason !== undefined) throw new TypeError('peerClose(code, reason): a reason needs a code; a close frame without a code has no reason');
    if (code !== undefined) validateCloseDetail(code, reason);
    this.socket.peerClose(code, reason ?? '');
  }

  /**
   * The TCP connection drops without a close frame; `terminate` gets
   * `{ error: 'closed' }`. Frames the connection had not read yet are lost.
   *
   * @throws Error once the connection is closed.
   */
  drop(): void {
    this.peer('drop');
    this.socket.drop();
  }

  /** Sends `message` to the connection process; `handleInfo` gets it. Never throws. */
  send(message: I): void {
    send(this.pid, message);
  }

  /**
   * The server shuts down: an exit signal `'shutdown'`, so the connection closes
   * with 1001 and `terminate` gets `'shutdown'`. Does nothing once the process has ended.
   */
  shutdown(): void {
    if (isAlive(this.pid)) exit(this.pid, 'shutdown');
  }

  // Assertions ----------------------------------------------------------------------

  /**
   * Waits for a pushed frame that matches and takes it, like Phoenix's
   * `assert_push`: frames pushed before it that do not match stay for later
   * assertions. Fails at once when the connection closes without one.
   *
   * @returns the frame.
   * @throws AssertionError (rejects) naming the frames pushed and not yet
   *   asserted, after `timeout` ms (default `DEFAULT_ASSERT_TIMEOUT`); TypeError for a
   *   `match` that is neither a frame nor a predicate.
   * @example
   * conn.pushText('hi');
   * await conn.assertPush(['text', 'Echo: hi']);
   */
  assertPush(match: FrameMatch, opts?: WaitOptions): Promise<WireFrame> {
    return this.log.assert(match, opts, new CallSite(this.assertPush), 'assertPush');
  }

  /**
   * Passes when no frame matching `match` (any frame, when undefined) that an
   * assertion has not taken is pushed within `timeout` ms (default
   * `DEFAULT_REFUTE_TIMEOUT`), like `refute_push`. Always waits the whole time
   * unless the connection closes.
   *
   * @throws AssertionError (rejects) naming the frame, as soon as one is there.
   * @example
   * conn.send('ignored');
   * await conn.refutePush();
   */
  refutePush(match?: FrameMatch, opts?: WaitOptions): Promise<void> {
    return this.log.refute(match, opts, new CallSite(this.refutePush), 'refutePush');
  }

  /**
   * Waits for the oldest pushed frame no assertion has taken yet, and takes it.
   *
   * @returns the frame.
   * @throws AssertionError (rejects) after `timeout` ms or once the connection closes without one.
   * @example
   * const [opcode, data] = await conn.nextFrame();
   */
  nextFrame(opts?: WaitOptions): Promise<WireFrame> {
    return this.log.next(opts, new CallSite(this.nextFrame), 'nextFrame');
  }

  /**
   * Waits for the connection to close and checks how.
   *
   * @returns how it closed.
   * @throws AssertionError (rejects) when it closed otherwise (at once) or is
   *   still open after `timeout` ms.
   * @example
   * conn.pushText('bye');
   * await conn.assertClosed({ code: 1000 });
   */
  assertClosed(expected: ExpectedClose = {}, opts?: WaitOptions): Promise<ClosedInfo> {
    return assertClose(() => this.socket.closed, this.signal, expected, opts, new CallSite(this.assertClosed), {
      open: () => `Pushed and not yet asserted: ${formatList(this.log.untaken())}`,
      closedAs: (closed) => describeClosed(closed) + this.terminateLine(),
    });
  }

  /**
   * Waits for `terminate` to run and checks its reason: deep-equal to `expected`
   * (`'normal'`, `'remote'`, `'shutdown'`, `'timeout'`, `{ error: ... }`), or
   * accepted by a predicate.
   *
   * @returns what terminate received (reason, last state, close info).
   * @throws AssertionError (rejects) when terminate got another reason, or had
   *   not run within `timeout` ms.
   * @example
   * conn.peerClose(1001);
   * const t = await conn.assertTerminated('remote');
   * t.info.remoteCode; // 1001
   */
  async assertTerminated(expected: CloseReason | ((reason: CloseReason) => boolean), opts?: WaitOptions): Promise<Termination<S>> {
    const site = new CallSite(this.assertTerminated);
    const ms = timeoutOf(opts, DEFAULT_ASSERT_TIMEOUT, 'assertTerminated');
    const want = typeof expected === 'function' ? `a reason satisfying ${formatPredicate(expected)}` : formatReason(expected);
    const t = await waitFor(
      () => this.termination,
      this.signal,
      ms,
      () => {
        throw site.fail(`assertTerminated: expected terminate(${want}) within ${ms} ms, but terminate has not run (${this.describeState()}).`);
      },
    );
    const ok = typeof expected === 'function' ? expected(t.reason) : isDeepStrictEqual(t.reason, expected);
    if (!ok) {
      throw site.fail(`assertTerminated: expected terminate(${want}), but terminate got ${formatReason(t.reason)}`, {
        actual: t.reason,
        expected,
        operator: 'assertTerminated',
      });
    }
    return t;
  }

  /**
   * Shuts the connection down (as `shutdown`) and waits for its process to end,
   * killing it after the `shutdownTimeout` option if `terminate` hangs.
   *
   * @example
   * await using conn = startHandler(EchoServer, {});
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.shutdown();
    await waitFor(
      () => this.exitedWith,
      this.signal,
      this.shutdownTimeout === Infinity ? 2 ** 31 - 1 : this.shutdownTimeout,
      () => {
        exit(this.pid, 'kill');
        return 'killed';
      },
    );
  }

  // Internals -----------------------------------------------------------------------

  /** The handler, with `terminate` recording what it receives; every callback runs with the handler as `this`. */
  private observe(handler: WebSock<S, unknown, I>): WebSock<S, unknown, I> {
    const observed: WebSock<S, unknown, I> = {
      init: (args) => handler.init(args),
      handleIn: (frame, state) => handler.handleIn(frame, state),
      handleInfo: (message, state) => handler.handleInfo(message, state),
      terminate: (reason, state, info) => {
        this.termination = { reason, state, info };
        this.signal.notify();
        return handler.terminate?.(reason, state, info);
      },
    };
    const handleControl = handler.handleControl;
    if (handleControl !== undefined) observed.handleControl = (frame, state) => handleControl.call(handler, frame, state);
    return observed;
  }

  private peer(method: string): void {
    const closed = this.socket.closed;
    if (closed !== undefined) throw new Error(`${method}: the connection is closed (${describeClosed(closed)}); the peer can send nothing more`);
    if (this.socket.peerDone) throw new Error(`${method}: the peer has already closed the connection; it can send nothing more`);
  }

  private describeState(): string {
    const closed = this.socket.closed;
    return (closed === undefined ? 'the connection is still open' : `the connection is closed: ${describeClosed(closed)}`) + this.terminateLine();
  }

  private terminateLine(): string {
    return this.termination === undefined ? '' : `; terminate got ${formatReason(this.termination.reason)}`;
  }

}

/**
 * Starts `handler` in a connection process with the test as its peer: `init`
 * gets `args`, then the test pushes frames in and asserts on what comes out.
 * Options mean what they mean on the ws adapter where a handler can tell
 * (`timeout`, `maxFrameSize`, `validateUtf8`, `activeN`, `maxHeapSize`,
 * `fullsweepAfter`, `compress` as if the client accepted it, `shutdownTimeout`
 * for disposal); the upgrade-only ones (`checkOrigin`, `subprotocols`, `headers`,
 * `earlyValidateUpgrade`, `deflateOptions`) are checked and have nothing to act on.
 *
 * @returns the running connection; `init` runs before anything the test pushes.
 * @throws TypeError for invalid options, naming the option and the bad value.
 * @example
 * const conn = startHandler(EchoServer, {});
 * conn.pushText('hi');
 * await conn.assertPush(['text', 'Echo: hi']);
 * conn.peerClose(1000);
 * await conn.assertTerminated('remote');
 */
export function startHandler<S, A, I>(handler: WebSock<S, A, I>, args: A, opts?: ConnectionOptions): TestConnection<S, I> {
  if (typeof handler !== 'object' || handler === null || typeof handler.init !== 'function') {
    throw new TypeError(`startHandler(handler, args) needs a WebSock handler with init, handleIn and handleInfo, got ${describeValue(handler)}`);
  }
  return new TestConnection<S, I>(handler as WebSock<S, unknown, I>, args, normalizeOptions(opts, 'startHandler options'));
}
