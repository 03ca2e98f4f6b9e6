import { afterAll, describe, expect, it } from 'vitest';
import { BROKERS, PrivateBroker, sharedUrl, uniqueCluster } from './brokers.js';
import { NodeProc, killAll, pairOnPrivateBroker } from './harness.js';

afterAll(killAll);

type PidJSON = { node: string; serial: number; creation: number };
type Summary = Record<string, { count: number; inOrder: boolean; first: number; last: number; duplicates: number }>;
type Stats = { messagesOut: number; retransmitted: number; gaps: number; lost: number; overflows: number; duplicates: number; badFrames: number };

const patient = { nodeDownAfterMs: 5000 };

/** Resolves after `ms`: the length of a broker outage is the scenario itself, not a wait for an event. */
const outage = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.each(BROKERS)('faults over %s (separate OS processes)', { timeout: 120_000 }, (kind) => {
  it('a broker restarted mid-traffic (1 s away): what was sent meanwhile arrives once and in order, nobody sees a node down', async () => {
    const broker = await PrivateBroker.start(kind);
    try {
      const cluster = uniqueCluster();
      const a = await NodeProc.start({ kind, url: broker.url, name: 'a', cluster, ...patient });
      const b = await NodeProc.start({ kind, url: broker.url, name: 'b', cluster, ...patient });
      await a.waitUp('b');
      const box = await b.request<PidJSON>('spawnInbox');
      await a.request('stream', { to: box, tag: 's', everyMs: 2 });
      await b.request('awaitInbox', { pid: box, count: 50 });
      await broker.kill();
      await outage(1000);
      await broker.restart();
      const before = (await b.request<Summary>('inbox', { pid: box, summary: true })).s!.count;
      // Traffic flows again after the restart.
      await b.request('awaitInbox', { pid: box, count: before + 200 });
      const sent = await a.request<number>('stopStream', { tag: 's' });
      await b.request('awaitInbox', { pid: box, count: sent });
      const s = (await b.request<Summary>('inbox', { pid: box, summary: true })).s!;
      expect(s).toEqual({ count: sent, inOrder: true, first: 0, last: sent - 1, duplicates: 0 });
      const stats = await a.request<Stats>('stats');
      expect(stats.lost).toBe(0);
      expect(stats.retransmitted).toBeGreaterThan(0);
      expect([...a.events, ...b.events].filter((e) => e.event === 'nodedown')).toEqual([]);
    } finally {
      await broker.kill();
    }
  });

  it('an outage longer than outageMs: peers are declared down (noconnection), the loss is counted and reported, then they rejoin', async () => {
    await pairOnPrivateBroker(kind, async (a, b, broker) => {
      const box = await b.request<PidJSON>('spawnInbox');
      await broker.kill();
      await a.request('sendSeq', { to: box, tag: 'lost', from: 0, count: 10 });
      const down = await a.waitEvent((e) => e.event === 'nodedown' && e.node === 'b');
      expect(down.reason).toBe('noconnection');
      await broker.restart();
      await a.waitEvent((e) => e.event === 'nodeup' && e.node === 'b' && a.upNodes().has('b'));
      const stats = await a.request<Stats>('stats');
      expect(stats.lost).toBe(10);
      expect(a.events.some((e) => e.event === 'report' && (e.report as { event: string }).event === 'nodedown')).toBe(true);
      // The fresh stream works.
      await b.waitUp('a');
      await a.request('sendSeq', { to: box, tag: 'after', from: 0, count: 10 });
      await b.request('awaitInbox', { pid: box, count: 10 });
      const s = await b.request<Summary>('inbox', { pid: box, summary: true });
      expect(s.after).toEqual({ count: 10, inOrder: true, first: 0, last: 9, duplicates: 0 });
      expect(s.lost).toBeUndefined();
    });
  });

  it('a frame the broker client lost silently is a gap: detected, asked for again, delivered in order', async () => {
    const cluster = uniqueCluster();
    const a = await NodeProc.start({ kind, url: sharedUrl(kind), name: 'a', cluster, ...patient, dropFrames: [3] });
    const b = await NodeProc.start({ kind, url: sharedUrl(kind), name: 'b', cluster, ...patient });
    await a.waitUp('b');
    const box = await b.request<PidJSON>('spawnInbox');
    // One request per loop turn on the sender: one frame each.
    for (let k = 0; k < 6; k++) await a.request('sendSeq', { to: box, tag: 'g', from: k * 10, count: 10 });
    await b.request('awaitInbox', { pid: box, count: 60 });
    const s = await b.request<Summary>('inbox', { pid: box, summary: true });
    expect(s.g).toEqual({ count: 60, inOrder: true, first: 0, last: 59, duplicates: 0 });
    expect((await b.request<Stats>('stats')).gaps).toBeGreaterThan(0);
    expect((await a.request<Stats>('stats')).retransmitted).toBeGreaterThan(0);
  });

  it('a stuck node (SIGSTOP): the outbox stays within its bound, the overflow is counted and reported, and the node rejoins after SIGCONT', async () => {
    const cluster = uniqueCluster();
    const opts = { kind, url: sharedUrl(kind), cluster, nodeDownAfterMs: 60_000, maxOutboxBytes: 256 * 1024 };
    const a = await NodeProc.start({ ...opts, name: 'a' });
    const b = await NodeProc.start({ ...opts, name: 'b' });
    await a.waitUp('b');
    const box = await b.request<PidJSON>('spawnInbox');
    b.kill('SIGSTOP');
    try {
      // 10 KiB each: far past 256 KiB if nothing were bounded.
      for (let k = 0; k < 50; k++) await a.request('send', { to: box, msg: { pad: 'x'.repeat(10_240), k } });
      const down = await a.waitEvent((e) => e.event === 'nodedown' && e.node === 'b');
      expect(down.reason).toBe('noconnection');
      const stats = await a.request<Stats>('stats');
      expect(stats.overflows).toBe(1);
      expect(stats.lost).toBeGreaterThan(0);
      expect(a.events.some((e) => e.event === 'report' && (e.report as { event: string }).event === 'outbox_overflow')).toBe(true);
    } finally {
      b.kill('SIGCONT');
    }
    await a.waitEvent((e) => e.event === 'nodeup' && e.node === 'b' && a.upNodes().has('b'));
    await b.waitUp('a');
  });

  it('bytes that are not a beamsock frame, on its subjects, are dropped with a report; the node carries on', async () => {
    const cluster = uniqueCluster();
    const a = await NodeProc.start({ kind, url: sharedUrl(kind), name: 'a', cluster, ...patient });
    const b = await NodeProc.start({ kind, url: sharedUrl(kind), name: 'b', cluster, ...patient });
    await a.waitUp('b');
    await a.request('publishRaw', { subject: `bs.${cluster}.n.b`, bytes: [1, 2, 3, 250, 0] });
    await a.request('publishRaw', { subject: `bs.${cluster}.n.b`, bytes: [...Buffer.from('{"json":true}')] });
    await a.request('publishRaw', { subject: `bs.${cluster}.ctl`, bytes: [0x93, 1, 2, 3] });
    await b.waitEvent(() => b.events.filter((e) => e.event === 'report').length >= 2);
    const box = await b.request<PidJSON>('spawnInbox');
    await a.request('send', { to: box, msg: 'still here' });
    await b.request('awaitInbox', { pid: box, count: 1 });
    expect((await b.request<Stats>('stats')).badFrames).toBeGreaterThanOrEqual(2);
    expect(b.events.filter((e) => e.event === 'report').map((e) => (e.report as { event: string }).event)).toContain('bad_frame');
  });
});
