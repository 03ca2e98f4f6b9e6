/**
 * Measurement steps the server benchmarks share: running a server child for the
 * length of a measurement, reading its CPU over a load window, keeping each
 * variant's best run, and idle memory per connection.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { FellBehind, upgradeLoad, upgradeLoadAtRate, withClients, type LoadFigure } from './load-client.js';
import type { ServerChild } from './servers/server-child.js';

// The load shapes the issues name, the same for every server measured.
export const ECHO_CONNECTIONS = 64;
export const IN_FLIGHT = 16;
export const ECHO_PAYLOAD = 32;
export const ECHO_WARMUP_MS = 1000;
export const ECHO_MEASURE_MS = 4000;
export const IDLE_CONNECTIONS = 10_000;
/** Issue 13's larger count for idle memory; the fd limit cuts it (19,800 under this machine's 20,000). */
export const IDLE_CONNECTIONS_MAX = 50_000;
export const UPGRADE_CONCURRENCY = 16;
export const UPGRADE_WARMUP_MS = 500;
export const UPGRADE_MEASURE_MS = 3000;
export const BROADCAST_CONNECTIONS = 5000;
export const BROADCAST_BYTES = 64;
export const BROADCAST_WARMUP = 3;
export const BROADCASTS = 20;
/** Quiet time after each broadcast, so the next starts from an idle server. */
export const BROADCAST_PAUSE_MS = 20;
/** Runs of each rate variant; the best is reported. */
export const ROUNDS = 2;

/** A load figure with the server's CPU over the same window. */
export interface ServedFigure extends LoadFigure {
  /** Server CPU over the window, % of one core. */
  readonly serverCpu: number;
  /** Server CPU microseconds per operation (round trip, upgrade). */
  readonly serverUsPerOp: number;
  /** The same split by thread, where the load read it (Linux): the event loop's, and every other thread's (JIT, GC, the allocator's). */
  readonly threads?: ThreadSplit;
}

/** Server CPU microseconds per operation on its main thread and on its others. */
export interface ThreadSplit {
  readonly mainUs: number;
  readonly otherUs: number;
}

/** CPU nanoseconds so far of process `pid`'s main thread and of its other threads, from Linux's `/proc`; undefined elsewhere. */
export function threadCpuNs(pid: number): { readonly main: number; readonly other: number } | undefined {
  let main = 0;
  let other = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      if (Number(tid) === pid) main += ns;
      else other += ns;
    }
  } catch {
    return undefined;
  }
  return { main, other };
}

/** `main 61.2 + other threads 4.1 µs` */
export function threadsNote(t: ThreadSplit | undefined): string {
  return t === undefined ? 'not read here' : `main thread ${t.mainUs.toFixed(1)} + other threads ${t.otherUs.toFixed(1)} µs`;
}

/** Idle memory per connection. */
export interface IdleFigure {
  readonly heap: number;
  readonly rss: number;
}

/** `42%` */
export function pct(n: number): string {
  return `${n.toFixed(0)}%`;
}

