/**
 * Channels benchmarks: a Phoenix socket with one joined channel per connection
 * (`bench/servers/channels.ts`) beside plain WebSock connections subscribed to
 * PubSub with the fastlane (`bench/servers/beamsock.ts pubsub`), each server in
 * its own child process, the load from `bench/load-client.ts`, all on 127.0.0.1.
 *
 * - broadcast of 64 bytes to 5,000 joined sockets (`endpoint.broadcast`, the
 *   frame `[null,null,"room:bench","msg","..."]`) against the plain fastlane
 *   broadcast of the same 64 bytes to 5,000 connections, taking turns.
 * - memory per socket with one joined channel (its socket process, its channel
 *   process, the subscription) against a plain idle connection.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { BroadcastTimer, maskedFrame, withClients, type RawClient } from './load-client.js';
import { idleMemory, pct, withServer, BROADCAST_BYTES, BROADCAST_CONNECTIONS, BROADCAST_PAUSE_MS, BROADCAST_WARMUP, BROADCASTS, IDLE_CONNECTIONS, type IdleFigure } from './measure.js';
import type { BenchResult } from './report.js';
import { ServerChild, budgetLabel, connectionBudget } from './servers/server-child.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const JOIN = maskedFrame(0x1, Buffer.from(JSON.stringify(['1', '1', 'room:bench', 'phx_join', {}])));

function startServer(program: 'beamsock' | 'channels', args: readonly string[] = []): Promise<ServerChild> {
  return ServerChild.start(
    [program, ...args].join(' '),
    process.execPath,
    ['--expose-gc', '--conditions=beamsock-source', '--import', 'tsx', path.join('bench', 'servers', `${program}.ts`), ...args],
    ROOT,
  );
}

/** Every client joins room:bench and has its join reply before this resolves. */
async function joinAll(server: ServerChild, clients: readonly RawClient[]): Promise<void> {
  let replies = 0;
  const all = new Promise<void>((resolve) => {
    for (const c of clients) {
      c.onFrames = (n) => {
        replies += n;
        if (replies === clients.length) resolve();
      };
      c.socket.write(JOIN);
    }
  });
  await server.awaitCount(clients.length);
  await all;
}

/** Memory per socket with one joined channel: as `idleMemory`, the clients joined. */
async function joinedMemory(server: ServerChild, count: number): Promise<IdleFigure> {
  await withClients(server.port, 1, (one) => joinAll(server, one));
  await server.awaitCount(0);
  const before = await server.mem();
  return withClients(server.port, count, async (clients) => {
    await joinAll(server, clients);
    const after = await server.mem();
    return { heap: (after.heapUsed - before.heapUsed) / count, rss: (after.rss - before.rss) / count };
  });
}

async function broadcasts(count: number): Promise<{ fastlane: ReturnType<BroadcastTimer['figure']>; channels: ReturnType<BroadcastTimer['figure']> }> {
  const message = 'b'.repeat(BROADCAST_BYTES);
  return withServer(() => startServer('beamsock', ['pubsub']), (plain) =>
    withServer(() => startServer('channels'), (chan) =>
      withClients(plain.port, count, (plainClients) =>
        withClients(chan.port, count, async (chanClients) => {
          await plain.awaitCount(count);
          await joinAll(chan, chanClients);
          const fastlane = new BroadcastTimer(plain.name, plainClients, () => plain.request('broadcast', message));
          const channels = new BroadcastTimer(chan.name, chanClients, () => chan.request('broadcast', message));
          for (let i = 0; i < BROADCAST_WARMUP + BROADCASTS; i++) {
            const timed = i >= BROADCAST_WARMUP;
            const [first, second] = i % 2 === 0 ? [fastlane, channels] : [channels, fastlane];
            await first.once(timed);
            await sleep(BROADCAST_PAUSE_MS);
            await second.once(timed);
            await sleep(BROADCAST_PAUSE_MS);
          }
          return { fastlane: fastlane.figure(), channels: channels.figure() };
        }),
      ),
    ),
  );
}

/**
 * Runs the channels benchmarks and returns one row per figure, each beside the
 * plain WebSock figure measured in the same run.
 *
 * @example
 * console.log(formatTable(await run()));
 */
export async function run(): Promise<BenchResult[]> {
  try {
    const castN = connectionBudget(BROADCAST_CONNECTIONS, 2);
    const cast = await broadcasts(castN);
    const memN = connectionBudget(IDLE_CONNECTIONS, 1);
    const plainIdle = await withServer(() => startServer('beamsock'), (s) => idleMemory(s, memN));
    const joined = await withServer(() => startServer('channels'), (s) => joinedMemory(s, memN));
    const castHow =
      `${budgetLabel(castN, BROADCAST_CONNECTIONS)} connections per server, ${BROADCAST_BYTES}-byte payload (the channel frame wraps it in [null,null,"room:bench","msg",...]); ` +
      `median of ${BROADCASTS} per server (after ${BROADCAST_WARMUP} warm-up), taking turns; from sending the IPC trigger until every client has the frame`;
    const memHow = `${budgetLabel(memN, IDLE_CONNECTIONS)} connections; server after gc minus before, / N; both with a 1 h idle timeout`;
    return [
      {
        name: `broadcast to ${castN.toLocaleString('en-US')} joined sockets, endpoint.broadcast`,
        value: cast.channels.ms,
        unit: 'ms',
        baseline: { label: 'plain WebSock fastlane', value: cast.fastlane.ms },
        target: { ratioAtMost: 1.25 },
        note: `${castHow}; throughput vs plain fastlane = ${(cast.fastlane.ms / cast.channels.ms).toFixed(2)}x (target >= 0.8x, i.e. ratio <= 1.25); load client CPU ${pct(cast.channels.clientCpu)} (plain: ${pct(cast.fastlane.clientCpu)})`,
      },
      {
        name: 'server CPU per broadcast, endpoint.broadcast',
        value: cast.channels.serverCpuMs,
        unit: 'ms',
        baseline: { label: 'plain WebSock fastlane', value: cast.fastlane.serverCpuMs },
        note: `median server CPU from the trigger until the scheduler is idle; wall-clock: channels ${cast.channels.serverWallMs.toFixed(1)} ms, plain ${cast.fastlane.serverWallMs.toFixed(1)} ms`,
      },
      {
        name: 'heap per socket with one joined channel',
        value: joined.heap,
        unit: 'bytes/conn',
        baseline: { label: 'plain idle WebSock connection', value: plainIdle.heap },
        note: `${memHow}; the socket process, its channel process (linked, monitoring) and the PubSub subscription`,
      },
      {
        name: 'RSS per socket with one joined channel',
        value: joined.rss,
        unit: 'bytes/conn',
        baseline: { label: 'plain idle WebSock connection', value: plainIdle.rss },
        note: memHow,
      },
    ];
  } finally {
    ServerChild.killAll();
  }
}
