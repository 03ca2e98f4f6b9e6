/**
 * The control side of a bench server child: the parent (`bench/ws.ts`) drives it
 * over the IPC channel. Every request carries an `id` the reply repeats.
 *
 * - `{cmd:'mem'}`: `{heapUsed, rss}` in bytes after two full GCs, once pending work settled.
 * - `{cmd:'cpu'}`: `{cpuMs}`, the process's user + system CPU time so far (or the server's, all its processes together).
 * - `{cmd:'count'}`: `{count}`, connections the server holds (subscribers, for a broadcast server).
 * - `{cmd:'broadcast', mode?}`: runs one broadcast and replies `{cpuMs, wallMs, startedAt}` once the server
 *   has written it to every socket (the CPU and wall-clock time that took); `mode` picks
 *   how, among the ways the server knows (its first is the default).
 * - `{cmd:'arm', ms}`: gives every connection an idle timeout of `ms` from now, all at
 *   once, so that the idle ones time out together (the stall bench).
 * - `{cmd:'stalls'}`: `{stallCpuMs, stallWallMs}`, the most CPU time and wall-clock time the
 *   server spent between two runs of a 1 ms interval timer since the previous `stalls`
 *   (the first call starts the timer): how long its event loop could not reach a
 *   timer or a socket. The CPU figure does not grow when other processes take the core.
 *   Also `{gcCount, gcMaxMs, gcTotalMs}`: the garbage collector's pauses over the same span.
 * - `{cmd:'exit'}`: exits, so `--cpu-prof` can write its profile.
 *
 * Without a parent (the channel closes) the child exits too.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PerformanceObserver } from 'node:perf_hooks';

/** What a server program plugs into the control channel. */
export interface ServerHooks {
  /** Connections (or subscribers) held now. */
  count(): number;
  /** Resolves when work already started (connection setup, closes) has finished; `mem` and `count` wait for it. */
  settle?(): Promise<void>;
  /** CPU ms used so far, when more than this process serves (the workers of a server on several cores). */
  cpuMs?(): Promise<number>;
  /** One broadcast of `message` the way `mode` names (undefined: the server's usual way); resolves when every socket has been written to. */
  broadcast?(message: string, mode: string | undefined): void | Promise<void>;
  /** Every connection idles out `ms` after this call unless it receives something. */
  arm?(ms: number): void;
}

/** A control request from the parent. */
export interface ControlRequest {
  readonly id: number;
  readonly cmd: 'mem' | 'cpu' | 'count' | 'broadcast' | 'arm' | 'stalls' | 'exit';
  /** The text to broadcast, for `broadcast`. */
  readonly message?: string;
  /** How to broadcast, for `broadcast`; the idle timeout in ms, for `arm`. */
  readonly mode?: string;
  readonly ms?: number;
}

/** Every reply field any command may set, besides the request's id. */
export interface ControlReply extends Partial<StallFigures> {
  readonly id: number;
  readonly heapUsed?: number;
  readonly rss?: number;
  readonly cpuMs?: number;
  /** For `broadcast`: ms from receiving the request until every socket was written to. */
  readonly wallMs?: number;
  /** For `broadcast`: when it started, in ms since the epoch (`performance.timeOrigin` based), to set beside the parent's clock. */
  readonly startedAt?: number;
  readonly count?: number;
  readonly error?: string;
}

/** What `stalls` answers (see the module doc). */
export interface StallFigures {
  /** The longest gap between two timer runs, in CPU ms and in wall-clock ms. */
  readonly stallCpuMs: number;
  readonly stallWallMs: number;
  /** The garbage collector's pauses over the same span (Node's `gc` performance entries): how many, the longest and their sum, in ms. */
  readonly gcCount: number;
  readonly gcMaxMs: number;
  readonly gcTotalMs: number;
}

/** The first message a child sends: where it listens. */
export interface ListeningMessage {
  readonly port: number;
}