/** Runs `fn` against a server child from `start`, which is stopped afterwards even on error. */
export async function withServer<T>(start: () => Promise<ServerChild>, fn: (server: ServerChild) => Promise<T>): Promise<T> {
  const server = await start();
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/**
 * Runs `load`, reading `server`'s CPU time at the edges of its measurement window.
 *
 * A saturated server answers the readings late, so its CPU is read over the span
 * between the two answers rather than the load's window (at a steady load the
 * operations in that span are the window's, scaled by its length). When the
 * answers come less than half a window apart (the first answered only near the
 * end), the server's figures are NaN rather than a CPU time of nearly nothing.
 */
export async function withServerCpu(server: ServerChild, load: (onWindow: (edge: 'start' | 'end') => void) => Promise<LoadFigure>): Promise<ServedFigure> {
  let cpuStart: Promise<number> | undefined;
  let cpuEnd: Promise<number> | undefined;
  let answeredStart = 0;
  let answeredEnd = 0;
  const f = await load((edge) => {
    const reading = server.cpuMs();
    if (edge === 'start') {
      cpuStart = reading.then((ms) => ((answeredStart = performance.now()), ms));
    } else {
      cpuEnd = reading.then((ms) => ((answeredEnd = performance.now()), ms));
    }
  });
  const serverMs = (await (cpuEnd as Promise<number>)) - (await (cpuStart as Promise<number>));
  const span = answeredEnd - answeredStart;
  if (span < f.ms / 2) return { ...f, serverCpu: NaN, serverUsPerOp: NaN };
  const ops = f.perSecond * (span / 1000);
  return { ...f, serverCpu: (serverMs / span) * 100, serverUsPerOp: ops === 0 ? NaN : (serverMs * 1000) / ops };
}

/**
 * Measures every variant `rounds` times, the variants taking turns so that load
 * from elsewhere on the machine falls on all of them alike, and keeps each
 * variant's best run: by default the fastest (the highest rate); with
 * `'cheapest'`, the least server CPU per operation, for loads at a fixed rate,
 * whose rates are equal (the cheapest run is the one least disturbed by the rest
 * of the machine; a NaN reading, see `withServerCpu`, loses to any number).
 */
export async function bestOf<V extends string>(
  variants: readonly V[],
  rounds: number,
  measureOne: (v: V) => Promise<ServedFigure>,
  keep: 'fastest' | 'cheapest' = 'fastest',
): Promise<Record<V, ServedFigure>> {
  const better = (f: ServedFigure, than: ServedFigure): boolean =>
    keep === 'fastest' ? f.perSecond > than.perSecond : Number.isNaN(than.serverUsPerOp) || f.serverUsPerOp < than.serverUsPerOp;
  const best = {} as Record<V, ServedFigure>;
  for (let round = 0; round < rounds; round++) {
    for (const v of variants) {
      const f = await measureOne(v);
      const previous = best[v] as ServedFigure | undefined;
      if (previous === undefined || better(f, previous)) best[v] = f;
    }
  }
  return best;
}

/** Heap and RSS per idle connection: `count` upgraded clients, after gc, minus before (one connection opened and closed first, so lazily built server parts are not counted). */
export async function idleMemory(server: ServerChild, count: number): Promise<IdleFigure> {
  await withClients(server.port, 1, () => server.awaitCount(1));
  await server.awaitCount(0);
  const before = await server.mem();
  return withClients(server.port, count, async () => {
    await server.awaitCount(count);
    const after = await server.mem();
    return { heap: (after.heapUsed - before.heapUsed) / count, rss: (after.rss - before.rss) / count };
  });
}

/** How the upgrade rows were measured, for their notes. */
export const UPGRADE_HOW =
  `${UPGRADE_CONCURRENCY} at a time: connect, upgrade, masked close frame, wait for the server to close TCP; ` +
  `best of ${ROUNDS} runs per server, taking turns, each ${UPGRADE_MEASURE_MS / 1000} s`;

/**
 * Upgrades per second against a server child from `start` (connect, upgrade, close
 * handshake, TCP close, `UPGRADE_CONCURRENCY` at a time), with the server's CPU
 * over the same window.
 *
 * @example
 * const { perSecond, serverUsPerOp } = await upgradesOf(() => startServer('bare-ws'));
 */
export function upgradesOf(start: () => Promise<ServerChild>): Promise<ServedFigure> {
  return withServer(start, (server) =>
    withServerCpu(server, (onWindow) =>
      upgradeLoad(server.port, { concurrency: UPGRADE_CONCURRENCY, warmupMs: UPGRADE_WARMUP_MS, measureMs: UPGRADE_MEASURE_MS, onWindow }),
    ),
  );
}

/** Offered upgrade rates for the CPU-per-upgrade rows: below every server's capacity here (see `upgradeCostsOf` for a slower machine). */
export const UPGRADE_RATE_WS = 2000;
export const UPGRADE_RATE_BUN = 5000;
/** Warm-up before a rate load's window: longer than a saturated one's, as fewer upgrades warm the JIT. */
export const UPGRADE_RATE_WARMUP_MS = 2000;
/**
 * The same on Bun: JavaScriptCore tiers code up later than V8 does. At 3,000/s
 * after 2 s, its JIT threads still spent 17 µs per beamsock upgrade compiling
 * (0.2 µs on bare Bun, whose JavaScript is a few lines); after 5 s, 1.5 µs.
 */
export const UPGRADE_RATE_WARMUP_BUN_MS = 8000;

/** How the rate rows were measured, for their notes. */
export function upgradeRateHow(rate: number, warmupMs = UPGRADE_RATE_WARMUP_MS): string {
  return (
    `${rate.toLocaleString('en-US')} upgrades/s offered (an open loop, below every server's capacity), connect, upgrade, masked close frame, ` +
    `TCP close; server process.cpuUsage over ${UPGRADE_MEASURE_MS / 1000} s after ${warmupMs / 1000} s, the lower of ${ROUNDS} runs per server, taking turns`
  );
}

/**
 * The server's CPU per upgrade at a fixed offered `rate` (see `upgradeLoadAtRate`).
 *
 * @example
 * const { serverUsPerOp } = await upgradeCostOf(() => startServer('bare-ws'), UPGRADE_RATE_WS);
 */
export function upgradeCostOf(start: () => Promise<ServerChild>, rate: number, warmupMs = UPGRADE_RATE_WARMUP_MS): Promise<ServedFigure> {
  return withServer(start, async (server) => {
    let first: ReturnType<typeof threadCpuNs>;
    let last: ReturnType<typeof threadCpuNs>;
    const f = await withServerCpu(server, (onWindow) =>
      upgradeLoadAtRate(server.port, {
        rate,
        warmupMs,
        measureMs: UPGRADE_MEASURE_MS,
        onWindow: (edge) => {
          if (edge === 'start') first = threadCpuNs(server.pid);
          else last = threadCpuNs(server.pid);
          onWindow(edge);
        },
      }),
    );
    if (first === undefined || last === undefined || f.perSecond === 0) return f;
    const ops = (f.perSecond * f.ms) / 1000;
    return { ...f, threads: { mainUs: (last.main - first.main) / 1000 / ops, otherUs: (last.other - first.other) / 1000 / ops } };
  });
}

/** Each variant's cheapest CPU per upgrade at one offered rate, and that rate. */
export interface UpgradeCosts<V extends string> {
  readonly rate: number;
  readonly figures: Record<V, ServedFigure>;
}

/**
 * Every variant's server CPU per upgrade at `rate` (the cheapest of `ROUNDS`
 * runs, taking turns; see `upgradeCostOf`). When any server, or the load
 * client, cannot keep up with the rate (a slower or busier machine than the
 * one the rate was chosen on), every variant is measured again at three
 * quarters of it, so the figures beside each other always share one rate.
 *
 * @example
 * const { rate, figures } = await upgradeCostsOf(['bare-ws', 'beamsock'], (v) => startServer(v), UPGRADE_RATE_WS);
 */
export async function upgradeCostsOf<V extends string>(
  variants: readonly V[],
  start: (v: V) => Promise<ServerChild>,
  rate: number,
  warmupMs = UPGRADE_RATE_WARMUP_MS,
): Promise<UpgradeCosts<V>> {
  for (let r = rate; ; ) {
    try {
      return { rate: r, figures: await bestOf(variants, ROUNDS, (v) => upgradeCostOf(() => start(v), r, warmupMs), 'cheapest') };
    } catch (err) {
      if (!(err instanceof FellBehind) || r <= 500) throw err;
      // Three quarters, in whole hundreds.
      r = Math.floor((r * 0.75) / 100) * 100;
      console.error(`${err.message}: measuring every server again at ${r}/s`);
    }
  }
}
