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
import type { Transport } from '../../websock/connection.js';

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

  write(frames: readonly Frame[], compress: boolean): void {
    const ws = this.ws;
    if (ws.readyState !== 1) return;
    const socket = this.socket;
    const corked = socket !== null && frames.length > 1;
    if (corked) socket.cork();
    const opts = compress && this.compressed ? COMPRESSED : PLAIN;
    for (let i = 0; i < frames.length; i++) {
      const [opcode, data] = frames[i] as Frame;
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

const PLAIN = {
  text: { binary: false, compress: false },
  binary: { binary: true, compress: false },
} as const;
const COMPRESSED = {
  text: { binary: false, compress: true },
  binary: { binary: true, compress: true },
} as const;
