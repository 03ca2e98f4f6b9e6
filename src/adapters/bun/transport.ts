/**
 * Both directions of one Bun `ServerWebSocket`: the `Transport` a connection
 * writes through, and the `websocket` handlers that deliver the socket's events
 * to the connection (see `websock/transport.ts` for the contract). The transport
 * is the socket's `data`: `server.upgrade` is given it with what the connection
 * needs at `open`, and Bun's handlers find their connection on it.
 *
 * Writes are batched: the frames a connection pushed in one scheduler slice go
 * out under one `cork`, in one syscall. Bun queues what the kernel does not take
 * (`send` returns -1) without limit — the adapter sets `backpressureLimit: 0` so
 * that no frame is ever dropped — and `bufferedAmount` reports the queue, which
 * is what `maxHeapSize` holds a connection to.
 */
import type { Frame } from '../../websock/behaviour.js';
import type { Connection } from '../../websock/connection.js';
import type { ResolvedOptions } from '../../websock/options.js';
import type { Serving } from '../../websock/serving.js';
import { Outbound, type Cast, type ConnectionMeta, type Transport } from '../../websock/transport.js';
import { bunDeflateConfig, negotiate } from './deflate.js';
import type { BunSocket, BunWebSocketHandler } from './native.js';
import { BunProtocolError, protocolErrorOf, TOO_BIG } from './protocol-errors.js';
import type { BunTopics, MemberState, TopicMember } from './topics.js';

const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder();
const NO_FRAMES: readonly (Frame | Outbound)[] = [];

/** Maximum `maxPayloadLength` Bun takes: what "no limit" becomes. */
const BUN_NO_LIMIT = 0xffff_ffff;

/**
 * One Bun socket as a connection's `Transport`, its `ConnectionMeta` (one object
 * per connection instead of two), and the socket's `data`. Made by
 * `createBunHandler`'s `upgrade`; applications never construct one (it is
 * exported as a type because Bun types `websocket` by its data).
 */
export class BunTransport implements Transport, ConnectionMeta, TopicMember {
  /** The socket, from `open` on. */
  ws: BunSocket<BunTransport> | null = null;
  /** The connection, from `open` on. */
  conn: Connection<unknown> | null = null;
  compressed = false;
  /** The peer's address, from `open` on. */
  remoteAddress: string | undefined = undefined;
  /** What `init` receives, and the client's extensions offer: both needed only until `open`. */
  private args: unknown;
  private offer: string | null;
  /** Messages shorter than this go uncompressed (0 when every message may be compressed). */
  private threshold = 0;
  /** The server's `maxPayloadLength`: the most a `maxFrameSize` may be on this socket. */
  private serverMaxFrame = Infinity;
  /** A `maxFrameSize` under the server's, which Bun cannot set per socket, so it is checked here; 0 when none. */
  private lowered = 0;
  /** Set before beamsock closes or cuts the socket: Bun then calls `close` at once, and that call reports nothing new. */
  private closing = false;
  /** The frames `cork` is writing. */
  private batch: readonly (Frame | Outbound)[] = NO_FRAMES;
  private batchCompress = false;
  /** @internal what its server's topics keep for it, from its first fastlane broadcast through them (see `topics.ts`). */
  topicState: MemberState | null = null;

  constructor(
    readonly serving: Serving<unknown, unknown>,
    args: unknown,
    readonly path: string,
    readonly protocol: string | undefined,
    offer: string | null,
    /** Its server's native topics, when the server can publish: what fastlane broadcasts go through. */
    private readonly topics: BunTopics | null,
  ) {
    this.args = args;
    this.offer = offer;
  }

  /**
   * Bun opened the socket on a server whose `websocket` was made with `server`'s
   * options (this handler's own, or another's sharing the same `Bun.serve`):
   * settles compression and frame limits by what that server does. Returns `init`'s args.
   */
  attach(ws: BunSocket<BunTransport>, server: ResolvedOptions): unknown {
    this.ws = ws;
    this.remoteAddress = ws.remoteAddress;
    const own = this.serving.options;
    const deflate = negotiate(this.offer, server.compress, server.deflateOptions);
    this.compressed = deflate.compressed;
    this.threshold = deflate.serverNoContextTakeover ? own.deflateOptions.threshold : 0;
    this.serverMaxFrame = server.maxFrameSize;
    this.lowered = own.maxFrameSize < server.maxFrameSize ? own.maxFrameSize : 0;
    const args = this.args;
    this.args = undefined;
    this.offer = null;
    return args;
  }

