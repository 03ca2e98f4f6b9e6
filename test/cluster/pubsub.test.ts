import { afterAll, describe, expect, it } from 'vitest';
import { BROKERS, sharedUrl, uniqueCluster } from './brokers.js';
import { NodeProc, killAll } from './harness.js';

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
});