function cpuMs(since?: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

function gc(): void {
  if (globalThis.gc === undefined) throw new Error('bench servers run with node --expose-gc (bench/ws.ts passes it)');
  globalThis.gc();
  globalThis.gc();
}

/** The longest gaps between two runs of the stall meter's timer since it was last read, and the garbage collector's pauses. */
const stalls = { cpu: 0, wall: 0, gcCount: 0, gcMax: 0, gcTotal: 0, timer: undefined as NodeJS.Timeout | undefined };

function readStalls(): StallFigures {
  const figures = { stallCpuMs: stalls.cpu, stallWallMs: stalls.wall, gcCount: stalls.gcCount, gcMaxMs: stalls.gcMax, gcTotalMs: stalls.gcTotal };
  stalls.cpu = 0;
  stalls.wall = 0;
  stalls.gcCount = 0;
  stalls.gcMax = 0;
  stalls.gcTotal = 0;
  if (stalls.timer === undefined) {
    // Bun has no 'gc' entries; its figures stay 0.
    try {
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          stalls.gcCount++;
          stalls.gcMax = Math.max(stalls.gcMax, e.duration);
          stalls.gcTotal += e.duration;
        }
      }).observe({ entryTypes: ['gc'] });
    } catch {
      // no gc entries here
    }
    let cpu = cpuMs();
    let wall = performance.now();
    stalls.timer = setInterval(() => {
      const c = cpuMs();
      const w = performance.now();
      stalls.cpu = Math.max(stalls.cpu, c - cpu);
      stalls.wall = Math.max(stalls.wall, w - wall);
      cpu = c;
      wall = w;
    }, 1);
    stalls.timer.unref();
  }
  return figures;
}

async function answer(req: ControlRequest, hooks: ServerHooks): Promise<Omit<ControlReply, 'id'>> {
  switch (req.cmd) {
    case 'mem': {
      await hooks.settle?.();
      gc();
      const m = process.memoryUsage();
      return { heapUsed: m.heapUsed, rss: m.rss };
    }
    case 'cpu':
      // Under --cpu-prof, the edges of a measurement window on the profile's clock (µs), for scripts that read one window.
      if (process.env['BEAMSOCK_BENCH_CPU_PROF'] !== undefined) {
        // Node makes the profile's directory only when it writes the profile, at exit.
        mkdirSync(process.env['BEAMSOCK_BENCH_CPU_PROF'], { recursive: true });
        appendFileSync(`${process.env['BEAMSOCK_BENCH_CPU_PROF']}/window-${process.pid}.txt`, `${process.hrtime.bigint() / 1000n}\n`);
      }
      return { cpuMs: hooks.cpuMs === undefined ? cpuMs() : await hooks.cpuMs() };
    case 'count':
      await hooks.settle?.();
      return { count: hooks.count() };
    case 'broadcast': {
      if (hooks.broadcast === undefined) throw new Error('this server has no broadcast');
      const before = process.cpuUsage();
      const start = performance.now();
      await hooks.broadcast(req.message ?? '', req.mode);
      return { cpuMs: cpuMs(before), wallMs: performance.now() - start, startedAt: performance.timeOrigin + start };
    }
    case 'arm':
      if (hooks.arm === undefined) throw new Error('this server has no idle timeout to arm');
      hooks.arm(req.ms ?? 0);
      return {};
    case 'stalls':
      return readStalls();
    case 'exit':
      setImmediate(() => process.exit(0));
      return {};
  }
}

/**
 * Tells the parent the port `server` listens on and answers its requests with `hooks`.
 * Throws when the process was not started with an IPC channel.
 *
 * @example
 * http.listen(0, '127.0.0.1', () => startControl(http, { count: () => wss.clients.size }));
 */
export function startControl(server: Server, hooks: ServerHooks): void {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('a bench server must be started by bench/ws.ts (it needs the IPC channel)');
  process.on('disconnect', () => process.exit(0));
  process.on('message', (req: ControlRequest) => {
    answer(req, hooks).then(
      (reply) => send({ id: req.id, ...reply }),
      (err: unknown) => send({ id: req.id, error: err instanceof Error ? err.message : String(err) }),
    );
  });
  send({ port: (server.address() as AddressInfo).port } satisfies ListeningMessage);
}
