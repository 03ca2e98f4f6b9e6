/**
 * `ws` adapter benchmarks: beamsock's `serve()` against bare `ws` 8 on the same
 * Node, each server in its own child process (`bench/servers/*.ts`) driven over
 * IPC, the load from `bench/load-client.ts` in this process, all on 127.0.0.1.
 *
 * - echo round trips/s: 64 connections x 16 frames in flight, 32-byte text;
 *   bare `ws`, `ws` corking each read until the next tick, beamsock.
 * - upgrades/s: connect, upgrade, close handshake, 16 at a time.
 * - idle connection: heap and RSS per connection over 10,000 idle connections, and RSS over as
 *   many as the fd limit allows toward 50,000.
 * - broadcast of 64 bytes to 5,000 connections: bare `ws`'s `for (c of clients) c.send(m)`
 *   against PubSub with the fastlane dispatcher.
 * - slow reader: server RSS growth while one client sends 2,000 messages of 64 KiB to the
 *   echo handler and never reads, default options, against bare `ws`.
 *
 * Set `BEAMSOCK_BENCH_CPU_PROF` to a directory to run the server children with
 * `--cpu-prof`: each child writes into its own subdirectory there (the largest
 * file is the main thread's), sampling every `BEAMSOCK_BENCH_CPU_PROF_INTERVAL` µs
 * (default 1000), and appends the edges of each measurement window, on the
 * profile's clock (µs, as its `startTime`), to `window-<pid>.txt` there, so that a
 * script can read the window alone, without start-up and connection set-up.
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
  UPGRADE_RATE_WS,
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

/** A `ws` bench server program: `bench/servers/<variant>.ts`. */
export type Variant = 'bare-ws' | 'corked-ws' | 'beamsock';

/**
 * Starts `bench/servers/<variant>.ts` under Node and tsx.
 *
 * @example
 * const server = await startServer('beamsock', ['pubsub']);
 */
export function startServer(variant: Variant, args: readonly string[] = []): Promise<ServerChild> {
  const profDir = process.env['BEAMSOCK_BENCH_CPU_PROF'];
  // One directory per child: the tsx loader thread writes a profile of its own beside the main thread's.
  const prof = profDir === undefined || profDir === '' ? [] : ['--cpu-prof', `--cpu-prof-interval=${process.env['BEAMSOCK_BENCH_CPU_PROF_INTERVAL'] ?? 1000}`, `--cpu-prof-dir=${path.join(profDir, `${variant}-${Date.now()}`)}`];
  return ServerChild.start(
    [variant, ...args].join(' '),
    process.execPath,
    ['--expose-gc', '--conditions=beamsock-source', ...prof, '--import', 'tsx', path.join('bench', 'servers', `${variant}.ts`), ...args],
    ROOT,
  );
}

// Echo and upgrades ---------------------------------------------------------------------

function echo(variant: Variant): Promise<ServedFigure> {
  return withServer(() => startServer(variant), (server) =>
    withClients(server.port, ECHO_CONNECTIONS, (clients) =>
      withServerCpu(server, (onWindow) =>
        echoLoad(clients, { inFlight: IN_FLIGHT, payloadBytes: ECHO_PAYLOAD, warmupMs: ECHO_WARMUP_MS, measureMs: ECHO_MEASURE_MS, onWindow }),
      ),
    ),
  );
}

function upgrades(variant: Variant): Promise<ServedFigure> {
  return upgradesOf(() => startServer(variant));
}

// Idle memory -----------------------------------------------------------------------------

function idleOf(variant: Variant, count: number): Promise<IdleFigure> {
  return withServer(() => startServer(variant), (server) => idleMemory(server, count));
}

// Broadcast -------------------------------------------------------------------------------

/**
 * Bare `ws`'s naive loop and beamsock's fastlane, each server with `count`
 * connections, broadcasting in turns so that both see the same machine.
 */
