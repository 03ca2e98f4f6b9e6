import { afterEach, describe, expect, it } from 'vitest';
import { DynamicSupervisor, Supervisor, exit, idle, processes, send, spawn, spawnLink, type Pid } from '../../src/runtime/index.js';
import { DEFAULT_QUERY, type PageQuery, type TreeNode } from '../../src/observer/protocol.js';
import { Sampler } from '../../src/observer/sampler.js';
import { startHandler } from '../../src/testing/test-connection.js';
import { QuietSocket } from './observer-client.js';

afterEach(async () => {
  for (const pid of processes()) exit(pid, 'kill');
  await idle();
});

const q = (over: Partial<PageQuery>): PageQuery => ({ ...DEFAULT_QUERY, ...over });
const idleWorker = (): Pid => spawn(() => undefined);
/** A process stuck in its first message: everything sent after it stays queued. */
function stuck(): Pid {
  return spawn(() => new Promise(() => undefined), { kind: 'stuck' });
}

describe('Sampler summary', () => {
  it('counts processes by kind and status', async () => {
    idleWorker();
    idleWorker();
    spawn(() => undefined, { kind: 'connection' });
    const s = stuck();
    send(s, 'first');
    await idle({ waitForCallbacks: false });
    const sampler = new Sampler();
    sampler.sample();
    const { totals, byKind, byStatus } = sampler.summary();
    expect(totals.processes).toBe(4);
    expect(totals.connections).toBe(1);
    expect(byKind).toEqual({ worker: 2, connection: 1, stuck: 1 });
    expect(byStatus).toEqual({ waiting: 3, running: 1 });
  });

  it('turns counter deltas between two samples into messages per second', async () => {
    const sink = spawn(() => undefined);
    const relay = spawn((n: number) => {
      for (let i = 0; i < n; i++) send(sink, i);
    });
    const sampler = new Sampler();
    sampler.sample(1_000);
    send(relay, 6);
    await idle();
    sampler.sample(3_000);
    const { totals } = sampler.summary();
    // Over 2 s: relay handled 1 and sent 6, sink handled 6.
    expect(totals.messagesInPerSec).toBe(3.5);
    expect(totals.messagesOutPerSec).toBe(3);
    expect(sampler.rates(relay)).toEqual({ in: 0.5, out: 3 });
    expect(sampler.rates(sink)).toEqual({ in: 3, out: 0 });
    expect(sampler.history().map((p) => [p.in, p.out])).toEqual([
      [0, 0],
      [3.5, 3],
    ]);
  });

  it('lists the top processes by mailbox, rate and bytes held, only those above zero', async () => {
    const busy = stuck();
    for (let i = 0; i < 4; i++) send(busy, i);
    const lesser = stuck();
    for (let i = 0; i < 2; i++) send(lesser, i);
    idleWorker();
    await idle({ waitForCallbacks: false });
    const sampler = new Sampler({ topN: 5 });
    sampler.sample();
    const { top, totals } = sampler.summary();
    expect(top.mailbox.map((r) => [r.pid, r.mailbox])).toEqual([
      [String(busy), 3],
      [String(lesser), 1],
    ]);
    expect(top.heap.map((r) => r.heap)).toEqual([192, 64]);
    expect(totals.queued).toBe(4);
    expect(totals.heapBytes).toBe(256);
    expect(top.rate).toEqual([]);
  });

  it('keeps at most topN entries in each list', async () => {
    for (let i = 0; i < 8; i++) {
      const p = stuck();
      send(p, 'x');
      send(p, 'y');
    }
    await idle({ waitForCallbacks: false });
    const sampler = new Sampler({ topN: 3 });
    sampler.sample();
    expect(sampler.summary().top.mailbox).toHaveLength(3);
  });

  it('forgets a process that exited before the next sample', async () => {
    const a = idleWorker();
    const b = idleWorker();
    const sampler = new Sampler();
    sampler.sample();
    exit(a, 'kill');
    sampler.sample();
    expect(sampler.page(q({})).rows.map((r) => r.pid)).toEqual([String(b)]);
    expect(sampler.rates(a)).toBeUndefined();
  });

  it('keeps historyLength points for the charts', () => {
    const sampler = new Sampler({ historyLength: 3 });
    for (let t = 1; t <= 5; t++) sampler.sample(t * 1000);
    expect(sampler.history()).toHaveLength(3);
  });

  it('shares a recent sample: refresh samples again only once maxAgeMs has passed', () => {
    const sampler = new Sampler();
    sampler.refresh(900, 1_000);
    const first = sampler.summary();
    sampler.refresh(900, 1_500);
    expect(sampler.summary()).toBe(first);
    sampler.refresh(900, 1_900);
    expect(sampler.summary()).not.toBe(first);
  });

  it('refuses a summary before the first sample and bad options', () => {
    expect(() => new Sampler().summary()).toThrow(/call sample\(\) or refresh\(\) first/);
    expect(() => new Sampler({ topN: 0 })).toThrow(/'topN' must be a positive integer, got 0/);
  });
});

