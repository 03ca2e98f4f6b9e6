/**
 * Both directions of the server side of one `Deno.upgradeWebSocket`: the
 * `Transport` a connection writes through, and the socket's events delivered to
 * the connection (see `websock/transport.ts` for the contract).
 *
 * Deno's socket is a WHATWG `WebSocket`: whole messages in, whole messages out,
 * no pause, and no ping or pong either way (Deno answers pings itself). So:
 * - reading cannot stop: while the connection is paused (`setActive(false)`,
 *   `activeN` messages waiting, or outbound bytes over `highWaterMark`) what
 *   arrives is held here, in order, and handed over on resume: handlers see
 *   Cowboy's flow control, the peer is not slowed; past `maxBufferedAmount` held
 *   bytes the connection closes with 1008;
 * - there is no `drain` event: a connection paused by its unwritten output
 *   looks at `bufferedAmount` again on the connections' drain poll;
 * - `maxFrameSize` is checked here on each whole message (Deno has read it by
 *   then, up to its own fixed limit of 64 MiB), closing with 1009;
 * - a ping or pong frame cannot be pushed: the write throws, which crashes only
 *   this connection (1011) with an error saying why;
 * - on a protocol error Deno cuts the TCP connection (a bad close code alone gets
 *   a 1002 close frame first) and names the fault in an `error` event before
 *   `close`: `terminate` sees `{ error: DenoProtocolError }`.
 */
import type { Frame } from '../../websock/behaviour.js';
import type { Connection } from '../../websock/connection.js';
import type { Serving } from '../../websock/serving.js';
import { Outbound, type ConnectionMeta, type Transport } from '../../websock/transport.js';
import type { DenoWebSocket } from './native.js';

const utf8 = new TextDecoder();
const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/**
 * Deno reads no message over 64 MiB (its WebSocket's fixed limit), whatever beamsock allows.
 *
 * @example
 * if (maxFrameSize > DENO_MAX_MESSAGE) throw new TypeError('too large for Deno');
 */
export const DENO_MAX_MESSAGE = 64 * 1024 * 1024;

