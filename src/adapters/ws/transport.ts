/**
 * Both directions of one `ws` WebSocket: the `Transport` a connection writes
 * through, and `bindSocket`, which delivers the socket's events to the connection
 * (see `websock/transport.ts` for the contract).
 *
 * Writes are batched: the connection hands over every frame its process pushed
 * in one scheduler slice, and they go out under one cork of the TCP socket, so
 * sixteen echoes cost one `writev` instead of sixteen writes.
 *
 * Only `ws`'s public API is used: the WebSocket's methods and the socket the
 * upgrade request came on (the one `ws` reads and writes), never a member of
 * `ws` whose name starts with `_` (a test greps for it), so that a minor `ws`
 * release cannot break the adapter. One exception, which cannot break anything
 * either: `quietReceiver` reads `_receiver` to spare two of the three `Error`s ws
 * builds and throws away at every clean close; without the field, nothing changes.
 *
 * ws answers a close frame, and fails a protocol error, the moment it parses
 * one, which would put the close frame before the replies to messages read just
 * before it (the connection's process has not run yet). So ws makes beamsock's
 * WebSockets as `BoundWebSocket`s (ws's `WebSocket` option), whose `close` is
 * `deferClose`: when ws calls it for the peer's close frame or a protocol error,
 * the answer is kept until the connection has handled what came before and calls
 * `close` itself; the peer then gets those replies first, as from a handler run
 * frame by frame (Bandit, Cowboy). If a ws release stopped calling `close` there,
 * ws would simply answer at once again, as before; with nothing left to handle,
 * ws answers at once anyway.
 *
 * An idle connection holds what it needs and no more: the transport is also the
 * connection's meta, the WebSocket and the TCP socket each carry one reference
 * to it, and every listener is a shared module function.
 */
