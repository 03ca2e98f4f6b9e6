/**
 * The cluster's many-cores figures, part of `npm run bench -- cluster`: the server of
 * `bench/servers/cores.ts` (runOnCores, each worker a node over NATS) with 2 workers
 * against the same program with 1, both measured in the same run.
 *
 * - broadcast to 5,000 connections: spread over 2 nodes (each node writes its half
 *   from one encoding, the broadcast crossing once to the other node) against all
 *   5,000 on 1 node; from the trigger until the last client has the frame; the two
 *   servers take turns.
 * - echo round trips (64 connections x 16 in flight) of 2 nodes on the machine's 2
 *   cores against 1 node, with the CPU of each server (all its processes) and of the
 *   load client, which needs a core too.
 */
import path from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { BroadcastTimer, echoLoad, withClients } from './load-client.js';
import {
  bestOf,
  pct,
  withServer,
  withServerCpu,
  BROADCAST_BYTES,
  BROADCAST_CONNECTIONS,
  BROADCAST_PAUSE_MS,
  BROADCAST_WARMUP,
  BROADCASTS,
  ECHO_CONNECTIONS,
  ECHO_MEASURE_MS,
  ECHO_PAYLOAD,
  ECHO_WARMUP_MS,
  IN_FLIGHT,
  ROUNDS,
  type ServedFigure,
} from './measure.js';
import type { BenchResult } from './report.js';
import { ServerChild, budgetLabel, connectionBudget } from './servers/server-child.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Starts `bench/servers/cores.ts` with `count` workers, in a cluster of its own. */
async function startCores(count: number): Promise<ServerChild> {
  const cluster = `benchcores${randomBytes(4).toString('hex')}`;
  return ServerChild.start(
    `${count} node${count === 1 ? '' : 's'}`,
    process.execPath,
    ['--expose-gc', '--conditions=beamsock-source', '--import', 'tsx', path.join('bench', 'servers', 'cores.ts'), String(await freePort()), String(count), cluster],
    ROOT,
  );
}

type Variant = '1 node' | '2 nodes';
const COUNT: Record<Variant, number> = { '1 node': 1, '2 nodes': 2 };

function echo(variant: Variant): Promise<ServedFigure> {
  return withServer(() => startCores(COUNT[variant]), (server) =>
    withClients(server.port, ECHO_CONNECTIONS, (clients) =>
      withServerCpu(server, (onWindow) =>
        echoLoad(clients, { inFlight: IN_FLIGHT, payloadBytes: ECHO_PAYLOAD, warmupMs: ECHO_WARMUP_MS, measureMs: ECHO_MEASURE_MS, onWindow }),
      ),
    ),
  );
}

/** Median ms until every client has a broadcast, 1 node against 2, taking turns. */
function broadcasts(count: number): Promise<Record<Variant, number>> {
  const message = 'b'.repeat(BROADCAST_BYTES);
  return withServer(() => startCores(1), (one) =>
    withServer(() => startCores(2), (two) =>
      withClients(one.port, count, (oneClients) =>
        withClients(two.port, count, async (twoClients) => {
          await one.awaitCount(count);
          await two.awaitCount(count);
          const single = new BroadcastTimer(one.name, oneClients, () => one.request('broadcast', message));
          const spread = new BroadcastTimer(two.name, twoClients, () => two.request('broadcast', message));
          for (let i = 0; i < BROADCAST_WARMUP + BROADCASTS; i++) {
            const timed = i >= BROADCAST_WARMUP;
            const [first, second] = i % 2 === 0 ? [single, spread] : [spread, single];
            await first.once(timed);
            await sleep(BROADCAST_PAUSE_MS);
            await second.once(timed);
            await sleep(BROADCAST_PAUSE_MS);
          }
          return { '1 node': single.figure().ms, '2 nodes': spread.figure().ms };
        }),
      ),
    ),
  );
}

/**
 * The many-cores rows of the cluster table. Throws if a server fails to start or
 * a load step stalls; every server child is stopped either way.
 *
 * @example
 * results.push(...(await coresResults()));
 */
export async function coresResults(): Promise<BenchResult[]> {
  try {
    const castN = connectionBudget(BROADCAST_CONNECTIONS, 2);
    const cast = await broadcasts(castN);
    const echoes = await bestOf(['1 node', '2 nodes'] as const, ROUNDS, echo);
    const one = echoes['1 node'];
    const two = echoes['2 nodes'];
    return [
      {
        name: 'broadcast to 5,000 connections over 2 nodes',
        value: cast['2 nodes'],
        unit: 'ms',
        baseline: { label: 'the same 5,000 on 1 node', value: cast['1 node'] },
        note:
          `${budgetLabel(castN, BROADCAST_CONNECTIONS)} connections per server, ${BROADCAST_BYTES}-byte text, PubSub with clusterAdapter() and the fastlane over NATS; ` +
          `median of ${BROADCASTS} per server (after ${BROADCAST_WARMUP} warm-up), the two servers taking turns; from the trigger (to node 1) until every client has the frame`,
      },
      {
        name: 'echo round trips, 2 nodes on 2 cores (runOnCores)',
        value: two.perSecond,
        unit: 'round trips/s',
        baseline: { label: '1 node', value: one.perSecond },
        target: { ratioAtLeast: 1.6 },
        note:
          `${ECHO_CONNECTIONS} connections x ${IN_FLIGHT} in flight, ${ECHO_PAYLOAD}-byte text, through node:cluster's primary; best of ${ROUNDS} runs each, taking turns; ` +
          `server CPU (primary + workers) ${pct(two.serverCpu)} of one core with 2 nodes, ${pct(one.serverCpu)} with 1; load client ${pct(two.clientCpu)} and ${pct(one.clientCpu)}; ` +
          `server CPU per round trip ${two.serverUsPerOp.toFixed(2)} µs and ${one.serverUsPerOp.toFixed(2)} µs`,
      },
    ];
  } finally {
    ServerChild.killAll();
  }
}
