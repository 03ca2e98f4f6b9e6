/**
 * Bun adapter benchmarks: beamsock's `serve()` from `beamsock/bun` against bare
 * `Bun.serve`, and against beamsock on `ws` (Node). Each server runs in its own
 * child process (`bench/servers/bun-*.ts` under the `bun` devDependency,
 * `bench/servers/beamsock.ts` under Node), driven over IPC; the load comes from
 * `bench/load-client.ts` in this (Node) process, all on 127.0.0.1.
 *
 * - echo round trips/s: 64 connections x 16 frames in flight, 32-byte text.
 * - upgrades/s: connect, upgrade, close handshake, 16 at a time.
 * - broadcast of 64 bytes to 5,000 connections: Bun's native `server.publish`
 *   against PubSub with the fastlane dispatcher on Bun (which hands the fan-out
 *   to `server.publish` itself) and on ws.
 * - idle connection: heap and RSS per connection over 10,000 idle connections, and over as
 *   many as the fd limit allows toward 50,000.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { BroadcastTimer, echoLoad, withClients, type BroadcastFigure, type RawClient } from './load-client.js';
import {
  bestOf,
  idleMemory,
  pct,
  upgradesOf,
  upgradeCostsOf,
  upgradeRateHow,
  UPGRADE_RATE_BUN,
  UPGRADE_RATE_WARMUP_BUN_MS,
  threadsNote,
  UPGRADE_HOW,
  withServer,
  withServerCpu,
  ECHO_CONNECTIONS,
  IN_FLIGHT,
  ECHO_PAYLOAD,
  ECHO_WARMUP_MS,
  ECHO_MEASURE_MS,
  IDLE_CONNECTIONS,
  IDLE_CONNECTIONS_MAX,
  BROADCAST_CONNECTIONS,
  BROADCAST_BYTES,
  BROADCAST_WARMUP,
  BROADCASTS,
  ROUNDS,
  BROADCAST_PAUSE_MS,
  type IdleFigure,
  type ServedFigure,
} from './measure.js';
import type { BenchResult } from './report.js';
import { ServerChild, budgetLabel, connectionBudget } from './servers/server-child.js';


const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUN = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'bun.exe' : 'bun');

/** A Bun bench server program, or beamsock on ws to compare with. */
export type Variant = 'bun-bare' | 'bun-beamsock' | 'ws-beamsock';
const VARIANTS: readonly Variant[] = ['bun-bare', 'bun-beamsock', 'ws-beamsock'];

const LABELS: Readonly<Record<Variant, string>> = {
  'bun-bare': 'bare Bun.serve',
  'bun-beamsock': 'beamsock on Bun',
  'ws-beamsock': 'beamsock on ws',
};

/**
 * Starts a variant's server program: `bench/servers/bun-*.ts` under Bun, `beamsock.ts` under Node and tsx.
 *
 * @example
 * const server = await startServer('bun-bare', ['pubsub']);
 */
export function startServer(variant: Variant, args: readonly string[] = []): Promise<ServerChild> {
  const name = [variant, ...args].join(' ');
  if (variant === 'ws-beamsock') {
    const argv = ['--expose-gc', '--conditions=beamsock-source', '--import', 'tsx', path.join('bench', 'servers', 'beamsock.ts'), ...args];
    return ServerChild.start(name, process.execPath, argv, ROOT);
  }
  return ServerChild.start(name, BUN, [path.join('bench', 'servers', `${variant}.ts`), ...args], ROOT);
}

/** Runs `fn` with a server child and `count` upgraded clients of it, all stopped afterwards. */
function withConnected<T>(variant: Variant, args: readonly string[], count: number, fn: (server: ServerChild, clients: RawClient[]) => Promise<T>): Promise<T> {
  return withServer(
    () => startServer(variant, args),
    (server) =>
      withClients(server.port, count, async (clients) => {
        await server.awaitCount(count);
        return fn(server, clients);
      }),
  );
}

// Echo ----------------------------------------------------------------------------------