  // ConnectionMeta: what it shows of the server, read when asked, not kept per connection.

  get handlerName(): string {
    return this.serving.handlerName;
  }

  get server(): string {
    return 'bun';
  }

  // Bun's events -----------------------------------------------------------------------

  /** A whole message arrived (a lowered `maxFrameSize` is checked here). */
  message(data: string | Buffer): void {
    const conn = this.conn as Connection<unknown>;
    if (typeof data === 'string') {
      const bytes = Buffer.byteLength(data);
      if (this.lowered !== 0 && bytes > this.lowered) return this.tooBig(conn);
      conn.received(data, false, bytes);
    } else {
      if (this.lowered !== 0 && data.length > this.lowered) return this.tooBig(conn);
      conn.received(data, true, data.length);
    }
  }

  /** Bun's `close`: the peer's close frame, a dropped socket, or a protocol error Bun closed for. */
  closed(conn: Connection<unknown>, code: number, reason: string): void {
    this.serving.ended(conn);
    if (this.closing) return;
    this.stopWriting();
    if (code !== 1006) {
      conn.closed(true, code, reason);
      return;
    }
    const error = protocolErrorOf(code, reason);
    if (error === undefined) conn.closed(false, 1006, '');
    else conn.protocolError(error, error.closeCode);
  }