/** The reason beamsock gives when a message is over `maxFrameSize`, as Bun and uWebSockets word it. */
const TOO_BIG = 'Received too big message';
/** What Deno's `error` event says when the peer went away without a close frame: no protocol error. */
const DROPPED = 'Unexpected EOF';
/** Deno's `error` text -> [the close code Deno sent, if any; ws's error code for the same fault]. */
const KNOWN: ReadonlyMap<string, readonly [closeCode: number | undefined, wsCode: string]> = new Map([
  ['Invalid UTF-8', [undefined, 'WS_ERR_INVALID_UTF8']],
  ['Reserved bits are not zero', [undefined, 'WS_ERR_UNEXPECTED_RSV_2_3']],
  ['Invalid value', [undefined, 'WS_ERR_INVALID_OPCODE']],
  ['Ping frame too large', [undefined, 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH']],
  ['Frame too large', [undefined, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH']],
  ['Invalid close code', [1002, 'WS_ERR_INVALID_CLOSE_CODE']],
]);

/**
 * A protocol error Deno (or the adapter on its behalf) ended the connection for.
 * `closeCode` is the code sent to the peer, undefined when Deno cut the TCP
 * connection without a close frame; `code` is the `ws` error code of the same
 * fault (`WS_ERR_INVALID_UTF8`, ...), or `WS_ERR_PROTOCOL` for a text this
 * version of beamsock does not know.
 *
 * @example
 * terminate(reason) {
 *   if (typeof reason === 'object' && reason.error instanceof DenoProtocolError) log(reason.error.code);
 * }
 */
export class DenoProtocolError extends Error {
  override readonly name = 'DenoProtocolError';

  constructor(
    message: string,
    readonly closeCode: number | undefined,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * One Deno socket as a connection's `Transport`. Made by `createDenoHandler`'s
 * `upgrade`; applications never construct one.
 *
 * @example
 * new DenoTransport(socket, serving).wire({ handlerName: serving.handlerName, remoteAddress, path, protocol, server: 'deno' }, args);
 */
export class DenoTransport implements Transport {
  readonly compressed = false;
  /** The connection, from the socket's `open` on. */
  private conn: Connection<unknown> | null = null;
  /** The largest message accepted. */
  private limit: number;
  /** Set once beamsock closes the socket: the `close` event that follows reports nothing new. */
  private closing = false;
  private paused = false;
  /** Messages that arrived while paused, in order. */
  private readonly held: (string | ArrayBuffer)[] = [];
  /** Their size (string length for text): what `maxBufferedAmount` bounds. */
  private heldBytes = 0;
  /** The text of Deno's `error` event, which comes before `close`. */
  private error: string | undefined;

  constructor(
    private readonly ws: DenoWebSocket,
    private readonly serving: Serving<unknown, unknown>,
  ) {
    this.limit = serving.options.maxFrameSize;
  }

  /** Delivers the socket's events; the connection starts when the socket opens. */
  wire(meta: ConnectionMeta, args: unknown): void {
    const ws = this.ws;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      this.conn = this.serving.start(this, meta, args);
    };
    ws.onmessage = (ev) => {
      // Once beamsock has closed (a message over maxFrameSize), what Deno still reads is dropped.
      if (this.closing) return;
      if (!this.paused) return this.deliver(ev.data);
      this.held.push(ev.data);
      this.heldBytes += typeof ev.data === 'string' ? ev.data.length : ev.data.byteLength;
      (this.conn as Connection<unknown>).holding(this.heldBytes);
    };
    ws.onerror = (ev) => {
      this.error ??= ev.message ?? 'WebSocket error';
    };
    ws.onclose = (ev) => this.closed(ev.code, ev.reason, ev.wasClean);
  }

  private deliver(data: string | ArrayBuffer): void {
    const conn = this.conn as Connection<unknown>;
    if (typeof data === 'string') {
      // UTF-8 takes at least one byte per UTF-16 code unit: a long string needs no count.
      const bytes = data.length > this.limit ? data.length : Buffer.byteLength(data);
      if (bytes > this.limit) return this.tooBig(conn);
      conn.received(data, false, bytes);
    } else {
      if (data.byteLength > this.limit) return this.tooBig(conn);
      conn.received(Buffer.from(data), true, data.byteLength);
    }
  }

  private closed(code: number, reason: string, wasClean: boolean): void {
    const conn = this.conn;
    this.forgetHeld();
    if (conn === null) return;
    this.serving.ended(conn);
    if (this.closing) return;
    this.closing = true;
    const error = this.error;
    if (wasClean) conn.closed(true, code, reason);
    else if (error === undefined || error === DROPPED) conn.closed(false, 1006, '');
    else {
      const [closeCode, wsCode] = KNOWN.get(error) ?? [undefined, 'WS_ERR_PROTOCOL'];
      conn.protocolError(new DenoProtocolError(error, closeCode, wsCode), closeCode);
    }
  }

  private tooBig(conn: Connection<unknown>): void {
    this.close(1009, TOO_BIG);
    this.forgetHeld();
    conn.protocolError(new DenoProtocolError(TOO_BIG, 1009, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'), 1009);
  }

  // Transport -------------------------------------------------------------------------

  write(frames: readonly (Frame | Outbound)[]): void {
    if (this.closing) return;
    const ws = this.ws;
    for (let i = 0; i < frames.length; i++) {
      const item = frames[i] as Frame | Outbound;
      const [opcode, data] = item instanceof Outbound ? item.frame : item;
      if (opcode === 'text') ws.send(data === null ? '' : typeof data === 'string' ? data : utf8.decode(data));
      else if (opcode === 'binary') ws.send(data === null ? EMPTY : typeof data === 'string' ? encoder.encode(data) : data);
      else {
        throw new TypeError(
          `a ${opcode} frame cannot be sent on Deno: Deno's WebSocket server sends no ping or pong of JavaScript's (it answers pings itself); ` +
            `use 'beamsock/ws' or 'beamsock/bun' for control frames`,
        );
      }
    }
  }

  close(code: number, reason: string | Uint8Array): void {
    if (this.closing) return;
    this.closing = true;
    this.ws.close(code, typeof reason === 'string' ? reason : utf8.decode(reason));
  }

  /** Deno cannot cut one WebSocket's TCP connection: this sends 1001 and forgets the socket (the server's shutdown cuts it). */
  abort(): void {
    if (this.conn !== null) this.serving.ended(this.conn);
    this.close(1001, '');
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    // A message handed over may pause the connection again: the rest stay held, in order.
    const held = this.held;
    let i = 0;
    while (i < held.length && !this.paused && !this.closing) {
      const data = held[i++] as string | ArrayBuffer;
      this.heldBytes -= typeof data === 'string' ? data.length : data.byteLength;
      this.deliver(data);
    }
    held.splice(0, i);
  }

  private forgetHeld(): void {
    this.held.length = 0;
    this.heldBytes = 0;
  }

  bufferedAmount(): number {
    return this.closing ? 0 : this.ws.bufferedAmount;
  }

  /**
   * Deno reads messages up to its own fixed limit (64 MiB) whatever this says; a
   * lower limit is checked here, a higher one cannot be granted.
   */
  setMaxFrameSize(bytes: number): void {
    if (bytes === 0 || bytes > DENO_MAX_MESSAGE) {
      throw new RangeError(`maxFrameSize ${bytes === 0 ? '0 (no limit)' : bytes} is over Deno's fixed limit of ${DENO_MAX_MESSAGE} bytes (64 MiB)`);
    }
    this.limit = bytes;
  }
}