function echo(variant: Variant): Promise<ServedFigure> {
  return withConnected(variant, [], ECHO_CONNECTIONS, (server, clients) =>
    withServerCpu(server, (onWindow) =>
      echoLoad(clients, { inFlight: IN_FLIGHT, payloadBytes: ECHO_PAYLOAD, warmupMs: ECHO_WARMUP_MS, measureMs: ECHO_MEASURE_MS, onWindow }),
    ),
  );
}

// Idle memory -----------------------------------------------------------------------------

function idleOf(variant: Variant, count: number): Promise<IdleFigure> {
  return withServer(() => startServer(variant), (server) => idleMemory(server, count));
}

// Broadcast -------------------------------------------------------------------------------

/** What `broadcasts` times: each variant, and beamsock on Bun's fastlane writing every socket itself (`per-socket`). */
type Broadcaster = Variant | 'per-socket';

/**
 * Every variant broadcasting to `count` connections of its own, taking turns;
 * beamsock on Bun also with a fastlane that writes each socket itself, on the
 * same server and clients, so the two differ only in the fan-out.
 */
async function broadcasts(count: number): Promise<Record<Broadcaster, BroadcastFigure>> {
  const message = 'b'.repeat(BROADCAST_BYTES);
  const run = async (i: number, timers: readonly [Broadcaster, BroadcastTimer][]): Promise<Record<Broadcaster, BroadcastFigure>> => {
    if (i < VARIANTS.length) {
      const v = VARIANTS[i] as Variant;
      return withConnected(v, ['pubsub'], count, (server, clients) => {
        const own: [Broadcaster, BroadcastTimer][] = [[v, new BroadcastTimer(server.name, clients, () => server.request('broadcast', { message }))]];
        if (v === 'bun-beamsock') {
          own.push(['per-socket', new BroadcastTimer(`${server.name} per socket`, clients, () => server.request('broadcast', { message, mode: 'fastlane-per-socket' }))]);
        }
        return run(i + 1, [...timers, ...own]);
      });
    }
    for (let n = 0; n < BROADCAST_WARMUP + BROADCASTS; n++) {
      // Rotate who goes first, so none always follows another's aftermath.
      for (let k = 0; k < timers.length; k++) {
        await (timers[(n + k) % timers.length] as [Broadcaster, BroadcastTimer])[1].once(n >= BROADCAST_WARMUP);
        await sleep(BROADCAST_PAUSE_MS);
      }
    }
    return Object.fromEntries(timers.map(([v, t]) => [v, t.figure()])) as Record<Broadcaster, BroadcastFigure>;
  };
  return run(0, []);
}

// The table -------------------------------------------------------------------------------

/**
 * Runs every Bun adapter benchmark and returns one row per figure, beamsock on
 * Bun beside bare `Bun.serve` (and beamsock on ws) measured in the same run.
 * Throws if a server fails to start or a load step stalls; every child is killed either way.
 *
 * @example
 * console.log(formatTable(await run()));
 */
export async function run(): Promise<BenchResult[]> {
  try {
    return await measure();
  } finally {
    ServerChild.killAll();
  }
}

