/**
 * examples/cluster-cores on two cores over NATS, on Node (node:cluster's primary
 * hands connections to the workers) and on Bun (each worker listens with
 * `reusePort`, the kernel spreads connections): 20 connections each learn their
 * node and land on both; a chat line from a connection on one node reaches every
 * connection on both; a SIGKILLed worker is reported and restarted under its name
 * and serves again; SIGTERM to the primary closes every connection with 1001 and
 * leaves no process behind.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { isRunning, Launched } from '../examples/launched.js';
import { sparePort, uniqueCluster } from './brokers.js';

const BUN = fileURLToPath(new URL('../../node_modules/.bin/bun', import.meta.url));
// Three processes each loading the library, two broker connections, on a loaded machine.
const TEST_TIMEOUT_MS = 180_000;
const CONNECTIONS = 20;

interface Lobby {
  readonly ws: WebSocket;
  readonly node: string;
  /** Messages after the hello, as they arrive. */
  readonly inbox: unknown[];
  next(): Promise<unknown>;
  readonly closed: Promise<number>;
}

/** Each worker's latest pid, by node name, as the example printed them. */
function workers(l: Launched): Map<string, number> {
  const pids = new Map<string, number>();
  for (const m of l.output().matchAll(/(lobby-\d) \(pid (\d+)\) serves/g)) pids.set(m[1] as string, Number(m[2]));
  return pids;
}

let launched: Launched | undefined;
const sockets: WebSocket[] = [];
afterEach(() => {
  for (const ws of sockets.splice(0)) ws.terminate();
  // A test that failed midway leaves the primary and its workers: end the whole group.
  launched?.killGroup();
  launched = undefined;
});

function connect(port: number): Promise<Lobby> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  sockets.push(ws);
  const inbox: unknown[] = [];
  let wake: (() => void) | undefined;
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { type: string; node?: string };
      if (msg.type === 'hello') {
        resolve({
          ws,
          node: msg.node as string,
          inbox,
          closed,
          next: async () => {
            while (inbox.length === 0) await new Promise<void>((r) => (wake = r));
            return inbox.shift();
          },
        });
        return;
      }
      inbox.push(msg);
      wake?.();
    });
  });
}


const RUNTIMES = {
  node: { command: process.execPath, args: ['--conditions=beamsock-source', '--import', 'tsx', 'examples/cluster-cores/main.ts'] },
  bun: { command: BUN, args: ['--conditions=beamsock-source', 'examples/cluster-cores/bun.ts'] },
} as const;

describe('the many-cores example (examples/cluster-cores)', () => {
  for (const [runtime, { command, args }] of Object.entries(RUNTIMES)) {
    it(
      `on ${runtime}: connections spread over both nodes, a chat crosses them, a killed worker comes back, SIGTERM stops all`,
      async () => {
        const port = await sparePort();
        const env = { CORES: '2', PORT: String(port), HOST: '127.0.0.1', CLUSTER: uniqueCluster() };
        launched = Launched.start(args, env, command);
        const l = launched;
        const primary = await l.waitFor((t) => /primary \(pid (\d+)\): 2 workers/.exec(t)?.[1]);
        const firstPids = workers(l);
        expect([...firstPids.keys()].sort()).toEqual(['lobby-1', 'lobby-2']);

        const lobbies: Lobby[] = [];
        for (let i = 0; i < CONNECTIONS; i++) lobbies.push(await connect(port));
        const perNode = new Map<string, number>();
        for (const c of lobbies) perNode.set(c.node, (perNode.get(c.node) ?? 0) + 1);
        expect([...perNode.keys()].sort(), `connections per node: ${JSON.stringify([...perNode])}`).toEqual(['lobby-1', 'lobby-2']);

        const from1 = lobbies.find((c) => c.node === 'lobby-1') as Lobby;
        // Each node routes the lobby's broadcasts to the other once it has heard of the other's
        // subscribers (a broker hop after they join): say it again until every connection has it.
        const hello = (): void => from1.ws.send(JSON.stringify({ type: 'chat', content: 'hello from lobby-1' }));
        hello();
        const repeat = setInterval(hello, 250);
        try {
          for (const c of lobbies) expect(await c.next()).toEqual({ type: 'chat', node: 'lobby-1', content: 'hello from lobby-1' });
        } finally {
          clearInterval(repeat);
        }

        // A worker killed: its connections drop, the primary reports it and starts it again.
        const oldPid = firstPids.get('lobby-1') as number;
        process.kill(oldPid, 'SIGKILL');
        for (const c of lobbies.filter((c) => c.node === 'lobby-1')) expect(await c.closed).toBe(1006);
        await l.waitFor((t) => (t.includes(`worker_exit node lobby-1: worker process ${oldPid} exited (signal SIGKILL)`) ? true : undefined));
        const newPid = await l.waitFor((t) => {
          const pid = /lobby-1 \(pid (\d+)\) serves/g.exec(t.slice(t.lastIndexOf('worker_exit node lobby-1')))?.[1];
          return pid === undefined ? undefined : Number(pid);
        });
        expect(newPid).not.toBe(oldPid);
        // The restarted node serves and is in the cluster again: a chat from lobby-2 reaches a connection on it.
        let onNew: Lobby | undefined;
        for (let i = 0; i < 50 && onNew === undefined; i++) {
          const c = await connect(port);
          if (c.node === 'lobby-1') onNew = c;
          else lobbies.push(c);
        }
        expect(onNew, 'no connection reached the restarted lobby-1 in 50 tries').toBeDefined();
        // lobby-2 routes the room's broadcasts to lobby-1 once lobby-1's new subscriber is
        // announced to it (a broker hop later): say it again until the line arrives.
        const from2 = lobbies.find((c) => c.node === 'lobby-2') as Lobby;
        const welcome = (): void => from2.ws.send(JSON.stringify({ type: 'chat', content: 'welcome back' }));
        welcome();
        const again = setInterval(welcome, 250);
        try {
          expect(await (onNew as Lobby).next()).toEqual({ type: 'chat', node: 'lobby-2', content: 'welcome back' });
        } finally {
          clearInterval(again);
        }

        // SIGTERM to the primary: every worker closes its connections and exits, then the primary.
        const alive = lobbies.filter((c) => c.node === 'lobby-2').concat(onNew as Lobby);
        l.proc.kill('SIGTERM');
        for (const c of alive) expect(await c.closed).toBe(1001);
        // The primary ends as the signal would have ended it.
        expect(await l.ended, l.output()).toEqual({ code: null, signal: 'SIGTERM' });
        for (const pid of [Number(primary), ...workers(l).values()]) expect(isRunning(pid), `pid ${pid} still runs`).toBe(false);
      },
      TEST_TIMEOUT_MS,
    );
  }
});