function broadcasts(count: number): Promise<{ naive: BroadcastFigure; fastlane: BroadcastFigure }> {
  const message = 'b'.repeat(BROADCAST_BYTES);
  return withServer(() => startServer('bare-ws'), (bare) =>
    withServer(() => startServer('beamsock', ['pubsub']), (beam) =>
      withClients(bare.port, count, (bareClients) =>
        withClients(beam.port, count, async (beamClients) => {
          await bare.awaitCount(count);
          await beam.awaitCount(count);
          const naive = new BroadcastTimer(bare.name, bareClients, () => bare.request('broadcast', { message }));
          const fastlane = new BroadcastTimer(beam.name, beamClients, () => beam.request('broadcast', { message }));
          for (let i = 0; i < BROADCAST_WARMUP + BROADCASTS; i++) {
            const timed = i >= BROADCAST_WARMUP;
            // Alternate which goes first, so neither always follows the other's aftermath.
            const [first, second] = i % 2 === 0 ? [naive, fastlane] : [fastlane, naive];
            await first.once(timed);
            await sleep(BROADCAST_PAUSE_MS);
            await second.once(timed);
            await sleep(BROADCAST_PAUSE_MS);
          }
          return { naive: naive.figure(), fastlane: fastlane.figure() };
        }),
      ),
    ),
  );
}

// Slow reader -----------------------------------------------------------------------------

const SLOW_MESSAGES = 2_000;
const SLOW_BYTES = 64 * 1024;
/** How long the client goes on writing (a server that stops reading it stalls its writes), then how long the server settles. */
const SLOW_WRITE_MS = 10_000;
const SLOW_SETTLE_MS = 2_000;

/** The server's RSS growth, in MB, while one client writes `SLOW_MESSAGES` echo requests and reads nothing; and how many it got to write. */
function slowReader(variant: Variant): Promise<{ growthMb: number; written: number }> {
  return withServer(() => startServer(variant), async (server) => {
    const before = await server.mem();
    const written = await withClients(server.port, 1, async ([client]) => {
      const socket = (client as RawClient).socket;
      socket.pause();
      // A binary frame with a 64-bit length and an all-zero mask (valid, and the payload goes as it is).
      const frame = Buffer.concat([Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, SLOW_BYTES >> 16, (SLOW_BYTES >> 8) & 0xff, SLOW_BYTES & 0xff, 0, 0, 0, 0]), Buffer.alloc(SLOW_BYTES, 7)]);
      let n = 0;
      const deadline = Date.now() + SLOW_WRITE_MS;
      while (n < SLOW_MESSAGES && Date.now() < deadline) {
        n++;
        if (!socket.write(frame)) await Promise.race([new Promise((r) => socket.once('drain', r)), sleep(Math.max(0, deadline - Date.now()))]);
      }
      await sleep(SLOW_SETTLE_MS);
      return n;
    });
    const after = await server.mem();
    return { growthMb: (after.rss - before.rss) / 1e6, written };
  });
}

// The table -------------------------------------------------------------------------------