describe('Sampler.page', () => {
  it('pages through the table in pid order by default', () => {
    const pids = Array.from({ length: 120 }, idleWorker);
    const sampler = new Sampler();
    sampler.sample();
    const pages = [0, 1, 2, 3].map((page) => sampler.page(q({ page, size: 50 })));
    expect(pages.map((p) => p.rows.length)).toEqual([50, 50, 20, 0]);
    expect(pages.every((p) => p.total === 120)).toBe(true);
    expect(pages.flatMap((p) => p.rows.map((r) => r.pid))).toEqual(pids.map(String));
  });

  it('caps a page at MAX_PAGE_SIZE rows', () => {
    Array.from({ length: 150 }, idleWorker);
    const sampler = new Sampler();
    sampler.sample();
    expect(sampler.page(q({ size: 1000 })).rows).toHaveLength(100);
  });

  it('sorts by a column in either direction, ties in pid order', async () => {
    const small = stuck();
    send(small, 1);
    send(small, 2);
    const big = stuck();
    for (let i = 0; i < 5; i++) send(big, i);
    const quiet = idleWorker();
    await idle({ waitForCallbacks: false });
    const sampler = new Sampler();
    sampler.sample();
    expect(sampler.page(q({ sort: 'mailbox', dir: 'desc' })).rows.map((r) => r.pid)).toEqual([big, small, quiet].map(String));
    expect(sampler.page(q({ sort: 'mailbox', dir: 'asc' })).rows.map((r) => r.pid)).toEqual([quiet, small, big].map(String));
  });

  it('filters by kind, status, text and parent', async () => {
    const conn = spawn(() => undefined, { kind: 'connection', name: 'lobby-conn' });
    const s = stuck();
    send(s, 1);
    const sup = await DynamicSupervisor.start();
    const kids = [];
    for (let i = 0; i < 3; i++) kids.push(await DynamicSupervisor.startChild(sup, { start: () => spawnLink(() => undefined), restart: 'temporary' }));
    await idle({ waitForCallbacks: false });
    const sampler = new Sampler();
    sampler.sample();
    const pids = (over: Partial<PageQuery>) => sampler.page(q(over)).rows.map((r) => r.pid);
    expect(pids({ kind: 'connection' })).toEqual([String(conn)]);
    expect(pids({ status: 'running' })).toEqual([String(s)]);
    expect(pids({ text: 'LOBBY' })).toEqual([String(conn)]);
    expect(pids({ text: String(s) })).toEqual([String(s)]);
    expect(pids({ parent: String(sup) })).toEqual(kids.map(String));
    expect(pids({ parent: 'root' })).toEqual([conn, s, sup].map(String));
  });
});

class ChatSocket extends QuietSocket {}
class FeedSocket extends QuietSocket {}

