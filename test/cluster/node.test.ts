import { afterAll, describe, expect, it } from 'vitest';
import { BROKERS, sharedUrl, uniqueCluster } from './brokers.js';
import { NodeProc, killAll, structuredAsSeen } from './harness.js';

afterAll(killAll);

type PidJSON = { node: string; serial: number; creation: number };
type Summary = Record<string, { count: number; inOrder: boolean; first: number; last: number; duplicates: number }>;

// Each node is a process of its own (a few seconds to start on a loaded machine).
describe.each(BROKERS)('nodes over %s (separate OS processes)', { timeout: 90_000 }, (kind) => {
  const url = sharedUrl(kind);
  // Slow machines stall event loops: outside the detection test, judge silence generously.
  const patient = { nodeDownAfterMs: 5000 };

  it('two nodes see each other; pids carry node and incarnation; a remote send lands in the mailbox', async () => {
    const cluster = uniqueCluster();
    const a = await NodeProc.start({ kind, url, name: 'a', cluster, ...patient });
    const b = await NodeProc.start({ kind, url, name: 'b', cluster, ...patient });
    expect(await b.request('nodes')).toEqual(['a']);
    await a.waitUp('b');
    expect(await a.request('nodes')).toEqual(['b']);
    expect(a.creation).not.toBe(b.creation);
    const box = await b.request<PidJSON>('spawnInbox');
    expect(box).toEqual({ node: 'b', serial: expect.any(Number), creation: b.creation });
    await a.request('send', { to: box, msg: { hello: 'from a' } });
    await b.request('awaitInbox', { pid: box, count: 1 });
    expect(await b.request('inbox', { pid: box })).toEqual([{ hello: '"from a"' }]);
  });

  it('10,000 messages from one sender arrive in order; two senders interleaved each keep their order', async () => {
    const cluster = uniqueCluster();
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => NodeProc.start({ kind, url, name, cluster, ...patient })));
    await Promise.all([a, c].map((n) => n!.waitUp('b')));
    const box = await b!.request<PidJSON>('spawnInbox');
    for (let k = 0; k < 5; k++) {
      await Promise.all([a!.request('sendSeq', { to: box, tag: 'a', from: k * 2000, count: 2000 }), c!.request('sendSeq', { to: box, tag: 'c', from: k * 2000, count: 2000 })]);
    }
    await b!.request('awaitInbox', { pid: box, count: 20_000 });
    const s = await b!.request<Summary>('inbox', { pid: box, summary: true });
    expect(s.a).toEqual({ count: 10_000, inOrder: true, first: 0, last: 9999, duplicates: 0 });
    expect(s.c).toEqual({ count: 10_000, inOrder: true, first: 0, last: 9999, duplicates: 0 });
    const stats = await a!.request<{ messagesOut: number; framesOut: number; lost: number }>('stats');
    expect(stats.messagesOut).toBe(10_000);
    // Batched: one broker message per destination per loop turn, not one per message.
    expect(stats.framesOut).toBeLessThan(1000);
    expect(stats.lost).toBe(0);
  });

  it('structured values cross; a function is a TypeError at the sender naming its path, and nothing is sent', async () => {
    const cluster = uniqueCluster();
    const a = await NodeProc.start({ kind, url, name: 'a', cluster, ...patient });
    const b = await NodeProc.start({ kind, url, name: 'b', cluster, ...patient });
    await a.waitUp('b');
    const box = await b.request<PidJSON>('spawnInbox');
    expect(await a.request('sendFunction', { to: box })).toBe('TypeError: message.a.b is a function: functions cannot cross to another node');
    await a.request('sendStructured', { to: box });
    await b.request('awaitInbox', { pid: box, count: 1 });
    expect(await b.request('inbox', { pid: box })).toEqual([
      structuredAsSeen(b.creation),
    ]);
    expect((await a.request<{ messagesOut: number }>('stats')).messagesOut).toBe(1);
  });

  it('exit(remotePid, reason) crosses: a trapping process gets the EXIT message, a plain one dies', async () => {
    const cluster = uniqueCluster();
    const a = await NodeProc.start({ kind, url, name: 'a', cluster, ...patient });
    const b = await NodeProc.start({ kind, url, name: 'b', cluster, ...patient });
    await a.waitUp('b');
    const trapper = await b.request<PidJSON>('trapper');
    const plain = await b.request<PidJSON>('spawnInbox');
    await b.request('watchDeath', { pid: plain });
    await a.request('exit', { to: trapper, reason: 'go away' });
    await a.request('exit', { to: plain, reason: 'go away' });
    await b.request('awaitInbox', { pid: trapper, count: 1 });
    const [exitMsg] = await b.request<Record<string, string>[]>('inbox', { pid: trapper });
    expect(exitMsg).toMatchObject({ type: '"EXIT"', reason: '"go away"' });
    expect(exitMsg!.from).toBe(`Pid(${a.creation})`);
    expect((await b.waitEvent((e) => e.event === 'death')).reason).toBe('"go away"');
    expect(await b.request('alive', { pid: trapper })).toBe(true);
  });

  it('a SIGKILLed node is seen down (noconnection) within the documented time, by node monitors', async () => {
    const cluster = uniqueCluster();
    const a = await NodeProc.start({ kind, url, name: 'a', cluster });
    const b = await NodeProc.start({ kind, url, name: 'b', cluster });
    await a.waitUp('b');
    await a.request('monitorNode', { node: 'b' });
    const killedAt = Date.now();
    b.kill('SIGKILL');
    const down = await a.waitEvent((e) => e.event === 'nodedown' && e.node === 'b');
    const once = await a.waitEvent((e) => e.event === 'monitorNode:nodedown' && e.node === 'b');
    expect(down.reason).toBe('noconnection');
    expect(once.reason).toBe('noconnection');
    const detection = (down.at as number) - killedAt;
    // Documented: at most nodeDownAfterMs + heartbeatMs = 1000 ms; a loaded machine adds its stalls.
    expect(detection).toBeGreaterThan(500);
    expect(detection).toBeLessThan(3000);
    expect(await a.request('nodes')).toEqual([]);
    process.stdout.write(`[${kind}] SIGKILL detected after ${detection} ms\n`);
  });

  it('a node restarted under its old name is a new incarnation: nodedown then nodeup, old pids reach nothing', async () => {
    const cluster = uniqueCluster();
    const a = await NodeProc.start({ kind, url, name: 'a', cluster, ...patient });
    const b1 = await NodeProc.start({ kind, url, name: 'b', cluster, ...patient });
    const oldBox = await b1.request<PidJSON>('spawnInbox');
    b1.kill('SIGKILL');
    await b1.exited;
    const b2 = await NodeProc.start({ kind, url, name: 'b', cluster, ...patient });
    expect(b2.creation).not.toBe(b1.creation);
    await a.waitEvent((e) => e.event === 'nodedown' && e.node === 'b');
    const ups = () => a.events.filter((e) => e.event === 'nodeup' && e.node === 'b').length;
    await a.waitEvent((e) => e.event === 'nodeup' && e.node === 'b' && ups() >= 2);
    // b2's first process may get the very serial of b1's: the creation keeps them apart.
    const newBox = await b2.request<PidJSON>('spawnInbox');
    await a.request('send', { to: oldBox, msg: 'to the dead' });
    await a.request('send', { to: newBox, msg: 'to the living' });
    await b2.request('awaitInbox', { pid: newBox, count: 1 });
    expect(await b2.request('inbox', { pid: newBox })).toEqual(['to the living']);
    expect((await a.request<{ unreachable: number }>('stats')).unreachable).toBe(1);
  });

  it('a second live node with a taken name fails to start, saying so', async () => {
    const cluster = uniqueCluster();
    await NodeProc.start({ kind, url, name: 'a', cluster, ...patient });
    await expect(NodeProc.start({ kind, url, name: 'a', cluster, ...patient })).rejects.toThrow(/the name 'a' is already taken in cluster/);
  });

  it('stop() says goodbye (peers see nodedown "disconnect" at once) and the process then exits by itself', async () => {
    const cluster = uniqueCluster();
    const a = await NodeProc.start({ kind, url, name: 'a', cluster, ...patient });
    const b = await NodeProc.start({ kind, url, name: 'b', cluster, ...patient });
    await a.waitUp('b');
    const box = await a.request<PidJSON>('spawnInbox');
    await b.request('sendSeq', { to: box, tag: 'last', from: 0, count: 100 });
    await b.request('stop');
    const down = await a.waitEvent((e) => e.event === 'nodedown' && e.node === 'b');
    expect(down.reason).toBe('disconnect');
    expect(await b.exited).toEqual({ code: 0, signal: null });
    // What was sent before stop() arrived.
    await a.request('awaitInbox', { pid: box, count: 100 });
  });
});
