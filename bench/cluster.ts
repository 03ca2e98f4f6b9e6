/**
 * Cluster benchmarks: cross-node `send` round trip (p50/p99) and one-way throughput,
 * each beside the raw broker doing the same in the same two processes (raw publish ->
 * echo republish -> driver; raw publish with a flush every 1,000), once over NATS
 * and once over Redis. Two node processes are forked (a driver and an echo node);
 * raw and beamsock blocks alternate so both see the same machine load. Then the
 * many-cores figures of `cluster-cores.ts` (2 nodes against 1, broadcast and echo).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { BenchResult } from './report.js';
import { coresResults } from './cluster-cores.js';

type Kind = 'nats' | 'redis';
const KINDS: Kind[] = ['nats', 'redis'];
const ROUND_TRIPS = 4000;
const BLOCK = 500;
const ONE_WAY = { nats: 100_000, redis: 30_000 } as const;
const CHUNK = 1000;
const BODY = 'x'.repeat(32);

interface Figures {
  rawRtt: number[];
  bsRtt: number[];
  rawRate: number;
  bsRate: number;
}

const SELF = fileURLToPath(import.meta.url);
const EXEC_ARGV = ['--conditions=beamsock-source', '--import', 'tsx'];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Forks the echo node and the driver node for `kind`; resolves with the driver's figures. */
async function measure(kind: Kind): Promise<Figures> {
  const cluster = `bench${randomBytes(4).toString('hex')}`;
  const echo = fork(SELF, ['--cluster-role=echo', kind, cluster], { execArgv: EXEC_ARGV, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve) => echo.once('message', () => resolve()));
  const driver = fork(SELF, ['--cluster-role=driver', kind, cluster], { execArgv: EXEC_ARGV, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const figures = await new Promise<Figures>((resolve) => driver.once('message', (m) => resolve(m as Figures)));
  echo.kill();
  driver.kill();
  return figures;
}

/** The bench module: `npm run bench -- cluster`. */
export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const kind of KINDS) {
    const f = await measure(kind);
    const raw = [...f.rawRtt].sort((a, b) => a - b);
    const bs = [...f.bsRtt].sort((a, b) => a - b);
    const label = `raw ${kind} pub/sub`;
    results.push(
      { name: `${kind}: remote send round trip p50`, value: percentile(bs, 50), unit: 'µs', baseline: { label, value: percentile(raw, 50) }, target: { ratioAtMost: 1.2 } },
      { name: `${kind}: remote send round trip p99`, value: percentile(bs, 99), unit: 'µs', baseline: { label, value: percentile(raw, 99) } },
      {
        name: `${kind}: remote send one way`,
        value: f.bsRate,
        unit: 'msgs/s',
        baseline: { label, value: f.rawRate },
        target: { ratioAtLeast: 0.7 },
        note: `${ONE_WAY[kind]} messages of 32 B; raw publishes flush every ${CHUNK}, beamsock sends ${CHUNK} per loop turn (one frame); ${ROUND_TRIPS} round trips per side in alternating blocks of ${BLOCK}`,
      },
    );
  }
  results.push(...(await coresResults()));
  return results;
}

// ---- the two node processes ----

async function nodeProcess(role: 'echo' | 'driver', kind: Kind, cluster: string): Promise<void> {
  const { startNode, connectNats, connectRedis } = await import('../src/runtime/cluster/index.js');
  const { spawn, send, register } = await import('../src/runtime/process.js');
  const { Pid } = await import('../src/runtime/pid.js');
  const transport = kind === 'nats' ? await connectNats() : await connectRedis();
  const node = await startNode({ name: role, cluster, transport, nodeDownAfterMs: 10_000 });
  const ping = `bench.${cluster}.ping`;
  const pong = `bench.${cluster}.pong`;

  if (role === 'echo') {
    let expected = 0;
    let counted = 0;
    await transport.subscribe(ping, (d) => {
      if (d[0] === 2) {
        expected = new DataView(d.buffer, d.byteOffset).getUint32(1);
        counted = 0;
      } else if (d[0] === 3) {
        if (++counted === expected) transport.publish(pong, d);
      } else transport.publish(pong, d);
    });
    let sinkExpected = 0;
    let sinkCounted = 0;
    let sinkReply: InstanceType<typeof Pid> | undefined;
    register(
      'echo',
      spawn((m: { from: InstanceType<typeof Pid>; i: number; expect?: number; sink?: boolean }) => {
        if (m.expect !== undefined) {
          sinkExpected = m.expect;
          sinkCounted = 0;
          sinkReply = m.from;
        } else if (m.sink === true) {
          if (++sinkCounted === sinkExpected) send(sinkReply as InstanceType<typeof Pid>, 'done');
        } else send(m.from, m.i);
      }),
    );
    process.send?.('ready');
    return;
  }

  while (!node.nodes().includes('echo')) await new Promise((r) => setTimeout(r, 50));
  let onPong: (() => void) | undefined;
  await transport.subscribe(pong, () => onPong?.());
  const waiter = spawn(() => onPong?.());
  const next = (): Promise<void> => new Promise((resolve) => (onPong = resolve));
  const payload = new Uint8Array(Buffer.from(BODY));
  const rawRtt: number[] = [];
  const bsRtt: number[] = [];
  const target = { name: 'echo', node: 'echo' };
  const remote = (msg: unknown): void => send(target, msg);
  for (let done = 0; done < ROUND_TRIPS + BLOCK; done += BLOCK) {
    for (let i = 0; i < BLOCK; i++) {
      const t0 = performance.now();
      const p = next();
      transport.publish(ping, payload);
      await p;
      if (done >= BLOCK) rawRtt.push((performance.now() - t0) * 1000);
    }
    for (let i = 0; i < BLOCK; i++) {
      const t0 = performance.now();
      const p = next();
      remote({ from: waiter, i, body: BODY });
      await p;
      if (done >= BLOCK) bsRtt.push((performance.now() - t0) * 1000);
    }
  }

  const n = ONE_WAY[kind];
  const header = new Uint8Array(5);
  header[0] = 2;
  new DataView(header.buffer).setUint32(1, n);
  transport.publish(ping, header);
  await transport.flush();
  const data = new Uint8Array(Buffer.from(`\u0003${BODY}`));
  let t0 = performance.now();
  let p = next();
  for (let i = 0; i < n; i++) {
    transport.publish(ping, data);
    if (i % CHUNK === CHUNK - 1) await transport.flush();
  }
  await p;
  const rawRate = n / ((performance.now() - t0) / 1000);

  remote({ from: waiter, expect: n });
  t0 = performance.now();
  p = next();
  for (let i = 0; i < n; i++) {
    remote({ sink: true, i, body: BODY });
    if (i % CHUNK === CHUNK - 1) await new Promise((r) => setImmediate(r));
  }
  await p;
  const bsRate = n / ((performance.now() - t0) / 1000);
  process.send?.({ rawRtt, bsRtt, rawRate, bsRate } satisfies Figures);
}

const roleArg = process.argv.find((a) => a.startsWith('--cluster-role='));
if (roleArg !== undefined) {
  const [kind, cluster] = process.argv.slice(process.argv.indexOf(roleArg) + 1) as [Kind, string];
  await nodeProcess(roleArg.slice('--cluster-role='.length) as 'echo' | 'driver', kind, cluster);
}
