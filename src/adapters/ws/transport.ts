/**
 * Both directions of one `ws` WebSocket: the `Transport` a connection writes
 * through, and `bindSocket`, which delivers the socket's events to the connection
 * (see `websock/transport.ts` for the contract).
 *
 * Writes are batched: the connection hands over every frame its process pushed
 * in one scheduler slice, and they go out under one cork of the TCP socket, so
 * sixteen echoes cost one `writev` instead of sixteen writes.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Frame } from '../../websock/behaviour.js';
import type { Connection } from '../../websock/connection.js';
import type { Serving } from '../../websock/serving.js';
import { Outbound, type ConnectionMeta, type Transport } from '../../websock/transport.js';

const EMPTY = Buffer.alloc(0);

/** The parts of ws's WebSocket we reach into, all stable across ws 8.x. */
interface WsInternals {
  _socket: Socket | null;
  _receiver: { _maxPayload: number } | null;
}

/**
 * One `ws` WebSocket as a connection's `Transport`.
 *
 * @example
 * const conn = serving.start(new WsTransport(ws), new WsMeta(serving.handlerName, ws, req.url), args);
 */
export class WsTransport implements Transport {
  readonly compressed: boolean;
  private readonly socket: Socket | null;

  constructor(private readonly ws: WebSocket) {
    this.compressed = ws.extensions.includes('permessage-deflate');
    this.socket = (ws as unknown as WsInternals)._socket;
  }

  write(frames: readonly (Frame | Outbound)[], compress: boolean): void {
    const ws = this.ws;
    if (ws.readyState !== 1) return;
    const socket = this.socket;
    const corked = socket !== null && frames.length > 1;
    if (corked) socket.cork();
    const opts = compress && this.compressed ? COMPRESSED : PLAIN;
    for (let i = 0; i < frames.length; i++) {
      const item = frames[i] as Frame | Outbound;
      if (item instanceof Outbound) {
        // Without compression ws writes synchronously, so writing shared bytes straight
        // to the socket keeps frame order; a compressing sender may queue, so it sends.
        if (!this.compressed && socket !== null) {
          socket.write((item.encoded ??= encodeFrame(item.frame)) as Buffer);
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
    if (ws.readyState === 2 || ws.readyState === 3) return;
    ws.close(code, typeof reason === 'string' ? reason : Buffer.from(reason.buffer, reason.byteOffset, reason.byteLength));
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

  setMaxFrameSize(bytes: number): void {
    const receiver = (this.ws as unknown as WsInternals)._receiver;
    // ws reads its limit from the receiver on every frame; 0 means no limit there too.
    if (receiver !== null) receiver._maxPayload = bytes;
  }
}

/**
 * One unmasked, unfragmented server frame (RFC 6455 §5.2), header and payload in one buffer.
 *
 * @example
 * socket.write(encodeFrame(['text', 'hi'])); // <Buffer 81 02 68 69>
 */
export function encodeFrame([opcode, data]: Frame): Buffer {
  const payload = data === null ? EMPTY : typeof data === 'string' ? Buffer.from(data) : data;
  const len = payload.byteLength;
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
  out.set(payload, headerLen);
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

const kConn = Symbol('beamsock.connection');
const kServing = Symbol('beamsock.serving');
type Bound = WebSocket & { [kConn]: Connection<unknown>; [kServing]: Serving<unknown, unknown> };

/**
 * Delivers the events of `ws` to `conn`, and tells `serving` when the socket is
 * gone. The listeners are shared module functions (ws calls them with `this` =
 * the socket), so a connection costs no closures.
 *
 * @example
 * bindSocket(ws, serving.start(new WsTransport(ws), meta, args), serving);
 */
export function bindSocket(ws: WebSocket, conn: Connection<unknown>, serving: Serving<unknown, unknown>): void {
  const bound = ws as Bound;
  bound[kConn] = conn;
  bound[kServing] = serving;
  ws.on('message', onMessage);
  ws.on('ping', onPing);
  ws.on('pong', onPong);
  ws.on('close', onClose);
  ws.on('error', onError);
  if (serving.options.maxHeapSize.size !== 0) (ws as unknown as WsInternals)._socket?.on('drain', () => conn.drained());
}

function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  (this as Bound)[kConn].received(isBinary ? data : data.toString(), isBinary, data.length);
}
function onPing(this: WebSocket, data: Buffer): void {
  (this as Bound)[kConn].control(data, 'ping');
}
function onPong(this: WebSocket, data: Buffer): void {
  (this as Bound)[kConn].control(data, 'pong');
}
function onClose(this: WebSocket, code: number, reason: Buffer): void {
  // ws reports 1006 when no close frame arrived: the TCP connection dropped.
  const conn = (this as Bound)[kConn];
  conn.closed(code !== 1006, code, reason.toString());
  (this as Bound)[kServing].ended(conn);
}
function onError(this: WebSocket, err: Error & { code?: string }): void {
  (this as Bound)[kConn].protocolError(err, closeCodeFor(err.code));
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

/**
 * A connection's meta. It keeps the socket, not the request, and reads the peer
 * address only when asked (that costs a syscall); a class, so the getter lives on
 * the prototype rather than in every connection.
 *
 * @example
 * new WsMeta(serving.handlerName, ws, req.url).remoteAddress; // '127.0.0.1'
 */
export class WsMeta implements ConnectionMeta {
  readonly server = 'ws';
  readonly protocol: string | undefined;
  constructor(
    readonly handlerName: string,
    private readonly ws: WebSocket,
    readonly path: string | undefined,
  ) {
    this.protocol = ws.protocol === '' ? undefined : ws.protocol;
  }

  get remoteAddress(): string | undefined {
    return (this.ws as unknown as WsInternals)._socket?.remoteAddress;
  }
}
