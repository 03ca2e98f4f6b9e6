/**
 * What every hostile test shares: the server under attack (`server.ts`, run as
 * its own OS process on Node, Bun or Deno, so that its memory is measured apart
 * from the attacker's), raw TCP attackers that write whatever bytes they like,
 * and a well-behaved client that must lose nothing meanwhile.
 *
 * `HOSTILE_SCALE=full` (what `npm run soak` sets) runs every attack at full
 * size; otherwise the counts are small enough for `npm test`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants as zlibConstants, deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll } from 'vitest';
import { WebSocket } from 'ws';
import type { Stats } from './server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(ROOT, 'node_modules', '.bin');

/** The servers every attack is run against. */
export const RUNTIMES = ['ws', 'bun', 'deno'] as const;
export type Runtime = (typeof RUNTIMES)[number];

/** True under `npm run soak`. */
export const FULL = process.env['HOSTILE_SCALE'] === 'full';

/**
 * `small` in `npm test`, `full` under `npm run soak`.
 *
 * @example
 * const connections = scaled(50, 10_000);
 */
export function scaled(small: number, full: number): number {
  return FULL ? full : small;
}

/** Generous deadline for what must happen (never a measured time): a loaded machine is slow, not broken. */
export const DEADLINE_MS = 20_000;

/** Each test's own limit: an attack, its checks and a soak's full size. */
export const TEST_TIMEOUT_MS = FULL ? 1_200_000 : 60_000;

/** The upgrade timeout of the slowloris tests' server on ws: short, so that they end soon (the others keep the default 10 s, which a busy server needs). */
export const UPGRADE_TIMEOUT_MS = 1_000;

/** The attacked server's maxFrameSize. */
export const MAX_FRAME = 1024 * 1024;

const COMMANDS: Record<Runtime, readonly string[]> = {
  ws: [process.execPath, '--expose-gc', '--conditions=beamsock-source', '--import', 'tsx'],
  bun: [path.join(BIN, 'bun')],
  // --sloppy-imports: the sources import './x.js' for './x.ts', as tsc and Bun resolve it.
  deno: [path.join(BIN, 'deno'), 'run', '-A', '--sloppy-imports', '--v8-flags=--expose-gc'],
};

/** One server under attack, in its own process. */
export interface Target {
  readonly runtime: Runtime;
  readonly port: number;
  /** Measured in the server's process after a full GC. */
  stats(): Promise<Stats>;
  /** What the server printed to stderr so far (errors it logged), for failure messages. */
  readonly log: () => string;
}

/**
 * Starts `server.ts` on `runtime` before the file's tests and kills it after
 * them; on ws with `upgradeTimeoutMs` (default 10 s), which Bun and Deno refuse.
 *
 * @example
 * const target = serverFor('bun');
 * it('...', async () => { const { port } = target(); });
 */
export function serverFor(runtime: Runtime, upgradeTimeoutMs = 10_000): () => Target {
  let target: Target | undefined;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    const [bin, ...args] = COMMANDS[runtime] as [string, ...string[]];
    child = spawn(bin, [...args, 'test/hostile/server.ts'], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', HOSTILE_UPGRADE_TIMEOUT: String(upgradeTimeoutMs) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child?.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /listening (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child?.once('exit', (code) => reject(new Error(`the ${runtime} server exited with ${String(code)} before listening:\n${out}${stderr}`)));
    });
    target = { runtime, port, stats: () => statsOf(port), log: () => stderr };
  }, 60_000);
  afterAll(() => {
    child?.kill('SIGKILL');
  });
  return () => {
    if (target === undefined) throw new Error(`the ${runtime} server did not start`);
    return target;
  };
}

/** A fresh connection for each ask: a kept-alive one may be cut by the server's idle timeout as it is reused. */
function statsOf(port: number): Promise<Stats> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/stats', agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(JSON.parse(body) as Stats));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/**
 * Resolves once `check()` holds, asking again every 50 ms; rejects after
 * `DEADLINE_MS` with `what` and the last value seen.
 */