import { performance } from 'node:perf_hooks';
import { Writable, type Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import type { Frame } from '../../websock/behaviour.js';
import type { Connection } from '../../websock/connection.js';
import type { Serving } from '../../websock/serving.js';
import { Outbound, type ConnectionMeta, type Transport } from '../../websock/transport.js';

const EMPTY = Buffer.alloc(0);
/** Bytes of a binary payload copied into a frame of its own; a larger one goes through ws, header and payload apart. */
const COPY_LIMIT = 16 * 1024;

/** The socket of an upgrade request: a `net.Socket` (or a TLS one) on `node:http`. */
export type UpgradeSocket = Duplex & { readonly remoteAddress?: string };

/** ws's own `close`, which the adapter calls (a `BoundWebSocket`'s `close` is `deferClose`). */
const wsClose = WebSocket.prototype.close;

/**
 * The WebSocket ws makes for a beamsock connection (ws's `WebSocket` option): it
 * finds its transport in a field of its own, and ws's calls to its `close` for a
 * peer's close frame or a protocol error wait for the connection (`deferClose`).
 *
 * @example
 * new WebSocketServer({ noServer: true, WebSocket: BoundWebSocket });
 */
export class BoundWebSocket extends WebSocket {
  /** Set by `bindSocket`, as ws hands the upgraded WebSocket over. */
  transport: WsTransport | undefined = undefined;

  override close(code?: number, reason?: string | Buffer): void {
    this.transport?.quietEnds();
    deferClose(this, code, reason);
  }
}

/** The close ws wanted to send (the echo of the peer's, or a protocol error's), kept until the connection asks for it. */
interface DeferredClose {
  readonly code: number | undefined;
  readonly reason: string | Buffer | undefined;
  /** ws reported a protocol error with it (so the connection hears of that, not of a peer close). */
  error: boolean;
}

/** ws's text for a message over the limit, and its error code, for a limit ws cannot be told of. */
const TOO_BIG = 'Max payload size exceeded';

/** A client's control frame on the wire beside its payload: 2 header bytes and a 4-byte mask (payloads are at most 125 bytes). */
const CONTROL_OVERHEAD = 6;

/**
 * One `ws` WebSocket as a connection's `Transport`, and its `ConnectionMeta`
 * (one object per connection instead of two: the meta reads what it shows from
 * the socket and the serving core, when asked).
 *
 * @example
 * const transport = new WsTransport(ws, socket, serving, req.url);
 * bindSocket(ws, socket, transport, serving.start(transport, transport, args));
 */
export class WsTransport implements Transport, ConnectionMeta {
  readonly compressed: boolean;
  readonly protocol: string | undefined;
  /** The connection, from `bindSocket` on. */
  conn: Connection<unknown> = undefined as unknown as Connection<unknown>;
  /**
   * A `maxFrameSize` lowered at run time under the one ws was started with (ws
   * fixes its limit per socket at the upgrade), checked here on each whole
   * message; 0 when none.
   */
  lowered = 0;
  /** ws's answer to the peer's close frame or to a protocol error, until the connection has handled what came before. */
  deferred: DeferredClose | undefined = undefined;
  /**
   * Bytes read since the last whole data message, less the control frames among
   * them: above 0, a message is unfinished. ws shows no fragment, so this is
   * counted from the socket's reads (see `onSocketData`).
   */
  unfinished = 0;
  /** When the first read that found a message unfinished came (performance.now()), 0 when none is. */
  unfinishedSince = 0;

  /** The `maxMessageTime` option, ms (Infinity for none; set so once it has closed the connection). */
  maxMessageTime: number;

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: UpgradeSocket,
    readonly serving: Serving<unknown, unknown>,
    readonly path: string | undefined,
  ) {
    this.compressed = ws.extensions.includes('permessage-deflate');
    this.protocol = ws.protocol === '' ? undefined : ws.protocol;
    this.maxMessageTime = serving.options.maxMessageTime;
  }

  /** @internal the frame parser's and the socket's `end` become `quietEnd` (see `quietReceiver`). */
  quietEnds(): void {
    quietReceiver(this.ws);
    (this.socket as Writable).end = quietEnd as Writable['end'];
  }

  // ConnectionMeta: read when asked, not kept per connection.

  get handlerName(): string {
    return this.serving.handlerName;
  }

  get server(): string {
    return 'ws';
  }

  /** Read from the socket when asked (that costs a syscall). */
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  /** The limit ws enforces on this socket, the server's (Infinity for none): a connection may only lower it. */
  private get wsMaxFrame(): number {
    return this.serving.options.maxFrameSize;
  }

  write(frames: readonly (Frame | Outbound)[], compress: boolean): void {
    const ws = this.ws;
    if (ws.readyState !== 1) return;
    const socket = this.socket;
    const corked = frames.length > 1;
    if (corked) socket.cork();
    const opts = compress && this.compressed ? COMPRESSED : PLAIN;
    for (let i = 0; i < frames.length; i++) {
      const item = frames[i] as Frame | Outbound;
      // Without compression ws writes synchronously, so a frame encoded here and written
      // straight to the socket keeps its place; a compressing sender may queue, so it sends.
      // One buffer and one write per frame costs less than ws's header and payload written
      // as two (a writev), and a broadcast frame is encoded once for every socket.
      // (Pings and pongs go through ws, which limits their size.)
      if (!this.compressed) {
        if (item instanceof Outbound) {
          socket.write((item.encoded ??= encodeFrame(item.frame)) as Buffer);
          continue;
        }
        const data = item[1];
        // A large binary payload is cheaper written beside its header than copied behind it.
        if ((item[0] === 'text' || item[0] === 'binary') && (typeof data === 'string' || data === null || data.byteLength <= COPY_LIMIT)) {
          socket.write(encodeFrame(item));
          continue;
        }
      }
      const [opcode, data] = item instanceof Outbound ? item.frame : item;
      switch (opcode) {
        case 'text':
          ws.send(data ?? '', opts.text);
          break;
        case 'binary':
          ws.send(data ?? EMPTY, opts.binary);
          break;
        case 'ping':
          ws.ping(data ?? EMPTY);
          break;
        case 'pong':
          ws.pong(data ?? EMPTY);
          break;
      }
    }
    if (corked) socket.uncork();
  }

  close(code: number, reason: string | Uint8Array): void {
    const ws = this.ws;
    const deferred = this.deferred;
    if (deferred !== undefined) {
      // ws's own answer, as it would have sent it at once (no code for a close frame that had none).
      this.deferred = undefined;
      wsClose.call(ws, deferred.code, deferred.reason);
    } else if (ws.readyState === 2 || ws.readyState === 3) {
      return;
    } else {
      wsClose.call(ws, code, typeof reason === 'string' ? reason : Buffer.from(reason.buffer, reason.byteOffset, reason.byteLength));
    }
    // Whatever paused the socket (backpressure, activeN, setActive), the peer's answer to the
    // close frame must be read, or ws waits its 30 s close timeout before letting go.
    ws.resume();
  }

  abort(): void {
    this.ws.terminate();
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /**
   * ws fixes its `maxPayload` per socket at the upgrade, so a lower limit is
   * checked here on each whole message (ws has buffered it by then, up to its
   * own limit); a higher one cannot be granted.
   */
  setMaxFrameSize(bytes: number): void {
    const limit = bytes === 0 ? Infinity : bytes;
    if (limit > this.wsMaxFrame) {
      throw new RangeError(
        `maxFrameSize ${bytes === 0 ? '0 (no limit)' : bytes} is over this connection's maxFrameSize of ${this.wsMaxFrame}: ` +
          `ws fixes the limit when the connection opens, so a connection can only lower it; upgrade with the largest limit it may need`,
      );
    }
    this.lowered = limit === this.wsMaxFrame ? 0 : limit;
  }

  /**
   * A message unfinished past `maxMessageTime`: closes with 1008 and tells the
   * connection; the counting stops, so this happens once.
   */
  tooSlow(conn: Connection<unknown>): void {
    const limit = this.maxMessageTime;
    this.maxMessageTime = Infinity;
    this.close(1008, 'message took too long');
    conn.protocolError(Object.assign(new Error(`message not complete within maxMessageTime (${limit} ms)`), { code: 'BEAMSOCK_MESSAGE_TIMEOUT' }), 1008);
  }

  /** A message over a lowered `maxFrameSize`: closes with 1009 as ws would, and tells the connection. */
  tooBig(conn: Connection<unknown>): void {
    this.close(1009, '');
    conn.protocolError(Object.assign(new RangeError(TOO_BIG), { code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' }), 1009);
  }
}

/**
 * One unmasked, unfragmented server frame (RFC 6455 §5.2), header and payload in one buffer.
 *
 * @example
 * socket.write(encodeFrame(['text', 'hi'])); // <Buffer 81 02 68 69>
 */
export function encodeFrame([opcode, data]: Frame): Buffer {
  // A string is encoded once, straight into the frame.
  const payload = data === null ? EMPTY : typeof data === 'string' ? undefined : data;
  const len = payload === undefined ? Buffer.byteLength(data as string) : payload.byteLength;
  const headerLen = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(headerLen + len);
  out[0] = 0x80 | (opcode === 'text' ? 1 : opcode === 'binary' ? 2 : opcode === 'ping' ? 9 : 10);
  if (len < 126) {
    out[1] = len;
  } else if (len < 65536) {
    out[1] = 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    out.writeUInt32BE(len >>> 0, 6);
  }
  if (payload === undefined) out.write(data as string, headerLen, len, 'utf8');
  else out.set(payload, headerLen);
  return out;
}

const PLAIN = {
  text: { binary: false, compress: false },
  binary: { binary: true, compress: false },
} as const;
const COMPRESSED = {
  text: { binary: false, compress: true },
  binary: { binary: true, compress: true },
} as const;

const kTransport = Symbol('beamsock.transport');
type BoundSocket = UpgradeSocket & { [kTransport]: WsTransport };

/**
 * Delivers the events of `ws` and of its `socket` to `conn`, and tells the
 * transport's serving core when the socket is gone. The listeners are shared
 * module functions (called with `this` = the emitter), so a connection costs no
 * closures.
 *
 * @example
 * const transport = new WsTransport(ws, socket, serving, req.url);
 * bindSocket(ws, socket, transport, serving.start(transport, transport, args));
 */
export function bindSocket(ws: BoundWebSocket, socket: UpgradeSocket, transport: WsTransport, conn: Connection<unknown>): void {
  transport.conn = conn;
  ws.transport = transport;
  ws.on('message', onMessage);
  ws.on('ping', onPing);
  ws.on('pong', onPong);
  ws.on('close', onClose);
  ws.on('error', onError);
  (socket as BoundSocket)[kTransport] = transport;
  // Every read, a whole message or a piece of one, keeps the connection from idling out.
  // Before ws parses the read, so that the messages it completes are counted after it (see onSocketData).
  socket.prependListener('data', onSocketData);
  // A connection paused at its high-water mark reads again on 'drain' (the socket's buffer emptied).
  const o = transport.serving.options;
  if (o.maxHeapSize.size !== 0 || o.highWaterMark !== Infinity) socket.on('drain', onSocketDrain);
}

/**
 * After a clean closing handshake ws ends its frame parser again on the socket's
 * 'end' and 'close' (`socketOnEnd`, `socketOnClose`), and the socket itself again
 * on 'end', though the parser has finished and been destroyed and the socket's
 * writing side has finished. Node's `end` then builds an `ERR_STREAM_DESTROYED`
 * or `ERR_STREAM_ALREADY_FINISHED` with its stack trace and, given no callback,
 * drops it: three errors per connection, about a sixth of the instructions an
 * upgrade costs bare `ws` (see the README's Benchmarks). Once a close frame has
 * come (ws then calls `close`, see `BoundWebSocket`), the parser's and the
 * socket's `end` become `quietEnd`, which skips that call and nothing else; an
 * idle connection never pays for it. Behind a ws release without `_receiver`, or
 * without the second calls, this does nothing.
 */
function quietReceiver(ws: WebSocket): void {
  const receiver = (ws as unknown as { readonly _receiver?: unknown })._receiver;
  if (receiver instanceof Writable) receiver.end = quietEnd as Writable['end'];
}

/** Its prototype's `end`, but a call with no arguments on a stream already finished or destroyed returns at once, as that would after building its error. */
function quietEnd(this: Writable, ...args: unknown[]): Writable {
  if (args.length === 0 && (this.writableFinished || this.destroyed)) return this;
  return (Object.getPrototypeOf(this) as { end: (...a: unknown[]) => Writable }).end.apply(this, args);
}

/**
 * A `BoundWebSocket`'s `close`, which ws calls itself to answer the peer's close frame
 * or a protocol error: the answer waits for the connection (see the file's doc).
 * The connection hears of a peer close from here, in order after the messages
 * before it; a protocol error's 'error' event follows this call at once, so the
 * peer close is told on a microtask, once it is known not to be an error.
 */
function deferClose(ws: BoundWebSocket, code?: number, reason?: string | Buffer): void {
  const transport = ws.transport;
  // With nothing left to handle, nothing can come before the answer: ws sends it at once, as usual.
  if (transport === undefined || ws.readyState !== 1 || transport.deferred !== undefined || !transport.conn.working()) {
    wsClose.call(ws, code, reason);
    return;
  }
  const deferred: DeferredClose = { code, reason, error: false };
  transport.deferred = deferred;
  queueMicrotask(() => {
    if (!deferred.error) transport.conn.closed(true, code ?? 1005, reason === undefined ? '' : reason.toString());
  });
}

/**
 * A socket read, before ws parses it. It counts towards the unfinished message
 * (`unfinished`), which the whole messages and control frames ws then finds in it
 * take off again: bytes left over mean a message has begun and not ended. A read
 * that finds one already unfinished starts its clock, and a later read past
 * `maxMessageTime` closes. So a message is timed from its second read (a read
 * that ends one message and begins the next is not counted for the next), and
 * the check runs only on reads of unfinished messages: a trickle is cut at its
 * first read past the limit, and a peer that stops sending meets the idle timeout.
 */
function onSocketData(this: BoundSocket, chunk: Buffer): void {
  const transport = this[kTransport];
  if (transport.unfinished > 0 && transport.maxMessageTime !== Infinity) {
    const now = performance.now();
    if (transport.unfinishedSince === 0) transport.unfinishedSince = now;
    else if (now - transport.unfinishedSince > transport.maxMessageTime) return transport.tooSlow(transport.conn);
  }
  transport.unfinished += chunk.length;
  transport.conn.bytesArrived();
}
function onSocketDrain(this: BoundSocket): void {
  this[kTransport].conn.drained();
}
function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  const transport = (this as BoundWebSocket).transport as WsTransport;
  // A whole message: nothing is unfinished (bytes of the next one in the same read are counted from the next read).
  transport.unfinished = 0;
  transport.unfinishedSince = 0;
  const lowered = transport.lowered;
  if (lowered !== 0 && data.length > lowered) return transport.tooBig(transport.conn);
  transport.conn.received(isBinary ? data : data.toString(), isBinary, data.length);
}
function onPing(this: WebSocket, data: Buffer): void {
  const transport = (this as BoundWebSocket).transport as WsTransport;
  controlRead(transport, data);
  transport.conn.control(data, 'ping');
}
function onPong(this: WebSocket, data: Buffer): void {
  const transport = (this as BoundWebSocket).transport as WsTransport;
  controlRead(transport, data);
  transport.conn.control(data, 'pong');
}
/** A control frame's bytes are no part of a message: they come off the unfinished count (never below 0). */
function controlRead(transport: WsTransport, data: Buffer): void {
  transport.unfinished -= CONTROL_OVERHEAD + data.length;
  if (transport.unfinished <= 0) {
    transport.unfinished = 0;
    transport.unfinishedSince = 0;
  }
}
function onClose(this: WebSocket, code: number, reason: Buffer): void {
  // ws reports 1006 when no close frame arrived: the TCP connection dropped.
  const transport = (this as BoundWebSocket).transport as WsTransport;
  transport.conn.closed(code !== 1006, code, reason.toString());
  transport.serving.ended(transport.conn);
}
function onError(this: WebSocket, err: Error & { code?: string }): void {
  const transport = (this as BoundWebSocket).transport as WsTransport;
  const deferred = transport.deferred;
  if (deferred !== undefined) deferred.error = true;
  transport.conn.protocolError(err, closeCodeFor(err.code));
}

/**
 * The close code ws sent for one of its protocol errors.
 *
 * @example
 * closeCodeFor('WS_ERR_INVALID_UTF8'); // 1007
 */
export function closeCodeFor(code: string | undefined): number {
  switch (code) {
    case 'WS_ERR_INVALID_UTF8':
      return 1007;
    case 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH':
    case 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH':
      return 1009;
    case 'WS_ERR_TOO_MANY_BUFFERED_PARTS':
      return 1008;
    default:
      return 1002;
  }
}
