/**
 * Runs beamsock nodes as separate OS processes (`fixtures/node-child.ts`) and drives
 * them over IPC.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PrivateBroker, sharedUrl, uniqueCluster, type BrokerKind } from './brokers.js';

export interface NodeConfig {
  kind: BrokerKind;
  url: string;
  name: string;
  cluster: string;
  codec?: 'json' | 'msgpack';
  heartbeatMs?: number;
  nodeDownAfterMs?: number;
  outageMs?: number;
  maxOutboxBytes?: number;
  /** Drop the data frames with these ordinal numbers (1-based) published to other nodes. */
  dropFrames?: number[];
  /** Which runtime runs the node. Default `'node'`. */
  runtime?: 'node' | 'bun';
}

export interface NodeEvent {
  event: string;
  node?: string;
  reason?: string;
  at?: number;
  [k: string]: unknown;
}

const CHILD = fileURLToPath(new URL('./fixtures/node-child.ts', import.meta.url));
const BUN = fileURLToPath(new URL('../../node_modules/.bin/bun', import.meta.url));

export class NodeProc {
  readonly events: NodeEvent[] = [];
  private readonly waiters: { pred: (e: NodeEvent) => boolean; resolve: (e: NodeEvent) => void }[] = [];
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  name = '';
  creation = 0;

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.on('message', (m: { id?: number; ok?: boolean; value?: unknown; error?: string } & NodeEvent) => {
      if (m.id !== undefined) {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.ok === true) p?.resolve(m.value);
        else p?.reject(new Error(m.error));
        return;
      }
      this.events.push(m);
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        const w = this.waiters[i]!;
        if (w.pred(m)) {
          this.waiters.splice(i, 1);
          w.resolve(m);
        }
      }
    });
  }

  /** Forks a node; resolves once it has joined (or rejects with its start error). */
  static async start(config: NodeConfig): Promise<NodeProc> {
    const child = fork(CHILD, [JSON.stringify(config)], {
      ...(config.runtime === 'bun' ? { execPath: BUN, execArgv: ['--conditions=beamsock-source'] } : { execArgv: ['--conditions=beamsock-source', '--import', 'tsx'] }),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const n = new NodeProc(child);
    running.add(n);
    const first = await Promise.race([n.waitEvent((e) => e.event === 'started' || e.event === 'startError'), n.exited.then(() => ({ event: 'exited' }) as NodeEvent)]);
    if (first.event !== 'started') throw new Error(`node ${config.name} did not start: ${String(first.message ?? first.event)}`);
    n.name = first.name as string;
    n.creation = first.creation as number;
    return n;
  }

  /** The first event (already seen or future) that matches. */
  waitEvent(pred: (e: NodeEvent) => boolean): Promise<NodeEvent> {
    const seen = this.events.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  /** The nodes this one sees up, from its events (its start, then nodeup/nodedown). */
  upNodes(): Set<string> {
    const up = new Set<string>();
    for (const e of this.events) {
      if (e.event === 'started') for (const n of e.nodes as string[]) up.add(n);
      else if (e.event === 'nodeup') up.add(e.node as string);
      else if (e.event === 'nodedown') up.delete(e.node as string);
    }
    return up;
  }

  /** Resolves once this node sees `node` up. */
  async waitUp(node: string): Promise<void> {
    await this.waitEvent(() => this.upNodes().has(node));
  }

  request<T = unknown>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, cmd, ...args });
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child.kill(signal);
  }
}

const running = new Set<NodeProc>();

/** SIGKILLs every node still running (an afterAll hook). */
export async function killAll(): Promise<void> {
  const all = [...running];
  running.clear();
  await Promise.all(
    all.map(async (n) => {
      if (n.child.exitCode === null && n.child.signalCode === null) n.kill('SIGKILL');
      await n.exited;
    }),
  );
}

/**
 * Nodes `a` and `b` of a fresh cluster on the shared `kind` broker, each seeing the other up;
 * `opts` adds node options (e.g. `nodeDownAfterMs`).
 *
 * @example
 * const [a, b] = await upPair('nats', { nodeDownAfterMs: 5000 });
 */
export async function upPair(kind: BrokerKind, opts: Partial<Omit<NodeConfig, 'kind' | 'url' | 'cluster' | 'name'>> = {}): Promise<[NodeProc, NodeProc]> {
  const common = { kind, url: sharedUrl(kind), cluster: uniqueCluster(), ...opts };
  const a = await NodeProc.start({ ...common, name: 'a' });
  const b = await NodeProc.start({ ...common, name: 'b' });
  await a.waitUp('b');
  return [a, b];
}

/**
 * Nodes `a` and `b`, up, on a broker of their own that `run` may kill and restart, with
 * `outageMs` 1000 and `nodeDownAfterMs` 5000 (only an outage takes a node down); the
 * broker is killed after `run`, whatever it did.
 */
export async function pairOnPrivateBroker(kind: BrokerKind, run: (a: NodeProc, b: NodeProc, broker: PrivateBroker) => Promise<void>): Promise<void> {
  const broker = await PrivateBroker.start(kind);
  try {
    const opts = { kind, url: broker.url, cluster: uniqueCluster(), nodeDownAfterMs: 5000, outageMs: 1000 };
    const a = await NodeProc.start({ ...opts, name: 'a' });
    const b = await NodeProc.start({ ...opts, name: 'b' });
    await a.waitUp('b');
    await run(a, b, broker);
  } finally {
    await broker.kill();
  }
}

/**
 * Returns once everything `from` sent `to` before this call (messages, group and name
 * announcements, topic interest) has been delivered there: the node streams are ordered.
 */
export async function barrier(from: NodeProc, to: NodeProc): Promise<void> {
  const box = await to.request<{ node: string; serial: number; creation: number }>('spawnInbox');
  await from.request('send', { to: box, msg: 'barrier' });
  await to.request('awaitInbox', { pid: box, count: 1 });
}

/** How the inbox of node `creation` describes the message the `sendStructured` command sends. */
export function structuredAsSeen(creation: number): Record<string, string> {
  return {
    pid: `Pid(${creation})`,
    ref: 'undefined',
    when: 'Date(12345)',
    map: 'Map([["k","1bigint"]])',
    set: 'Set(1)',
    bytes: 'Bytes(1,2)',
    none: 'undefined',
    nil: 'null',
  };
}
