/**
 * The `Transport` a connection writes through, over one `ws` WebSocket.
 *
 * Writes are batched: the connection hands over every frame its process pushed
 * in one scheduler slice, and they go out under one cork of the TCP socket, so
 * sixteen echoes cost one `writev` instead of sixteen writes.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Frame } from '../../websock/behaviour.js';
import { Outbound, type Transport } from '../../websock/connection.js';

const EMPTY = Buffer.alloc(0);

/** The parts of ws's WebSocket we reach into, all stable across ws 8.x. */
interface WsInternals {
  _socket: Socket | null;
  _receiver: { _maxPayload: number } | null;
}

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

/** One unmasked, unfragmented server frame (RFC 6455 §5.2), header and payload in one buffer. */
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