export async function eventually<T>(get: () => Promise<T>, check: (value: T) => boolean, what: string): Promise<T> {
  const end = Date.now() + DEADLINE_MS;
  for (;;) {
    const value = await get();
    if (check(value)) return value;
    if (Date.now() > end) throw new Error(`${what}: still ${JSON.stringify(value)} after ${DEADLINE_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Waits until the server is back to `baseline`: no connection or process more,
 * no timer more (where the runtime counts them), and RSS within `slackBytes`.
 */
export function backToBaseline(target: Target, baseline: Stats, slackBytes: number): Promise<Stats> {
  return eventually(
    () => target.stats(),
    (s) =>
      s.connections === baseline.connections &&
      s.processes === baseline.processes &&
      s.timers <= baseline.timers &&
      s.rss - baseline.rss < slackBytes,
    `the ${target.runtime} server back to its baseline ${JSON.stringify(baseline)} (RSS within ${slackBytes >> 20} MiB)`,
  );
}

/** Samples the server's RSS until stopped; resolves with the largest seen (rejects if the server stopped answering). */
export function peakRss(target: Target): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, (await target.stats()).rss);
      // Each ask runs a full GC in the server: often enough to catch a peak, not so often as to slow it.
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  // Told at stop(); a test that fails first must not leave it unhandled.
  loop.catch(() => undefined);
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

export const MiB = 1024 * 1024;

// ---------------------------------------------------------------- the attacker's bytes

/** A client frame (masked, as RFC 6455 requires of clients) with any header bits and payload. */
export function clientFrame(opcode: number, payload: Buffer | string, o: { fin?: boolean; rsv1?: boolean } = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const len = data.length;
  const header = lengthHeader(opcode, len, o);
  const mask = randomBytes(4);
  const masked = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) masked[i] = (data[i] as number) ^ (mask[i & 3] as number);
  return Buffer.concat([header, mask, masked]);
}

/**
 * The first bytes of a masked client frame declaring `length` payload bytes
 * (any length up to 2^63-1, whatever follows), without the mask key.
 */
export function lengthHeader(opcode: number, length: number | bigint, o: { fin?: boolean; rsv1?: boolean } = {}): Buffer {
  const first = ((o.fin ?? true) ? 0x80 : 0) | (o.rsv1 ? 0x40 : 0) | opcode;
  const n = BigInt(length);
  if (n < 126n) return Buffer.from([first, 0x80 | Number(n)]);
  if (n < 65536n) {
    const b = Buffer.from([first, 0x80 | 126, 0, 0]);
    b.writeUInt16BE(Number(n), 2);
    return b;
  }
  const b = Buffer.alloc(10);
  b[0] = first;
  b[1] = 0x80 | 127;
  b.writeBigUInt64BE(n, 2);
  return b;
}

/**
 * A permessage-deflate payload that inflates to `mib` MiB of zeros, about 1 KiB
 * per MiB: one sync-flushed piece repeated (each piece's back-references stay
 * inside itself, so the pieces make one valid stream), as RFC 7692 §7.2.1 sends
 * it, without the final 00 00 ff ff.
 *
 * @example
 * const bomb = inflateBomb(1024); // 1 GiB once inflated, about 1 MiB on the wire
 */
export function inflateBomb(mib: number): Buffer {
  const piece = deflateRawSync(Buffer.alloc(MiB), { level: 9, finishFlush: zlibConstants.Z_SYNC_FLUSH });
  return Buffer.concat(Array.from({ length: mib }, () => piece)).subarray(0, piece.length * mib - 4);
}

const OP = { text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;
export { OP };

/**
 * A WebSocket opened over a raw TCP socket, so that the test writes any bytes
 * and reads (or does not read) on its own terms. It parses what the server sends
 * only far enough to find the close frame.
 */
export class RawSocket {
  /** The close code the server sent; undefined until its close frame came. */
  closeCode: number | undefined = undefined;
  /** Resolves when the TCP connection has ended, either way. */
  readonly ended: Promise<void>;
  /** Extensions the server accepted. */
  extensions = '';
  private buffered: Buffer = Buffer.alloc(0);
  private gotClose: ((code: number) => void) | undefined;
  private readonly closeFrame = new Promise<number>((resolve) => (this.gotClose = resolve));

  private constructor(readonly socket: net.Socket) {
    // Not events.once: a reset ('error' before 'close') is an end like any other here.
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
  }

  /**
   * Connects and completes an upgrade, offering permessage-deflate when asked.
   * `read: false` stops reading the socket after the 101, as a client that never reads.
   */
  static async open(port: number, o: { deflate?: boolean; read?: boolean } = {}): Promise<RawSocket> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const raw = new RawSocket(socket);
    socket.write(
      'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
        (o.deflate ? 'Sec-WebSocket-Extensions: permessage-deflate\r\n' : '') +
        '\r\n',
    );
    let head = Buffer.alloc(0);
    for (;;) {
      const [chunk] = (await once(socket, 'data')) as [Buffer];
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) continue;
      const text = head.subarray(0, end).toString();
      if (!text.startsWith('HTTP/1.1 101')) throw new Error(`upgrade refused: ${text}`);
      raw.extensions = /sec-websocket-extensions: *(.*)/i.exec(text)?.[1] ?? '';
      raw.take(head.subarray(end + 4));
      break;
    }
    if (o.read === false) socket.pause();
    else raw.read();
    return raw;
  }

  /** Starts (or resumes) reading what the server sent, as far as its close frame. */
  read(): void {
    if (this.socket.listenerCount('data') === 0) this.socket.on('data', (chunk: Buffer) => this.take(chunk));
    this.socket.resume();
  }

  /** Writes `bytes`; resolves once the kernel took them (or the socket is gone). */
  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) resolve();
      else this.socket.write(bytes, () => resolve());
    });
  }

  /**
   * Resolves with the server's close code once its close frame came (left
   * unanswered: whether the server then lets go is for the baseline checks),
   * or undefined once the connection ended without one.
   */
  closed(): Promise<number | undefined> {
    return Promise.race([this.closeFrame, this.ended.then(() => this.closeCode)]);
  }

  private take(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    for (;;) {
      const b = this.buffered;
      if (b.length < 2) return;
      let len = (b[1] as number) & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      if (b.length < at + len) return;
      if (((b[0] as number) & 0x0f) === OP.close) {
        this.closeCode = len >= 2 ? b.readUInt16BE(at) : 1005;
        this.gotClose?.(this.closeCode);
      }
      this.buffered = b.subarray(at + len);
    }
  }
}

/** What a plain TCP connection read before it ended, and whether it ended with a reset. */
export interface Answer {
  readonly text: string;
  readonly reset: boolean;
}

/**
 * Opens a plain TCP connection; `connected` resolves once it is established
 * (or has failed: see `socket.destroyed`), `answer` once it has ended, with
 * what the server sent ('' for nothing).
 */
export function rawConnection(port: number): { socket: net.Socket; connected: Promise<void>; answer: Promise<Answer> } {
  const socket = net.connect(port, '127.0.0.1');
  let reset = false;
  socket.on('error', (err: NodeJS.ErrnoException) => (reset ||= err.code === 'ECONNRESET'));
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  return {
    socket,
    connected: new Promise((resolve) => {
      socket.once('connect', () => resolve());
      socket.once('close', () => resolve());
    }),
    answer: new Promise((resolve) => socket.once('close', () => resolve({ text, reset }))),
  };
}

// ---------------------------------------------------------------- the bystander

/**
 * A well-behaved client on the attacked server: sends a numbered message every
 * 20 ms while the attack runs, and at `finish` checks that every one came back,
 * in order, and that it was never closed.
 *
 * @example
 * const bystander = await Bystander.open(port);
 * await attack();
 * await bystander.finish(); // throws if an echo was lost
 */
export class Bystander {
  private sent = 0;
  private readonly received: string[] = [];
  private closedWith: number | undefined;
  private readonly timer: NodeJS.Timeout;
  private allBack: (() => void) | undefined;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.received.push(String(data));
      if (this.received.length === this.sent) this.allBack?.();
    });
    ws.on('close', (code) => {
      this.closedWith = code;
      this.allBack?.();
    });
    this.timer = setInterval(() => this.send(), 20);
  }

  static async open(port: number): Promise<Bystander> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    await once(ws, 'open');
    return new Bystander(ws);
  }

  private send(): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(`bystander ${this.sent++}`);
  }

  /** Stops sending, waits for every echo, closes; throws naming what was lost. */
  async finish(): Promise<{ sent: number }> {
    clearInterval(this.timer);
    this.send();
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`bystander: ${this.received.length} of ${this.sent} echoes after ${DEADLINE_MS} ms`)), DEADLINE_MS);
      this.allBack = () => {
        clearTimeout(deadline);
        resolve();
      };
      if (this.received.length === this.sent || this.closedWith !== undefined) this.allBack();
    });
    if (this.closedWith !== undefined) throw new Error(`bystander closed with ${this.closedWith} after ${this.received.length} of ${this.sent} echoes`);
    const expected = Array.from({ length: this.sent }, (_, i) => `bystander ${i}`);
    if (this.received.join('\n') !== expected.join('\n')) throw new Error(`bystander: echoes out of order or changed`);
    this.ws.close(1000);
    await once(this.ws, 'close');
    return { sent: this.sent };
  }
}

/**
 * Runs `attack` against `target` with a bystander connected throughout, then
 * checks what every hostile test checks: the bystander lost nothing, the
 * server's RSS never grew by `boundBytes` or more over its baseline, and it
 * returned to that baseline (connections, processes, timers, and memory within
 * `slackBytes`, by default the same bound).
 *
 * @example
 * await underAttack(target(), 64 * MiB, async () => {
 *   expect(await attacker.closed()).toBe(1009);
 * });
 */
export async function underAttack(target: Target, boundBytes: number, attack: () => Promise<void>, slackBytes = boundBytes): Promise<void> {
  const baseline = await target.stats();
  const bystander = await Bystander.open(target.port);
  const peak = peakRss(target);
  try {
    await attack();
    await bystander.finish();
  } finally {
    const grown = (await peak.stop()) - baseline.rss;
    if (grown >= boundBytes) throw new Error(`the ${target.runtime} server grew by ${(grown / MiB).toFixed(1)} MiB under attack, over its bound of ${boundBytes / MiB} MiB`);
  }
  await backToBaseline(target, baseline, slackBytes);
}
