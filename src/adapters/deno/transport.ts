/**
 * The `Transport` a connection writes through, over the server side of one
 * `Deno.upgradeWebSocket`, and the socket's events delivered to the connection.
 *
 * Deno's socket is a WHATWG `WebSocket`: whole messages in, whole messages out,
 * no pause, no ping or pong either way (Deno answers pings itself). So:
 * - reading cannot stop: while the connection is paused (`setActive(false)`, or
 *   `activeN` messages waiting) the messages that arrive are held here, in
 *   order, and handed over on resume, so handlers see Cowboy's flow control but
 *   the peer is not slowed down;
 * - `maxFrameSize` is checked here on each whole message (Deno has buffered it
 *   by then, up to its own fixed limit), closing with 1009 as every server does;
 * - a ping or pong frame cannot be pushed: the write throws, which crashes only
 *   this connection (1011) with an error saying why.
 */
import type { Frame, WebSock } from '../../websock/behaviour.js';
import { Outbound, type Connection, type ConnectionSettings, type Transport } from '../../websock/connection.js';
import type { ResolvedOptions } from '../../websock/options.js';
import type { Pid } from '../../runtime/pid.js';
import type { DenoWebSocket } from './native.js';

const utf8 = new TextDecoder();
const encoder = new TextEncoder();

/** What the connections of one `createDenoHandler` share. */
export interface HandlerSpec {
  readonly handler: WebSock<unknown>;
  readonly name: string;
  readonly settings: ConnectionSettings;
  readonly options: ResolvedOptions;
  /** The DynamicSupervisor the connections are temporary children of. */
  readonly supervisor: Promise<Pid>;
  /** The connections whose sockets are open. */
  readonly live: Set<DenoTransport>;
}

/** The reason beamsock gives when a message is over `maxFrameSize`. */
export const TOO_BIG = 'Received too big message';

/**
 * A protocol error Deno (or the adapter on its behalf) closed the connection
 * for. `closeCode` is the code sent to the peer; `code` is the `ws` error code of
 * the same fault where it is known (`WS_ERR_UNSUPPORTED_MESSAGE_LENGTH`), else
 * `WS_ERR_PROTOCOL`.
 *
 * @example
 * terminate(reason) {
 *   if (typeof reason === 'object' && reason.error instanceof DenoProtocolError) log(reason.error.closeCode);
 * }
 */
export class DenoProtocolError extends Error {
  override readonly name = 'DenoProtocolError';

  constructor(
    message: string,
    readonly closeCode: number,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * One Deno socket as a connection's `Transport`. Made by `createDenoHandler`'s
 * `upgrade`; applications never construct one.
 */
export class DenoTransport implements Transport {
  readonly compressed = false;
  /** The connection, from the socket's `open` on. */
  conn: Connection<unknown> | null = null;
  /** The largest message accepted; Infinity for Deno's own limit alone. */
  private limit: number;
  /** Set once beamsock closes the socket: the `close` event that follows reports nothing new. */
  private closing = false;
  private paused = false;
  /** Messages that arrived while paused, in order. */
  private held: (string | ArrayBuffer)[] = [];
  /** The text of the last `error` event: Deno reports a protocol error there, before `close`. */
  private error: string | undefined;

  constructor(
    readonly spec: HandlerSpec,
    readonly ws: DenoWebSocket,
  ) {
    this.limit = spec.options.maxFrameSize;
  }

  // Deno's events ---------------------------------------------------------------------

  /** A whole message arrived (held while paused). */
  message(data: string | ArrayBuffer): void {
    if (this.paused) this.held.push(data);
    else this.deliver(data);
  }

  private deliver(data: string | ArrayBuffer): void {
    const conn = this.conn as Connection<unknown>;
    if (typeof data === 'string') {
      const bytes = data.length > this.limit ? this.limit + 1 : Buffer.byteLength(data);
      if (bytes > this.limit) return this.tooBig(conn);
      conn.received(data, false, bytes);
    } else {
      if (data.byteLength > this.limit) return this.tooBig(conn);
      conn.received(Buffer.from(data), true, data.byteLength);
    }
  }

  /** Deno's `error` event: a protocol error or a failed write, told apart at `close`. */
  errored(message: string | undefined): void {
    this.error = message ?? 'WebSocket error';
  }

  /** Deno's `close` event: the peer's close frame, a dropped socket, or a protocol error. */
  closed(code: number, reason: string, wasClean: boolean): void {
    this.spec.live.delete(this);
    this.held.length = 0;
    const conn = this.conn;
    if (conn === null || this.closing) return;
    this.closing = true;
    if (wasClean && code !== 1006) conn.closed(true, code, reason);
    else if (this.error === undefined) conn.closed(false, 1006, '');
    else conn.protocolError(new DenoProtocolError(this.error, code === 1006 ? 1002 : code, 'WS_ERR_PROTOCOL'), code === 1006 ? 1002 : code);
  }

  private tooBig(conn: Connection<unknown>): void {
    this.close(1009, TOO_BIG);
    this.held.length = 0;
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
      else if (opcode === 'binary') ws.send(data === null ? new Uint8Array(0) : typeof data === 'string' ? encoder.encode(data) : data);
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

  /**
   * Deno has no way to cut a WebSocket's TCP connection, so this closes with 1001
   * and forgets the socket: its connection is gone either way.
   */
  abort(): void {
    this.spec.live.delete(this);
    if (this.closing) return;
    this.closing = true;
    this.ws.close(1001, '');
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    // A message handed over may pause the connection again: the rest stay held, in order.
    let i = 0;
    const held = this.held;
    while (i < held.length && !this.paused && !this.closing) this.deliver(held[i++] as string | ArrayBuffer);
    held.splice(0, i);
  }

  bufferedAmount(): number {
    return this.closing ? 0 : this.ws.bufferedAmount;
  }

  setMaxFrameSize(bytes: number): void {
    this.limit = bytes === 0 ? Infinity : bytes;
  }
}
