/**
 * A bench server on several cores: `runOnCores` with `count` workers (argv: port,
 * count, cluster name), each a cluster node over NATS serving an echo handler on the
 * shared port; every connection also subscribes to one topic of a PubSub with
 * `clusterAdapter()`, whose broadcasts cross once per node and reach the sockets
 * through the fastlane (a frame encoded once per node). The primary speaks the
 * control channel (`control.ts`) for the parent and relays to the workers: `count`
 * sums their subscribers, `cpu` sums the CPU of the primary and every worker, and
 * `broadcast` has worker 1 broadcast to every node.
 */
import cluster from 'node:cluster';
import type { Server } from 'node:http';
import { runOnCores } from '../../src/runtime/cluster/cores.js';
import { connectNats } from '../../src/runtime/cluster/nats.js';
import { nodes, startNode } from '../../src/runtime/cluster/node.js';
import { clusterAdapter } from '../../src/runtime/cluster/pubsub.js';
import { PubSub } from '../../src/runtime/pubsub.js';
import { idle } from '../../src/runtime/scheduler.js';
import { serve } from '../../src/adapters/ws/index.js';
import { ok, push, type WebSock } from '../../src/websock/behaviour.js';
import { fastlane, outbound } from '../../src/websock/fastlane.js';
import { startControl } from './control.js';

const [portArg, countArg, clusterName] = process.argv.slice(2) as [string, string, string];
const port = Number(portArg);
const count = Number(countArg);
const TOPIC = 'bench';

/** What the primary asks a worker, and the answer. */
interface WorkerAsk {
  readonly benchAsk: number;
  readonly cmd: 'count' | 'cpu' | 'broadcast';
  readonly message?: string;
}
interface WorkerAnswer {
  readonly benchAnswer: number;
  readonly value: number;
}

const cores = await runOnCores({
  name: 'bench',
  count,
  async worker({ name }) {
    const node = await startNode({ name, cluster: clusterName, transport: await connectNats(), nodeDownAfterMs: 10_000 });
    const pubsub = new PubSub({ name: 'bench', adapter: clusterAdapter() });
    pubsub.registerDispatcher('frame', (entries, from, text) => fastlane(entries, from, outbound(['text', text as string])));
    const echo: WebSock<null> = {
      init() {
        pubsub.subscribe(TOPIC);
        return ok(null);
      },
      handleIn: ([data, { opcode }], state) => push([opcode, data], state),
      handleInfo: (_msg, state) => ok(state),
    };
    // An idle timeout of an hour: a timer per connection, as in production, that never fires here.
    const server = await serve(echo, { port, timeout: 3_600_000 });
    // Ready only once every other worker is in the cluster: a broadcast must reach them all.
    while (nodes().length < count - 1) await new Promise((resolve) => setTimeout(resolve, 20));
    process.on('message', (m: WorkerAsk) => {
      if (typeof m?.benchAsk !== 'number') return;
      const answer = (value: number): void => void process.send?.({ benchAnswer: m.benchAsk, value } satisfies WorkerAnswer);
      if (m.cmd === 'count') void idle().then(() => answer(pubsub.subscriberCount(TOPIC)));
      else if (m.cmd === 'cpu') {
        const u = process.cpuUsage();
        answer((u.user + u.system) / 1000);
      } else {
        void pubsub.broadcast(TOPIC, m.message ?? '', 'frame');
        void idle().then(() => answer(0));
      }
    });
    return async () => {
      await server.close(1000);
      await node.stop();
    };
  },
  handleSignals: false,
});

if (cores.role === 'primary') {
  let nextAsk = 1;
  const waiting = new Map<number, (value: number) => void>();
  cluster.on('message', (_worker, m: WorkerAnswer) => {
    if (typeof m?.benchAnswer !== 'number') return;
    waiting.get(m.benchAnswer)?.(m.value);
    waiting.delete(m.benchAnswer);
  });
  const ask = (index: number, cmd: WorkerAsk['cmd'], message?: string): Promise<number> => {
    const pid = cores.workers().find((w) => w.index === index)?.pid;
    const worker = Object.values(cluster.workers ?? {}).find((w) => w?.process.pid === pid);
    if (worker === undefined) return Promise.reject(new Error(`bench worker ${index} is not running`));
    const id = nextAsk++;
    return new Promise((resolve) => {
      waiting.set(id, resolve);
      worker.send({ benchAsk: id, cmd, ...(message === undefined ? {} : { message }) } satisfies WorkerAsk);
    });
  };
  const all = async (cmd: 'count' | 'cpu'): Promise<number> => (await Promise.all(cores.workers().map((w) => ask(w.index, cmd)))).reduce((a, b) => a + b, 0);
  let subscribers = 0;
  const own = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  startControl({ address: () => ({ port, family: 'IPv4', address: '127.0.0.1' }) } as Server, {
    count: () => subscribers,
    settle: async () => void (subscribers = await all('count')),
    cpuMs: async () => own() + (await all('cpu')),
    broadcast: async (message) => void (await ask(1, 'broadcast', message)),
  });
}
