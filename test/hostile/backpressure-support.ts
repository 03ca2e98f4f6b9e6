/**
 * What the backpressure tests share: the attacked server (`backpressure-server.ts`)
 * started as its own process on ws (Node), Bun or Deno, so its memory is its own
 * and can be read at `/stats`; a raw-socket client that can stop reading for as
 * long as a test likes and counts what it reads afterwards without keeping it; and
 * a well-behaved `ws` client that must get every echo meanwhile.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { WebSocket } from 'ws';
import { Signal, within } from '../conformance/client.js';
import { ROOT } from '../support/foreign-runtime.js';

export type Runtime = 'ws' | 'bun' | 'deno';
export const RUNTIMES: readonly Runtime[] = ['ws', 'bun', 'deno'];

/** Failure deadline for anything a test waits for: the machine is shared and loaded. */
export const WAIT_MS = 60_000;

const bin = (name: string): string => path.join(ROOT, 'node_modules', '.bin', name);
const COMMANDS: Record<Runtime, readonly string[]> = {
  ws: [process.execPath, '--conditions=beamsock-source', '--expose-gc', '--import', 'tsx'],
  bun: [bin('bun')],
  // --sloppy-imports: the sources import './x.js' for './x.ts'.
  deno: [bin('deno'), 'run', '-A', '--sloppy-imports', '--v8-flags=--expose-gc'],
};

/** A backpressure report as `/stats` shows it. */
export interface ReportSeen {
  readonly kind: 'backpressure';
  readonly server: string;
  readonly held: 'outbound' | 'inbound';
  readonly bytes: number;
  readonly limit: number;
  readonly code: number;
}

/** What `/stats` answers. */
export interface ServerStats {
  readonly rss: number;
  readonly heap: number;
  readonly connections: readonly { readonly paused: boolean; readonly bufferedAmount: number; readonly queue: number }[];
  readonly reports: readonly ReportSeen[];
}

/** The attacked server, in its own process. */
export class AttackedServer {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly output: () => string,
  ) {}

  static async start(runtime: Runtime): Promise<AttackedServer> {
    const [command, ...args] = COMMANDS[runtime] as [string, ...string[]];
    const child = spawn(command, [...args, 'test/hostile/backpressure-server.ts', runtime], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const port = await within(
      new Promise<number>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const m = /^port (\d+)$/m.exec(output);
          if (m !== null) resolve(Number(m[1]));
        });
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.once('exit', (code) => reject(new Error(`the ${runtime} server exited with ${String(code)}: ${output}`)));
      }),
      `the ${runtime} server to listen`,
      WAIT_MS,
    );
    return new AttackedServer(child, port, () => output);
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  async stats(): Promise<ServerStats> {
    return (await (await fetch(`http://127.0.0.1:${this.port}/stats`)).json()) as ServerStats;
  }

  /** Asks the server to send its flood victim `n` messages. */
  async flood(n: number): Promise<void> {
    const res = await fetch(`http://127.0.0.1:${this.port}/flood?n=${n}`);
    if (res.status !== 200) throw new Error(`/flood answered ${res.status}: ${await res.text()}`);
  }

  /** Polls `/stats` until `check` holds; the failure names `what` and shows the last stats and the server's output. */
  async statsUntil(check: (s: ServerStats) => boolean, what: string): Promise<ServerStats> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const s = await this.stats();
      if (check(s)) return s;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last stats ${JSON.stringify(s)}; server output: ${this.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve();
      this.child.once('exit', () => resolve());
      this.child.kill();
    });
  }
}

/** One client frame, masked, as bytes. */
function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const headerLen = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = Buffer.alloc(headerLen + 4 + len);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(len), 2);
  }
  const mask = randomBytes(4);
  mask.copy(out, headerLen);
  for (let i = 0; i < len; i++) out[headerLen + 4 + i] = (payload[i] as number) ^ (mask[i & 3] as number);
  return out;
}

/**
 * A client on a raw TCP socket that can stop reading (`pause`), as a slow or
 * hostile peer does, while it goes on writing. What it reads is counted, not
 * kept: data frames and their bytes, the first text payloads, and the close code.
 */