/**
 * Runs every `ws` adapter benchmark and returns one row per figure, beamsock's
 * beside bare `ws` measured in the same run. Throws if a server fails to start or a
 * load step stalls; every server child is stopped either way.
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
  const echoes = await bestOf(['bare-ws', 'corked-ws', 'beamsock'], ROUNDS, echo);
  const ups = await bestOf(['bare-ws', 'beamsock'], ROUNDS, upgrades);
  const { rate: upRate, figures: upCost } = await upgradeCostsOf(['bare-ws', 'beamsock'], startServer, UPGRADE_RATE_WS);
  const idleN = connectionBudget(IDLE_CONNECTIONS, 1);
  const bareIdle = await idleOf('bare-ws', idleN);
  const beamIdle = await idleOf('beamsock', idleN);
  const idleMaxN = connectionBudget(IDLE_CONNECTIONS_MAX, 1);
  const idleMax = idleMaxN > idleN ? { bare: await idleOf('bare-ws', idleMaxN), beamsock: await idleOf('beamsock', idleMaxN) } : undefined;
  const castN = connectionBudget(BROADCAST_CONNECTIONS, 2);
  const cast = await broadcasts(castN);
  const bareSlow = await slowReader('bare-ws');
  const beamSlow = await slowReader('beamsock');

  const bare = 'bare ws';
  const bareEcho = echoes['bare-ws'];
  const bareUp = ups['bare-ws'];
  const served = (f: ServedFigure, b: ServedFigure): string =>
    `load client CPU ${pct(f.clientCpu)} of a core, server ${pct(f.serverCpu)} (bare ws run: client ${pct(b.clientCpu)}, server ${pct(b.serverCpu)})`;
  const echoHow =
    `${ECHO_CONNECTIONS} connections x ${IN_FLIGHT} in flight, ${ECHO_PAYLOAD}-byte text; best of ${ROUNDS} runs per server, taking turns, ` +
    `each ${ECHO_MEASURE_MS / 1000} s after ${ECHO_WARMUP_MS / 1000} s warm-up`;
  const idleHow = `${budgetLabel(idleN, IDLE_CONNECTIONS)} idle upgraded connections; server after gc minus before, / N; beamsock with a 1 h idle timeout (a timer each)`;
  const castHow =
    `${budgetLabel(castN, BROADCAST_CONNECTIONS)} connections per server, ${BROADCAST_BYTES}-byte text; median of ${BROADCASTS} per server (after ${BROADCAST_WARMUP} warm-up), ` +
    `the two servers taking turns; from sending the IPC trigger until every client has the frame`;
  return [
    {
      name: 'echo round trips, ws corked per read',
      value: echoes['corked-ws'].perSecond,
      unit: 'round trips/s',
      baseline: { label: bare, value: bareEcho.perSecond },
      note: `${echoHow}; socket corked on 'message', uncorked on the next tick; ${served(echoes['corked-ws'], bareEcho)}`,
    },
    {
      name: 'echo round trips, beamsock (batched writes)',
      value: echoes.beamsock.perSecond,
      unit: 'round trips/s',
      baseline: { label: bare, value: bareEcho.perSecond },
      target: { ratioAtLeast: 2 },
      note: `${echoHow}; beamsock / corked ws = ${(echoes.beamsock.perSecond / echoes['corked-ws'].perSecond).toFixed(2)}x; ${served(echoes.beamsock, bareEcho)}`,
    },
    {
      name: 'server CPU per echo round trip, ws corked per read',
      value: echoes['corked-ws'].serverUsPerOp,
      unit: 'us',
      baseline: { label: bare, value: bareEcho.serverUsPerOp },
    },
    {
      name: 'server CPU per echo round trip, beamsock',
      value: echoes.beamsock.serverUsPerOp,
      unit: 'us',
      baseline: { label: bare, value: bareEcho.serverUsPerOp },
      note: 'server process.cpuUsage over the measured window of the best run / round trips in it: steadier than the rate on a busy machine',
    },
    {
      name: 'upgrades (connect, upgrade, close), beamsock',
      value: ups.beamsock.perSecond,
      unit: 'upgrades/s',
      baseline: { label: bare, value: bareUp.perSecond },
      target: { ratioAtLeast: 1 },
      note: `${UPGRADE_HOW}; ${served(ups.beamsock, bareUp)}`,
    },
    {
      name: 'server CPU per upgrade, beamsock',
      value: ups.beamsock.serverUsPerOp,
      unit: 'us',
      baseline: { label: bare, value: bareUp.serverUsPerOp },
      note: 'saturated: the server at a whole core, the load client on the other; see the next row for the cost at an equal load',
    },
    {
      name: `server CPU per upgrade at ${upRate.toLocaleString('en-US')}/s, beamsock`,
      value: upCost.beamsock.serverUsPerOp,
      unit: 'us',
      baseline: { label: bare, value: upCost['bare-ws'].serverUsPerOp },
      target: { ratioAtMost: 1.1 },
      note:
        `${upgradeRateHow(upRate)}; completed ${upCost.beamsock.perSecond.toFixed(0)}/s (bare ws ${upCost['bare-ws'].perSecond.toFixed(0)}/s); ` +
        `${threadsNote(upCost.beamsock.threads)} (bare ws: ${threadsNote(upCost['bare-ws'].threads)})`,
    },
    {
      name: 'idle connection heap, beamsock',
      value: beamIdle.heap,
      unit: 'bytes/conn',
      baseline: { label: bare, value: bareIdle.heap },
      target: { atMost: bareIdle.heap + 1024 },
      note: `${idleHow}; heap target: bare ws + 1 KiB`,
    },
    {
      name: 'idle connection RSS, beamsock',
      value: beamIdle.rss,
      unit: 'bytes/conn',
      baseline: { label: bare, value: bareIdle.rss },
      target: { atMost: bareIdle.rss + 1024 },
      note: `${idleHow}; RSS target: bare ws + 1 KiB`,
    },
    ...(idleMax === undefined
      ? []
      : [
          {
            name: `idle connection RSS at ${idleMaxN.toLocaleString('en-US')}, beamsock`,
            value: idleMax.beamsock.rss,
            unit: 'bytes/conn',
            baseline: { label: bare, value: idleMax.bare.rss },
            target: { atMost: idleMax.bare.rss + 1024 },
            note: `${budgetLabel(idleMaxN, IDLE_CONNECTIONS_MAX)} idle upgraded connections, as above; heap ${Math.round(idleMax.beamsock.heap)} against bare ws's ${Math.round(idleMax.bare.heap)} bytes/conn`,
          },
        ]),
    {
      name: `broadcast ${BROADCAST_BYTES} B to ${castN.toLocaleString('en-US')} conns, beamsock PubSub fastlane`,
      value: cast.fastlane.ms,
      unit: 'ms',
      baseline: { label: 'ws naive loop', value: cast.naive.ms },
      target: { ratioAtMost: 1 / 1.5 },
      note:
        `${castHow}; naive / fastlane = ${(cast.naive.ms / cast.fastlane.ms).toFixed(2)}x (target, issue 13: 1.5x faster, i.e. ratio <= 0.67); ` +
        `load client CPU ${pct(cast.fastlane.clientCpu)} of a core (naive: ${pct(cast.naive.clientCpu)})`,
    },
    {
      name: 'server CPU per broadcast, beamsock PubSub fastlane',
      value: cast.fastlane.serverCpuMs,
      unit: 'ms',
      baseline: { label: 'ws naive loop', value: cast.naive.serverCpuMs },
      note:
        `median server process.cpuUsage from receiving the trigger until every socket was written (beamsock: until the scheduler is idle); ` +
        `server wall-clock for the same: fastlane ${cast.fastlane.serverWallMs.toFixed(1)} ms, naive ${cast.naive.serverWallMs.toFixed(1)} ms`,
    },
    {
      name: `server RSS growth, a client sending ${SLOW_MESSAGES.toLocaleString('en-US')} x 64 KiB and never reading, beamsock`,
      value: Number(beamSlow.growthMb.toFixed(1)),
      unit: 'MB',
      baseline: { label: bare, value: Number(bareSlow.growthMb.toFixed(1)) },
      note:
        `echo handler, default options (backpressure at 1 MiB unwritten); the client writes for up to ${SLOW_WRITE_MS / 1000} s as the socket takes it, ` +
        `then ${SLOW_SETTLE_MS / 1000} s to settle; RSS after gc minus before; messages the client got to write: beamsock ${beamSlow.written}, bare ws ${bareSlow.written}`,
    },
  ];
}
