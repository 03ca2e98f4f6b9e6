/**
 * The contract between websock and a server adapter, both directions of one
 * socket: the `Transport` an adapter implements for the connection to write
 * through, and the `Inbound` events it delivers to the connection. Nothing else
 * passes between a connection and its server.
 *
 * An adapter gets its connection from `Serving.start` (see `serving.ts`) and
 * calls, for each socket:
 * - `bytesArrived` whenever bytes arrive, if the server lets it see them (they
 *   keep the connection from idling out in the middle of a long message),
 * - `received` for every whole text or binary message,
 * - `control` for every ping (after the server answered it) and pong,
 * - `protocolError` when the server closed for a protocol fault (1002, 1007, 1009),
 * - `closed` when the socket closed, once, protocol error or not,
 * - `drained` when the socket wrote out what it had buffered,
 * - `holding` with the bytes it keeps for a paused connection, if it cannot stop reading,
 * and `Serving.ended(conn)` once the socket is gone, so the server stops counting it.
 */
import type { Frame } from './behaviour.js';

/**
 * A frame encoded once and written to many connections (see `fastlane`). The
 * transport that first writes it keeps its encoding in `encoded` for the others.
 *
 * @example
 * const item = new Outbound(['text', 'hello everyone']);
 */
export class Outbound {
  encoded: unknown = undefined;
  constructor(readonly frame: Frame) {}
}

/**
 * One fastlane broadcast offered to a server's own fan-out (Bun's topics; see
 * `Transport.joinCast`): the frame, the server-wide topic name to publish it
 * under, and the servers whose sockets joined it, each of which publishes it
 * once the fastlane has visited every subscriber.
 *
 * @example
 * const cast = new Cast('beamsock/1/room:42', new Outbound(['text', 'hi']), 7);
 */
export class Cast {
  /** Every server a socket joined the broadcast on, in the order they joined. */
  readonly publishers: CastPublisher[] = [];
  constructor(
    /** The topic name in the server's own namespace (unique per PubSub and topic). */
    readonly topic: string,
    readonly item: Outbound,
    /** Tells this broadcast from every other: a socket joins each at most once. */
    readonly epoch: number,
  ) {}
}

/**
 * A server's own fan-out, as the fastlane drives it: `publish` sends the cast's
 * frame to every socket that joined it (and to no other), in each socket's
 * order of writes.
 *
 * @example
 * for (const p of cast.publishers) p.publish(cast);
 */
export interface CastPublisher {
  publish(cast: Cast): void;
}

/**
 * What a server adapter provides to a connection: the outbound half of its socket.
 *
 * @example
 * class MyTransport implements Transport {
 *   readonly compressed = false;
 *   write(frames) { for (const f of frames) socket.send(f instanceof Outbound ? f.frame[1] : f[1]); }
 *   // close, abort, pause, resume, bufferedAmount, setMaxFrameSize ...
 * }
 */
export interface Transport {
  /** Writes frames in order, in as few socket writes as the server allows. Must not keep the array. */
  write(frames: readonly (Frame | Outbound)[], compress: boolean): void;
  /**
   * Sends a close frame after everything written so far, and lets the server
   * finish the closing handshake. The connection also calls it once it has
   * handled the peer's close frame (with the peer's code and reason) or a
   * protocol error (with its code): a server that kept its answer until then
   * sends it now, after the replies to what came before; one that has answered
   * already does nothing, as for any close once the socket is closing.
   */
  close(code: number, reason: string | Uint8Array): void;
  /** Cuts the TCP connection without a close frame. */
  abort(): void;
  /** Stops reading from the socket. */
  pause(): void;
  /** Reads from the socket again. */
  resume(): void;
  /** Outbound bytes accepted but not yet handed to the network. */
  bufferedAmount(): number;
  /** Changes the largest message the peer may send from now on. */
  setMaxFrameSize(bytes: number): void;
  /** True when permessage-deflate was negotiated. */
  readonly compressed: boolean;
  /**
   * Optional, for a server with its own fan-out (Bun's topics): joins this socket
   * to `cast`, whose frame the server then writes to it when the cast is
   * published, as `write` would have with per-frame compression `compress`, given
   * that no more than `room` bytes may wait unwritten after it (the connection's
   * backpressure limit; Infinity for none). The connection calls it only when
   * nothing of its own could come before the frame. False when the socket cannot
   * take it that way (another server, a second subscription of the same socket,
   * too little room, another compression than the cast's): the fastlane writes
   * it itself.
   */
  joinCast?(cast: Cast, compress: boolean, room: number): boolean;
}

/**
 * The socket events an adapter delivers to its connection (a `Connection`
 * implements this). Each is queued in the connection's mailbox and handled in
 * arrival order; none throws.
 *
 * @example
 * ws.on('message', (data, isBinary) => conn.received(isBinary ? data : data.toString(), isBinary, data.length));
 */
export interface Inbound {
  /**
   * Bytes arrived from the peer, of any frame or part of one: the idle clock
   * starts again. `received` and `control` start it again too, so a server that
   * shows only whole messages need not call this.
   */
  bytesArrived(): void;
  /** A whole text (`binary` false, `data` a string) or binary message of `bytes` bytes arrived. */
  received(data: string | Buffer, binary: boolean, bytes: number): void;
  /** A ping (already answered with a pong by the adapter) or a pong arrived. */
  control(data: Buffer, opcode: 'ping' | 'pong'): void;
  /**
   * The socket closed: `remote` when the peer sent a close frame (with `code`,
   * 1005 if it had none, and `reason`), otherwise the TCP connection dropped.
   */
  closed(remote: boolean, code: number, reason: string): void;
  /**
   * The server hit a protocol error and is closing with `code` (1002, 1007,
   * 1009...), or undefined when it cut the TCP connection without a close frame.
   */
  protocolError(error: Error, code: number | undefined): void;
  /**
   * The socket wrote out some of its buffered bytes: a connection paused at its
   * `highWaterMark` reads again once they are at its `lowWaterMark`. A server
   * with no drain event calls it from a poll while the connection is paused.
   */
  drained(): void;
  /**
   * The adapter holds `bytes` of inbound messages for a paused connection because
   * its server cannot stop reading (Deno): past `maxBufferedAmount` the connection
   * closes with 1008.
   */
  holding(bytes: number): void;
}

/**
 * What the adapter knows of one connection, for telemetry and `processInfo`
 * details. `remoteAddress` may be a getter: it is read only when asked for.
 *
 * @example
 * const meta: ConnectionMeta = { handlerName: serving.handlerName, server: 'ws', remoteAddress: '127.0.0.1', path: '/ws', protocol: undefined };
 */
export interface ConnectionMeta {
  readonly handlerName: string;
  readonly remoteAddress: string | undefined;
  readonly path: string | undefined;
  readonly protocol: string | undefined;
  readonly server: string;
}