export class SlowReader {
  dataFrames = 0;
  dataBytes = 0;
  readonly texts: string[] = [];
  /** The server's close code, once its close frame is read. */
  closeCode: number | undefined;
  /** Frames written in full (handed to the kernel). */
  written = 0;
  ended = false;
  private buf: Buffer = Buffer.alloc(0);
  private readonly signal = new Signal();

  private constructor(private readonly socket: Socket) {
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.ended = true;
      this.signal.end();
    });
  }

  static async open(port: number): Promise<SlowReader> {
    const socket = connect(port, '127.0.0.1');
    const key = randomBytes(16).toString('base64');
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    const reader = new SlowReader(socket);
    await within(
      new Promise<void>((resolve, reject) => {
        let head = Buffer.alloc(0);
        const onData = (chunk: Buffer): void => {
          head = Buffer.concat([head, chunk]);
          const end = head.indexOf('\r\n\r\n');
          if (end === -1) return;
          socket.off('data', onData);
          const text = head.subarray(0, end).toString('latin1');
          if (!text.startsWith('HTTP/1.1 101') || !text.includes(accept)) return reject(new Error(`upgrade refused: ${text}`));
          socket.on('data', (data: Buffer) => reader.onData(data));
          if (end + 4 < head.length) reader.onData(head.subarray(end + 4));
          resolve();
        };
        socket.on('data', onData);
        socket.once('close', () => reject(new Error('closed during the handshake')));
        socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      }),
      'the raw WebSocket handshake',
      WAIT_MS,
    );
    return reader;
  }

  sendText(text: string): void {
    this.socket.write(frame(0x1, Buffer.from(text)));
  }

  /**
   * Writes `count` binary messages of `size` bytes, one at a time as the socket
   * takes them (so the client's own memory stays small), until all are written or
   * the connection ends. Resolves at once; `written` counts them as they go.
   */
  sendMany(count: number, size: number): void {
    const payload = randomBytes(size);
    const next = (): void => {
      while (this.written < count && !this.ended) {
        const ok = this.socket.write(frame(0x2, payload));
        this.written++;
        if (!ok) {
          this.socket.once('drain', next);
          return;
        }
      }
    };
    next();
  }

  /** Stops reading: the kernel's buffers fill and the server's writes back up. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Waits until `check` holds (false if the connection ended first). */
  until(check: () => boolean, what: string): Promise<boolean> {
    return within(this.signal.until(check), what, WAIT_MS);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      const b = this.buf;
      if (b.length < 2) break;
      let len = (b[1] as number) & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) break;
        len = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      if (b.length < at + len) break;
      const opcode = (b[0] as number) & 0x0f;
      const payload = b.subarray(at, at + len);
      if (opcode === 0x8) this.closeCode = len >= 2 ? payload.readUInt16BE(0) : 1005;
      else if (opcode === 0x1 || opcode === 0x2) {
        this.dataFrames++;
        this.dataBytes += len;
        if (opcode === 0x1 && this.texts.length < 10) this.texts.push(payload.toString());
      }
      this.buf = b.subarray(at + len);
    }
    this.signal.notify();
  }
}

/**
 * A well-behaved `ws` client: sends `count` text messages of about 1 KiB at once
 * and resolves with every echo, in order, once it has them all (rejecting past
 * `WAIT_MS`, or if the connection closes first).
 */
export async function echoes(url: string, count: number): Promise<string[]> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const got: string[] = [];
  try {
    await within(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => {
          for (let i = 0; i < count; i++) ws.send(`message ${i} ${'x'.repeat(1000)}`);
        });
        ws.on('message', (data: Buffer) => {
          got.push(data.toString());
          if (got.length === count) resolve();
        });
        ws.once('error', reject);
        ws.once('close', (code) => reject(new Error(`closed with ${code} after ${got.length} echoes`)));
      }),
      `${count} echoes`,
      WAIT_MS,
    );
  } finally {
    ws.terminate();
  }
  return got;
}

/** What `echoes(url, count)` must resolve with. */
export function expectedEchoes(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `message ${i} ${'x'.repeat(1000)}`);
}

export const MiB = 1024 * 1024;
