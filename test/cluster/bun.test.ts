import { afterAll, describe, expect, it } from 'vitest';
import { BROKERS, sharedUrl, uniqueCluster } from './brokers.js';
import { NodeProc, killAll, structuredAsSeen } from './harness.js';

afterAll(killAll);

type PidJSON = { node: string; serial: number; creation: number };
type Summary = Record<string, { count: number; inOrder: boolean; first: number; last: number; duplicates: number }>;

describe.each(BROKERS)('a Node node and a Bun node in one cluster over %s', { timeout: 90_000 }, (kind) => {
  it.each(['msgpack', 'json'] as const)('see each other and exchange ordered, structured messages both ways (%s codec)', async (codec) => {
    const cluster = uniqueCluster();
    const common = { kind, url: sharedUrl(kind), cluster, codec, nodeDownAfterMs: 5000 };
    const n = await NodeProc.start({ ...common, name: 'on-node' });
    const b = await NodeProc.start({ ...common, name: 'on-bun', runtime: 'bun' });
    await n.waitUp('on-bun');
    expect(await b.request('nodes')).toEqual(['on-node']);
    const bunBox = await b.request<PidJSON>('spawnInbox');
    const nodeBox = await n.request<PidJSON>('spawnInbox');
    await n.request('sendSeq', { to: bunBox, tag: 'n', from: 0, count: 1000 });
    await b.request('sendSeq', { to: nodeBox, tag: 'b', from: 0, count: 1000 });
    await n.request('sendStructured', { to: bunBox });
    await b.request('awaitInbox', { pid: bunBox, count: 1001 });
    await n.request('awaitInbox', { pid: nodeBox, count: 1000 });
    expect((await n.request<Summary>('inbox', { pid: nodeBox, summary: true })).b).toEqual({ count: 1000, inOrder: true, first: 0, last: 999, duplicates: 0 });
    const got = await b.request<unknown[]>('inbox', { pid: bunBox });
    expect(got.at(-1)).toEqual(structuredAsSeen(b.creation));
    b.kill('SIGKILL');
    const down = await n.waitEvent((e) => e.event === 'nodedown' && e.node === 'on-bun');
    expect(down.reason).toBe('noconnection');
  });
});