describe('Sampler handler names', () => {
  it('shows each connection by the name of its handler, counts them by it and filters on it', async () => {
    const chats = [startHandler(new ChatSocket(), null), startHandler(new ChatSocket(), null)];
    const feed = startHandler(new FeedSocket(), null);
    idleWorker();
    await idle();
    const sampler = new Sampler();
    sampler.sample();
    expect(sampler.summary().byHandler).toEqual({ ChatSocket: 2, FeedSocket: 1 });
    const rows = sampler.page(q({ kind: 'connection' })).rows;
    expect(rows.map((r) => [r.pid, r.handler])).toEqual([...chats.map((c) => [String(c.pid), 'ChatSocket']), [String(feed.pid), 'FeedSocket']]);
    expect(sampler.page(q({ handler: 'FeedSocket' })).rows.map((r) => r.pid)).toEqual([String(feed.pid)]);
    expect(sampler.page(q({ text: 'chatsock' })).total).toBe(2);
    expect(sampler.page(q({ kind: 'worker' })).rows[0]?.handler).toBeNull();
  });

  it('collapses connections into one family per handler', async () => {
    for (let i = 0; i < 12; i++) startHandler(new ChatSocket(), null);
    startHandler(new FeedSocket(), null);
    await idle();
    const sampler = new Sampler({ groupAbove: 10 });
    sampler.sample();
    const { tree } = sampler.summary();
    expect(tree.groups).toEqual([{ kind: 'connection', handler: 'ChatSocket', count: 12 }]);
    expect(tree.children.map((c) => [c.kind, c.handler])).toEqual([['connection', 'FeedSocket']]);
  });
});

describe('Sampler tree', () => {
  const find = (node: TreeNode, pid: Pid): TreeNode | undefined => {
    if (node.pid === String(pid)) return node;
    for (const c of node.children) {
      const hit = find(c, pid);
      if (hit !== undefined) return hit;
    }
    return undefined;
  };

  it('nests children under the supervisor that started them', async () => {
    const sup = await Supervisor.start(
      [
        { id: 'a', start: () => spawnLink(() => undefined) },
        { id: 'b', start: () => spawnLink(() => undefined) },
      ],
      { strategy: 'one_for_one' },
    );
    const sampler = new Sampler();
    sampler.sample();
    const { tree } = sampler.summary();
    expect(tree.pid).toBeNull();
    const node = find(tree, sup);
    expect(node?.kind).toBe('supervisor');
    expect(node?.children.map((c) => c.kind)).toEqual(['worker', 'worker']);
    expect(tree.children.map((c) => c.pid)).toEqual([String(sup)]);
  });

  it('collapses many children of one kind into a count', async () => {
    const sup = await DynamicSupervisor.start();
    for (let i = 0; i < 25; i++) await DynamicSupervisor.startChild(sup, { start: () => spawnLink(() => undefined, { kind: 'connection' }), restart: 'temporary' });
    await DynamicSupervisor.startChild(sup, { start: () => spawnLink(() => undefined), restart: 'temporary' });
    const sampler = new Sampler({ groupAbove: 10 });
    sampler.sample();
    const node = find(sampler.summary().tree, sup);
    expect(node?.groups).toEqual([{ kind: 'connection', count: 25 }]);
    expect(node?.children.map((c) => c.kind)).toEqual(['worker']);
  });

  it('shows at most treeBudget processes, counting the rest', () => {
    for (let i = 0; i < 8; i++) idleWorker();
    for (let i = 0; i < 8; i++) spawn(() => undefined, { kind: 'connection' });
    const sampler = new Sampler({ treeBudget: 10, groupAbove: 20 });
    sampler.sample();
    const { tree } = sampler.summary();
    expect(tree.children).toHaveLength(8);
    expect(tree.groups).toEqual([{ kind: 'connection', count: 8 }]);
  });
});