  private tooBig(conn: Connection<unknown>): void {
    this.close(1009, TOO_BIG);
    conn.protocolError(new BunProtocolError(TOO_BIG, 1009, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'), 1009);
  }

  // Transport -------------------------------------------------------------------------

  write(frames: readonly (Frame | Outbound)[], compress: boolean): void {
    const ws = this.ws;
    if (ws === null || this.closing) return;
    // Bun writes what was published to the socket before this, and the connection weighs the buffer after it.
    if (this.topicState !== null) this.topicState.unweighed = 0;
    if (frames.length === 1) {
      this.send(ws, frames[0] as Frame | Outbound, compress);
      return;
    }
    this.batch = frames;
    this.batchCompress = compress;
    ws.cork(writeBatch);
    this.batch = NO_FRAMES;
  }

  /** @internal `cork`'s callback: writes the batch. */
  writeBatch(ws: BunSocket<BunTransport>): void {
    const frames = this.batch;
    const compress = this.batchCompress;
    for (let i = 0; i < frames.length; i++) this.send(ws, frames[i] as Frame | Outbound, compress);
  }

  private send(ws: BunSocket<BunTransport>, item: Frame | Outbound, compress: boolean): void {
    const [opcode, data] = item instanceof Outbound ? item.frame : item;
    switch (opcode) {
      case 'text': {
        // Bun sends text frames from strings only.
        const text = data === null ? '' : typeof data === 'string' ? data : utf8.decode(data);
        ws.sendText(text, compress && this.compressed && this.bigEnough(text));
        break;
      }
      case 'binary': {
        const bytes = data === null ? EMPTY : typeof data === 'string' ? Buffer.from(data) : data;
        ws.sendBinary(bytes, compress && this.compressed && (this.threshold === 0 || bytes.byteLength >= this.threshold));
        break;
      }
      case 'ping':
        ws.ping(data ?? EMPTY);
        break;
      case 'pong':
        ws.pong(data ?? EMPTY);
        break;
    }
  }

  /** As ws: with no context kept, a message under `threshold` bytes costs more compressed than plain. */
  private bigEnough(text: string): boolean {
    const t = this.threshold;
    // UTF-8 never takes fewer bytes than UTF-16 code units, so long strings need no count.
    return t === 0 || text.length >= t || Buffer.byteLength(text) >= t;
  }

  close(code: number, reason: string | Uint8Array): void {
    const ws = this.ws;
    if (ws === null || this.closing) return;
    this.stopWriting();
    ws.close(code, typeof reason === 'string' ? reason : utf8.decode(reason));
  }

  abort(): void {
    const ws = this.ws;
    if (ws === null || this.closing) return;
    this.stopWriting();
    ws.terminate();
  }

  /** From here on nothing is written, and no broadcast is published to it. */
  private stopWriting(): void {
    this.closing = true;
    this.topics?.leave(this);
  }

  /** A fastlane broadcast through the server's topics (see `topics.ts`), on an open socket of a server that publishes. */
  joinCast(cast: Cast, compress: boolean, room: number): boolean {
    return this.topics !== null && this.ws !== null && !this.closing && this.topics.join(this, cast, compress, room);
  }

  /** @internal subscribes the socket to a native topic. */
  subscribe(topic: string): void {
    (this.ws as BunSocket<BunTransport>).subscribe(topic);
  }

  /** @internal unsubscribes the socket from a native topic: what was published to it before still reaches it. */
  unsubscribe(topic: string): void {
    if (!this.closing) this.ws?.unsubscribe(topic);
  }

  /** @internal as `send` decides: whether a frame of `bytes` bytes is compressed when the connection asks for it. */
  compressesAt(bytes: number): boolean {
    return this.threshold === 0 || bytes >= this.threshold;
  }

  /** A Bun without `ServerWebSocket.pause` keeps reading: flow control then rests on `maxHeapSize` alone. */
  pause(): void {
    if (!this.closing) this.ws?.pause?.();
  }

  resume(): void {
    if (!this.closing) this.ws?.resume?.();
  }

  bufferedAmount(): number {
    const bytes = this.ws === null || this.closing ? 0 : this.ws.getBufferedAmount();
    // The latest weight, for the fastlane's broadcasts through Bun's topics (see `MemberState`).
    if (this.topicState !== null) this.topicState.weighed = bytes;
    return bytes;
  }

  /**
   * Bun fixes `maxPayloadLength` per server, so a lower limit for this socket is
   * checked here on each whole message (Bun has buffered it by then); a higher
   * one cannot be granted.
   */
  setMaxFrameSize(bytes: number): void {
    const limit = bytes === 0 ? Infinity : bytes;
    if (limit > this.serverMaxFrame) {
      throw new RangeError(
        `maxFrameSize ${bytes === 0 ? '0 (no limit)' : bytes} is over this server's maxFrameSize of ${this.serverMaxFrame}: ` +
          `Bun fixes the limit per server, so a connection can only lower it; start the server with the largest limit any connection needs`,
      );
    }
    this.lowered = limit === this.serverMaxFrame ? 0 : limit;
  }
}

function writeBatch(ws: BunSocket<BunTransport>): void {
  ws.data.writeBatch(ws);
}

/**
 * Bun's `websocket` option for a handler with options `o`: Bun's per-server
 * settings made from them (`maxFrameSize` as `maxPayloadLength`, `compress` and
 * `deflateOptions` as `perMessageDeflate`), and the handlers. `open` is told
 * which options the server runs under; the rest find everything on the socket's
 * data, so any handler's `websocket` serves the connections of all.
 *
 * @example
 * Bun.serve({ fetch, websocket: bunWebSocketHandler(normalizeOptions({ compress: true })) });
 */
export function bunWebSocketHandler(o: ResolvedOptions): BunWebSocketHandler<BunTransport> {
  return {
    open(ws) {
      open(ws, o);
    },
    message,
    close,
    drain,
    ping,
    pong,
    maxPayloadLength: o.maxFrameSize === Infinity ? BUN_NO_LIMIT : o.maxFrameSize,
    // No limit: a frame pushed is a frame sent; maxHeapSize is the limit, per process.
    backpressureLimit: 0,
    closeOnBackpressureLimit: false,
    idleTimeout: 0,
    sendPings: false,
    publishToSelf: false,
    perMessageDeflate: o.compress ? bunDeflateConfig(o.deflateOptions) : false,
  };
}

function open(ws: BunSocket<BunTransport>, server: ResolvedOptions): void {
  const t = ws.data;
  const args = t.attach(ws, server);
  const serving = t.serving;
  t.conn = serving.start(t, t, args);
}

function message(ws: BunSocket<BunTransport>, data: string | Buffer): void {
  ws.data.message(data);
}

function close(ws: BunSocket<BunTransport>, code: number, reason: string): void {
  const t = ws.data;
  if (t.conn !== null) t.closed(t.conn, code, reason);
}

function drain(ws: BunSocket<BunTransport>): void {
  ws.data.conn?.drained();
}

function ping(ws: BunSocket<BunTransport>, data: Buffer): void {
  // Bun has queued its pong (header and payload) without beamsock weighing the buffer.
  const state = ws.data.topicState;
  if (state !== null) state.unweighed += data.length + 2;
  ws.data.conn?.control(data, 'ping');
}

function pong(ws: BunSocket<BunTransport>, data: Buffer): void {
  ws.data.conn?.control(data, 'pong');
}
