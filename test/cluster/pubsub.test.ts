import { afterAll, describe, expect, it } from 'vitest';
import { BROKERS, sharedUrl, uniqueCluster } from './brokers.js';
import { NodeProc, barrier, killAll } from './harness.js';

afterAll(killAll);

type PidJSON = { node: string; serial: number; creation: number };

describe.each(BROKERS)('PubSub across nodes over %s (separate OS processes)', { timeout: 120_000 }, (kind) => {
  it('broadcast reaches subscribers on every node in order, localBroadcast this node only, directBroadcast one named node', async () => {
    const cluster = uniqueCluster();
    const common = { kind, url: sharedUrl(kind), cluster, nodeDownAfterMs: 5000 };
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => NodeProc.start({ ...common, name })));
    await Promise.all([a!.waitUp('b'), a!.waitUp('c')]);
    const subs = new Map<NodeProc, PidJSON>();
    for (const n of [a!, b!, c!]) subs.set(n, await n.request<PidJSON>('subscribe', { topic: 'room:1' }));
    const other = await b!.request<PidJSON>('subscribe', { topic: 'room:2' });
    // Routing is per topic at the sender: a must have heard of b's and c's subscriptions.
    await Promise.all([barrier(b!, a!), barrier(c!, a!)]);

    for (let i = 0; i < 100; i++) await a!.request('publish', { mode: 'broadcast', topic: 'room:1', msg: { i } });
    await a!.request('publish', { mode: 'local', topic: 'room:1', msg: 'local only' });
    await a!.request('publish', { mode: 'direct', node: 'c', topic: 'room:1', msg: 'for c' });
    await a!.request('publish', { mode: 'broadcast', topic: 'room:1', msg: 'end' });

    const expected = Array.from({ length: 100 }, (_, i) => ({ i: String(i) }));
    await a!.request('awaitInbox', { pid: subs.get(a!), count: 102 });
    await b!.request('awaitInbox', { pid: subs.get(b!), count: 101 });
    await c!.request('awaitInbox', { pid: subs.get(c!), count: 102 });
    expect(await a!.request('inbox', { pid: subs.get(a!) })).toEqual([...expected, 'local only', 'end']);
    expect(await b!.request('inbox', { pid: subs.get(b!) })).toEqual([...expected, 'end']);
    expect(await c!.request('inbox', { pid: subs.get(c!) })).toEqual([...expected, 'for c', 'end']);
    expect(await b!.request('inbox', { pid: other })).toEqual([]);
  });

  it('a broadcast goes only to nodes with subscribers for its topic; a later subscriber gets later broadcasts, and none once it is gone', async () => {
    const cluster = uniqueCluster();
    const common = { kind, url: sharedUrl(kind), cluster, nodeDownAfterMs: 5000 };
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => NodeProc.start({ ...common, name })));
    await Promise.all([a!.waitUp('b'), a!.waitUp('c')]);
    const received = async (n: NodeProc): Promise<number> => (await n.request<{ messagesIn: number }>('stats')).messagesIn;
    const subB = await b!.request<PidJSON>('subscribe', { topic: 'T' });
    await barrier(b!, a!);
    const before = await received(c!);
    for (let i = 0; i < 50; i++) await a!.request('publish', { mode: 'broadcast', topic: 'T', msg: i });
    await b!.request('awaitInbox', { pid: subB, count: 50 });
    await barrier(a!, c!);
    expect(await received(c!)).toBe(before + 1);

    const subC = await c!.request<PidJSON>('subscribe', { topic: 'T' });
    await barrier(c!, a!);
    await a!.request('publish', { mode: 'broadcast', topic: 'T', msg: 'later' });
    await c!.request('awaitInbox', { pid: subC, count: 1 });
    expect(await c!.request('inbox', { pid: subC })).toEqual(['later']);

    // Its last subscriber gone, the topic stops reaching c.
    await c!.request('stopProcess', { pid: subC, reason: 'shutdown' });
    await barrier(c!, a!);
    const afterLeave = await received(c!);
    await a!.request('publish', { mode: 'broadcast', topic: 'T', msg: 'gone' });
    await b!.request('awaitInbox', { pid: subB, count: 52 });
    await barrier(a!, c!);
    expect(await received(c!)).toBe(afterLeave + 1);
  });
});
