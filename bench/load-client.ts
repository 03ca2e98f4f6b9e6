/**
 * A WebSocket load client light enough not to be the bottleneck: raw `node:net`
 * sockets, a hand-written HTTP upgrade, frames built and masked once up front
 * (constant mask key), and a reader that only finds frame boundaries in the
 * server's unmasked frames to count them.
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const MASK = [0x37, 0xfa, 0x21, 0x3d] as const;
const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * The upgrade request the load client sends to 127.0.0.1:`port`, built once per load.
 *
 * @example
 * await oneLife(port, upgradeRequest(port));
 */
export function upgradeRequest(port: number): Buffer {
  return Buffer.from(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${KEY}\r\n\r\n`,
  );
}

/** One masked client frame (RFC 6455 §5.2) with a payload under 126 bytes. */
export function maskedFrame(opcode: number, payload: Buffer): Buffer {
  if (payload.length >= 126) throw new RangeError(`maskedFrame builds payloads under 126 bytes, got ${payload.length}`);
  const frame = Buffer.allocUnsafe(6 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length;
  for (let i = 0; i < 4; i++) frame[2 + i] = MASK[i] as number;
  for (let i = 0; i < payload.length; i++) frame[6 + i] = (payload[i] as number) ^ (MASK[i & 3] as number);
  return frame;
}

/** A masked close frame with code 1000. */
const CLOSE_FRAME = maskedFrame(0x8, Buffer.from([0x03, 0xe8]));

/**
 * One upgraded connection. Counts the server's frames as they complete and hands
 * the count of each read to `onFrames`.
 */
export class RawClient {
  /** Called once per read with the number of frames that read completed (never 0). */
  onFrames: (count: number) => void = () => undefined;
  /** Payload bytes still to come of a frame whose header was read. */
  private skip = 0;
  /** The start of a header split across reads. */
  private partial: Buffer | null = null;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.read(chunk));
  }

  private read(data: Buffer): void {
    let chunk = data;
    if (this.partial !== null) {
      chunk = Buffer.concat([this.partial, chunk]);
      this.partial = null;
    }
    const len = chunk.length;
    let i = 0;
    let frames = 0;
    if (this.skip > 0) {
      const n = Math.min(this.skip, len);
      this.skip -= n;
      i = n;
      if (this.skip === 0) frames++;
    }
    while (i < len) {
      if (len - i < 2) {
        this.partial = chunk.subarray(i);
        break;
      }
      let payload = (chunk[i + 1] as number) & 0x7f;
      let header = 2;
      if (payload === 126) {
        if (len - i < 4) {
          this.partial = chunk.subarray(i);
          break;
        }
        payload = chunk.readUInt16BE(i + 2);
        header = 4;
      } else if (payload === 127) {
        if (len - i < 10) {
          this.partial = chunk.subarray(i);
          break;
        }
        payload = Number(chunk.readBigUInt64BE(i + 2));
        header = 10;
      }
      i += header;
      if (len - i >= payload) {
        i += payload;
        frames++;
      } else {
        this.skip = payload - (len - i);
        i = len;
      }
    }
    if (frames > 0) this.onFrames(frames);
  }
}

/**
 * Connects to `port` and upgrades; resolves with the socket and whatever followed
 * the 101 response. Rejects on any other response or a socket error.
 */
function upgraded(port: number, request: Buffer): Promise<{ socket: net.Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    // No local address is bound, so connect() picks ports per destination (and may reuse
    // TIME_WAIT ports on loopback): thousands of short connections do not run out of ports.
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    let head: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const end = head.indexOf(HEADER_END);
      if (end === -1) return;
      socket.off('data', onData);
      socket.off('error', reject);
      const status = head.subarray(0, head.indexOf('\r\n')).toString();
      if (!status.startsWith('HTTP/1.1 101')) {
        socket.destroy();
        reject(new Error(`upgrade to 127.0.0.1:${port} answered '${status}', expected HTTP/1.1 101`));
        return;
      }
      resolve({ socket, rest: head.subarray(end + HEADER_END.length) });
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.once('connect', () => socket.write(request));
  });
}

/**
 * Opens `count` upgraded connections to 127.0.0.1:`port`, at most `concurrency`
 * handshakes at a time. Rejects (after closing what it opened) if one fails.
 *
 * @example
 * const clients = await openClients(port, 64);
 */
export async function openClients(port: number, count: number, concurrency = 256): Promise<RawClient[]> {
  const request = upgradeRequest(port);
  const clients: RawClient[] = [];
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < count) {
      started++;
      const { socket, rest } = await upgraded(port, request);
      socket.on('error', () => socket.destroy());
      const client = new RawClient(socket);
      if (rest.length > 0) socket.unshift(rest);
      clients.push(client);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } catch (err) {
    closeClients(clients);
    throw err;
  }
  return clients;
}

/**
 * Makes `clients` answer the server's close frame as a browser does: with a close
 * frame, then the end of the TCP connection. Only for clients that get nothing
 * else (any frame counts as the close).
 *
 * @example
 * answerCloses(idleClients);
 */
export function answerCloses(clients: readonly RawClient[]): void {
  for (const c of clients) {
    c.onFrames = () => {
      c.socket.end(CLOSE_FRAME);
    };
  }
}

/**
 * One masked 32-byte text frame, as `echoLoad` sends.
 *
 * @example
 * client.socket.write(echoFrame());
 */
export function echoFrame(payloadBytes = 32): Buffer {
  return maskedFrame(0x1, Buffer.alloc(payloadBytes, 'a'));
}

/**
 * Cuts every connection.
 *
 * @example
 * closeClients(clients);
 */
export function closeClients(clients: readonly RawClient[]): void {
  for (const c of clients) c.socket.destroy();
}

/**
 * Runs `fn` with `count` upgraded connections to 127.0.0.1:`port`, all cut
 * afterwards, also when `fn` throws.
 *
 * @example
 * const n = await withClients(port, 64, async (clients) => clients.length);
 */
export async function withClients<T>(port: number, count: number, fn: (clients: RawClient[]) => Promise<T>): Promise<T> {
  const clients = await openClients(port, count);
  try {
    return await fn(clients);
  } finally {
    closeClients(clients);
  }
}

/**
 * CPU time in `usage` as % of one core over `ms`.
 *
 * @example
 * const before = process.cpuUsage();
 * // ... work for 1000 ms
 * cpuPercent(process.cpuUsage(before), 1000); // e.g. 42
 */
export function cpuPercent(usage: NodeJS.CpuUsage, ms: number): number {
  return ((usage.user + usage.system) / 1000 / ms) * 100;
}

/** A rate measured over a window, and the load client's CPU use over it. */
export interface LoadFigure {
  readonly perSecond: number;
  /** The load client's CPU time over the window, as % of one core. */
  readonly clientCpu: number;
  /** The window's length in ms. */
  readonly ms: number;
}

/** When a load measures: after a warm-up, over a window. */
export interface LoadWindow {
  readonly warmupMs: number;
  readonly measureMs: number;
  /** Called at the start and end of the measurement window (e.g. to read the server's CPU). */
  readonly onWindow?: (edge: 'start' | 'end') => void;
}

/** Waits out the warm-up, then counts what `done()` reports over the window. */
async function measureWindow(w: LoadWindow, done: () => number): Promise<LoadFigure> {
  await sleep(w.warmupMs);
  w.onWindow?.('start');
  const startCount = done();
  const startCpu = process.cpuUsage();
  const start = performance.now();
  await sleep(w.measureMs);
  const count = done() - startCount;
  const cpu = process.cpuUsage(startCpu);
  const ms = performance.now() - start;
  w.onWindow?.('end');
  return { perSecond: count / (ms / 1000), clientCpu: cpuPercent(cpu, ms), ms };
}

/** Options of `echoLoad`. */
export interface EchoLoadOptions extends LoadWindow {
  /** Frames each connection keeps in flight. */
  readonly inFlight: number;
  /** Text payload size in bytes (under 126). */
  readonly payloadBytes: number;
}

/**
 * Echo round trips per second over `clients`: each connection keeps `inFlight`
 * masked text frames outstanding and, per read, writes as many new frames as
 * echoes that read completed, in one write. Leaves the clients with nothing to do
 * (frames still in flight are ignored); close them afterwards.
 *
 * @example
 * const { perSecond, clientCpu } = await echoLoad(clients, { inFlight: 16, payloadBytes: 32, warmupMs: 1000, measureMs: 4000 });
 */
export async function echoLoad(clients: readonly RawClient[], o: EchoLoadOptions): Promise<LoadFigure> {
  const frame = echoFrame(o.payloadBytes);
  const batch = Buffer.concat(Array.from({ length: o.inFlight }, () => frame));
  // batches[k] holds k frames: a refill is one write of a view made up front.
  const batches = Array.from({ length: o.inFlight + 1 }, (_, k) => batch.subarray(0, k * frame.length));
  const full = batches[o.inFlight] as Buffer;
  let echoes = 0;
  let running = true;
  for (const c of clients) {
    const socket = c.socket;
    c.onFrames = (n) => {
      echoes += n;
      if (running) socket.write(batches[n] ?? full);
    };
    socket.write(full);
  }
  const figure = await measureWindow(o, () => echoes);
  running = false;
  for (const c of clients) c.onFrames = () => undefined;
  return figure;
}

/** Options of `upgradeLoad`. */
export interface UpgradeLoadOptions extends LoadWindow {
  /** Handshakes in progress at once. */
  readonly concurrency: number;
}

/**
 * One full WebSocket life: connect, upgrade, send a close frame, wait until the
 * server has closed the TCP connection. Rejects if the upgrade is refused.
 *
 * @example
 * await oneLife(port, upgradeRequest(port));
 */
export async function oneLife(port: number, request: Buffer): Promise<void> {
  const { socket } = await upgraded(port, request);
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    // The server answers with its close frame, then ends the TCP connection; this side ends in turn.
    socket.on('close', () => resolve());
    socket.resume();
    socket.write(CLOSE_FRAME);
  });
}

/**
 * Completed WebSocket lives (connect, upgrade, close handshake, TCP close) per
 * second against 127.0.0.1:`port`, `concurrency` at a time.
 *
 * @example
 * const { perSecond } = await upgradeLoad(port, { concurrency: 16, warmupMs: 500, measureMs: 3000 });
 */
export async function upgradeLoad(port: number, o: UpgradeLoadOptions): Promise<LoadFigure> {
  const request = upgradeRequest(port);
  let done = 0;
  let running = true;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (running) {
      await oneLife(port, request);
      done++;
    }
  };
  const workers = Promise.all(Array.from({ length: o.concurrency }, worker)).catch((err: unknown) => {
    failed = err;
    running = false;
  });
  const figure = await measureWindow(o, () => done);
  running = false;
  await workers;
  if (failed !== undefined) throw failed;
  return figure;
}

/** Options of `upgradeLoadAtRate`. */
export interface UpgradeRateOptions extends LoadWindow {
  /** WebSocket lives started per second, whether or not earlier ones have finished. */
  readonly rate: number;
}

/** Lives a rate load lets run at once; a server this far behind is not keeping up with the rate. */
const RATE_MAX_IN_FLIGHT = 512;

/** What `upgradeLoadAtRate` rejects with when the server (or this client) cannot keep up with the offered rate. */
export class FellBehind extends Error {
  constructor(
    readonly port: number,
    readonly rate: number,
  ) {
    super(`127.0.0.1:${port} fell behind ${rate} upgrades/s (${RATE_MAX_IN_FLIGHT} in flight)`);
    this.name = 'FellBehind';
  }
}

/**
 * Completed WebSocket lives per second against 127.0.0.1:`port` when `rate` are
 * started each second, every 10 ms a batch (an open loop: a slow server does not
 * slow the offer). Below every server's capacity, all servers do the same work
 * under the same client, so the server CPU per life compares servers without the
 * scheduling effects of a saturated 2-core machine. Rejects when a life fails, or
 * with `FellBehind` when `RATE_MAX_IN_FLIGHT` are in flight (the server cannot keep up).
 *
 * @example
 * const { perSecond } = await upgradeLoadAtRate(port, { rate: 2000, warmupMs: 1000, measureMs: 3000 });
 */
export async function upgradeLoadAtRate(port: number, o: UpgradeRateOptions): Promise<LoadFigure> {
  const request = upgradeRequest(port);
  let done = 0;
  let inFlight = 0;
  let failed: unknown;
  let due = 0;
  const started = performance.now();
  let launched = 0;
  const timer = setInterval(() => {
    due = Math.floor(((performance.now() - started) / 1000) * o.rate);
    for (; launched < due && failed === undefined; launched++) {
      if (inFlight >= RATE_MAX_IN_FLIGHT) {
        failed = new FellBehind(port, o.rate);
        break;
      }
      inFlight++;
      oneLife(port, request).then(
        () => {
          inFlight--;
          done++;
        },
        (err: unknown) => {
          inFlight--;
          failed ??= err;
        },
      );
    }
  }, 10);
  try {
    const figure = await measureWindow(o, () => done);
    if (failed !== undefined) throw failed;
    return figure;
  } finally {
    clearInterval(timer);
    while (inFlight > 0) await sleep(10);
  }
}

/** Longest wait for one broadcast to reach every client. */
const DELIVERY_TIMEOUT_MS = 30_000;

/** Medians over the timed broadcasts of a `BroadcastTimer`. */
export interface BroadcastFigure {
  /** Ms from triggering a broadcast until every client has the frame. */
  readonly ms: number;
  /** Server CPU ms per broadcast, as the server reported it. */
  readonly serverCpuMs: number;
  /** Server wall-clock ms from the trigger until every socket was written, as the server reported it. */
  readonly serverWallMs: number;
  /** The load client's CPU over the timed broadcasts, % of one core. */
  readonly clientCpu: number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * Times broadcasts to `clients`, one at a time: `trigger` asks the server for one
 * broadcast and resolves with its own CPU and wall-clock figures; each broadcast
 * counts as delivered when every client has received one frame. Takes over the
 * clients' `onFrames` for each broadcast.
 *
 * @example
 * const timer = new BroadcastTimer(server.name, clients, () => server.request('broadcast', { message: msg }));
 * for (let i = 0; i < 20; i++) await timer.once(i >= 3);
 * timer.figure().ms;
 */
export class BroadcastTimer {
  private received = 0;
  private allIn: () => void = () => undefined;
  private readonly times: number[] = [];
  private readonly cpus: number[] = [];
  private readonly walls: number[] = [];
  private clientCpuUs = 0;
  private timedMs = 0;

  constructor(
    private readonly name: string,
    private readonly clients: readonly RawClient[],
    private readonly trigger: () => Promise<{ readonly cpuMs?: number; readonly wallMs?: number }>,
  ) {}

  /**
   * One broadcast; its figures are kept when `timed`. Rejects when it does not
   * reach every client within 30 s, or reaches one twice.
   */
  async once(timed: boolean): Promise<void> {
    const count = this.clients.length;
    this.received = 0;
    // Taken over for each broadcast, so that several timers may take turns on the same clients.
    for (const c of this.clients) {
      c.onFrames = (n) => {
        this.received += n;
        if (this.received === count) this.allIn();
      };
    }
    const delivered = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name}: a broadcast reached ${this.received} of ${count} clients in ${DELIVERY_TIMEOUT_MS} ms`)),
        DELIVERY_TIMEOUT_MS,
      );
      this.allIn = () => {
        clearTimeout(timer);
        resolve(performance.now());
      };
    });
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    const [end, reply] = await Promise.all([delivered, this.trigger()]);
    const cpu = process.cpuUsage(cpu0);
    if (this.received !== count) throw new Error(`${this.name}: a broadcast delivered ${this.received} frames to ${count} clients`);
    if (!timed) return;
    this.times.push(end - start);
    this.cpus.push(reply.cpuMs ?? NaN);
    this.walls.push(reply.wallMs ?? NaN);
    this.clientCpuUs += cpu.user + cpu.system;
    this.timedMs += performance.now() - start;
  }

  /** Medians of the timed broadcasts so far. */
  figure(): BroadcastFigure {
    return {
      ms: median(this.times),
      serverCpuMs: median(this.cpus),
      serverWallMs: median(this.walls),
      clientCpu: cpuPercent({ user: this.clientCpuUs, system: 0 }, this.timedMs),
    };
  }
}