async function measure(): Promise<BenchResult[]> {
  const echoes = await bestOf(VARIANTS, ROUNDS, echo);
  const ups = await bestOf(['bun-bare', 'bun-beamsock'] as const, ROUNDS, (v) => upgradesOf(() => startServer(v)));
  const { rate: upRate, figures: upCost } = await upgradeCostsOf(['bun-bare', 'bun-beamsock'] as const, startServer, UPGRADE_RATE_BUN, UPGRADE_RATE_WARMUP_BUN_MS);
  const castN = connectionBudget(BROADCAST_CONNECTIONS, 3);
  const cast = await broadcasts(castN);
  const idleN = connectionBudget(IDLE_CONNECTIONS, 1);
  const idle = {
    'bun-bare': await idleOf('bun-bare', idleN),
    'bun-beamsock': await idleOf('bun-beamsock', idleN),
    'ws-beamsock': await idleOf('ws-beamsock', idleN),
  };
  const idleMaxN = connectionBudget(IDLE_CONNECTIONS_MAX, 1);
  const idleMax = idleMaxN > idleN ? { bare: await idleOf('bun-bare', idleMaxN), beamsock: await idleOf('bun-beamsock', idleMaxN) } : undefined;

  const bare = LABELS['bun-bare'];
  const onWs = LABELS['ws-beamsock'];
  const echoHow =
    `${ECHO_CONNECTIONS} connections x ${IN_FLIGHT} in flight, ${ECHO_PAYLOAD}-byte text; best of ${ROUNDS} runs per server, taking turns, ` +
    `each ${ECHO_MEASURE_MS / 1000} s after ${ECHO_WARMUP_MS / 1000} s warm-up; load client CPU ${pct(echoes['bun-beamsock'].clientCpu)} of a core ` +
    `(bare Bun run: ${pct(echoes['bun-bare'].clientCpu)}), server ${pct(echoes['bun-beamsock'].serverCpu)} (bare: ${pct(echoes['bun-bare'].serverCpu)})`;
  const castHow =
    `${budgetLabel(castN, BROADCAST_CONNECTIONS)} connections per server, ${BROADCAST_BYTES}-byte text; median of ${BROADCASTS} per server ` +
    `(after ${BROADCAST_WARMUP} warm-up), the three servers taking turns; from sending the IPC trigger until every client has the frame; ` +
    `load client CPU ${pct(cast['bun-beamsock'].clientCpu)} of a core (native: ${pct(cast['bun-bare'].clientCpu)})`;
  const idleHow = `${budgetLabel(idleN, IDLE_CONNECTIONS)} idle upgraded connections; server after a full GC minus before, / N; beamsock with a 1 h idle timeout (a timer each)`;
  return [
    {
      name: 'echo round trips, beamsock on Bun',
      value: echoes['bun-beamsock'].perSecond,
      unit: 'round trips/s',
      baseline: { label: bare, value: echoes['bun-bare'].perSecond },
      target: { ratioAtLeast: 0.9 },
      note: echoHow,
    },
    {
      name: 'server CPU per echo round trip, beamsock on Bun',
      value: echoes['bun-beamsock'].serverUsPerOp,
      unit: 'us',
      baseline: { label: bare, value: echoes['bun-bare'].serverUsPerOp },
    },
    {
      name: 'echo round trips, beamsock on Bun vs on ws',
      value: echoes['bun-beamsock'].perSecond,
      unit: 'round trips/s',
      baseline: { label: onWs, value: echoes['ws-beamsock'].perSecond },
    },
    {
      name: 'upgrades (connect, upgrade, close), beamsock on Bun',
      value: ups['bun-beamsock'].perSecond,
      unit: 'upgrades/s',
      baseline: { label: bare, value: ups['bun-bare'].perSecond },
      target: { ratioAtLeast: 0.9 },
      note:
        `${UPGRADE_HOW}; load client CPU ${pct(ups['bun-beamsock'].clientCpu)} of a core, server ${pct(ups['bun-beamsock'].serverCpu)} ` +
        `(bare Bun run: client ${pct(ups['bun-bare'].clientCpu)}, server ${pct(ups['bun-bare'].serverCpu)})`,
    },
    {
      name: 'server CPU per upgrade, beamsock on Bun',
      value: ups['bun-beamsock'].serverUsPerOp,
      unit: 'us',
      baseline: { label: bare, value: ups['bun-bare'].serverUsPerOp },
      note: 'saturated: the server at a whole core, the load client on the other; see the next row for the cost at an equal load',
    },
    {
      name: `server CPU per upgrade at ${upRate.toLocaleString('en-US')}/s, beamsock on Bun`,
      value: upCost['bun-beamsock'].serverUsPerOp,
      unit: 'us',
      baseline: { label: bare, value: upCost['bun-bare'].serverUsPerOp },
      target: { ratioAtMost: 1.1 },
      note:
        `${upgradeRateHow(upRate, UPGRADE_RATE_WARMUP_BUN_MS)}; completed ${upCost['bun-beamsock'].perSecond.toFixed(0)}/s (bare Bun ${upCost['bun-bare'].perSecond.toFixed(0)}/s); ` +
        `${threadsNote(upCost['bun-beamsock'].threads)} (bare Bun: ${threadsNote(upCost['bun-bare'].threads)}); the other threads are JavaScriptCore's, ` +
        'mostly making fresh heap blocks resident and handing freed ones back (JSCWarmUp, mi-scavenger), which grows with what JavaScript allocates per connection',
    },
    {
      name: `broadcast ${BROADCAST_BYTES} B to ${castN.toLocaleString('en-US')} conns, beamsock fastlane on Bun`,
      value: cast['bun-beamsock'].ms,
      unit: 'ms',
      baseline: { label: 'Bun server.publish', value: cast['bun-bare'].ms },
      target: { ratioAtMost: 1 },
      note: `${castHow}; target (issue 13): no more time than server.publish, which the fastlane now calls itself`,
    },
    {
      name: 'server CPU per broadcast, beamsock fastlane on Bun',
      value: cast['bun-beamsock'].serverCpuMs,
      unit: 'ms',
      baseline: { label: 'Bun server.publish', value: cast['bun-bare'].serverCpuMs },
      note:
        `median server process.cpuUsage from receiving the trigger until every socket was written (Bun's publish: until its loop has turned once, ` +
        `when it writes what publish queued; beamsock, whose fastlane publishes the same way: until the scheduler is idle and the loop has turned once); wall-clock for the same: fastlane ${cast['bun-beamsock'].serverWallMs.toFixed(1)} ms, ` +
        `publish ${cast['bun-bare'].serverWallMs.toFixed(1)} ms`,
    },
    {
      name: 'server CPU per broadcast on Bun, fastlane through server.publish vs writing each socket',
      value: cast['bun-beamsock'].serverCpuMs,
      unit: 'ms',
      baseline: { label: 'fastlane per socket', value: cast['per-socket'].serverCpuMs },
      note:
        `the same beamsock server and clients, taking turns with the others: the fastlane handing the fan-out to Bun's publish, and writing each socket from JS ` +
        `(what it did before); time until every client has the frame: ${cast['bun-beamsock'].ms.toFixed(1)} ms, per socket ${cast['per-socket'].ms.toFixed(1)} ms`,
    },
    {
      name: 'broadcast, beamsock fastlane on Bun vs on ws',
      value: cast['bun-beamsock'].ms,
      unit: 'ms',
      baseline: { label: onWs, value: cast['ws-beamsock'].ms },
    },
    {
      name: 'idle connection heap, beamsock on Bun',
      value: idle['bun-beamsock'].heap,
      unit: 'bytes/conn',
      baseline: { label: bare, value: idle['bun-bare'].heap },
      note: `${idleHow}; heap is JavaScriptCore's on Bun, V8's on Node; beamsock on ws: ${Math.round(idle['ws-beamsock'].heap)} bytes/conn`,
    },
    {
      name: 'idle connection RSS, beamsock on Bun',
      value: idle['bun-beamsock'].rss,
      unit: 'bytes/conn',
      baseline: { label: bare, value: idle['bun-bare'].rss },
      target: { atMost: idle['bun-bare'].rss + 1024 },
      note: `${idleHow}; RSS target: bare Bun + 1 KiB; beamsock on ws: ${Math.round(idle['ws-beamsock'].rss)} bytes/conn`,
    },
    ...(idleMax === undefined
      ? []
      : [
          {
            name: `idle connection RSS at ${idleMaxN.toLocaleString('en-US')}, beamsock on Bun`,
            value: idleMax.beamsock.rss,
            unit: 'bytes/conn',
            baseline: { label: bare, value: idleMax.bare.rss },
            target: { atMost: idleMax.bare.rss + 1024 },
            note: `${budgetLabel(idleMaxN, IDLE_CONNECTIONS_MAX)} idle upgraded connections, as above; heap ${Math.round(idleMax.beamsock.heap)} against bare Bun's ${Math.round(idleMax.bare.heap)} bytes/conn`,
          },
        ]),
  ];
}
