import { afterAll, describe, expect, it } from 'vitest';
import { send, spawn } from '../../src/runtime/index.js';
import { registerGlobal, registeredGlobal, unregisterGlobal, whereisGlobal } from '../../src/runtime/cluster/index.js';
import { Pid } from '../../src/runtime/pid.js';
import { BROKERS } from './brokers.js';
import { barrier, killAll, pairOnPrivateBroker, upPair } from './harness.js';

afterAll(killAll);

type PidJSON = { node: string; serial: number; creation: number };
const label = (p: PidJSON): string => `${p.node}.${p.serial}`;
const patient = { nodeDownAfterMs: 5000 };

describe('global names on one node', () => {
  it('registers, finds, sends to and releases a name; a holder that exits releases it', async () => {
    let got: unknown;
    const pid = spawn((m: unknown) => {
      got = m;
    });
    expect(await registerGlobal('solo', pid)).toBe(true);
    expect(await registerGlobal('solo', spawn(() => {}))).toBe(false);
    expect(whereisGlobal('solo')).toBe(pid);
    expect(registeredGlobal()).toContain('solo');
    send({ global: 'solo' }, 'hi');
    await new Promise<void>((r) => setImmediate(r));
    expect(got).toBe('hi');
    expect(unregisterGlobal('solo')).toBe(true);
    expect(unregisterGlobal('solo')).toBe(false);
    expect(() => send({ global: 'solo' }, 'hi')).toThrow("send: no process is registered globally under 'solo' (badarg)");
  });

  it('refuses a bad name and a pid of another node with a TypeError', () => {
    expect(() => registerGlobal('', spawn(() => {}))).toThrow(TypeError);
    expect(() => registerGlobal('x', Pid.from({ node: 'elsewhere', serial: 3, creation: 1 }))).toThrow("pid must be a process of this node");
    expect(() => unregisterGlobal(42 as unknown as string)).toThrow(TypeError);
  });
});

describe.each(BROKERS)('global names across nodes over %s (separate OS processes)', { timeout: 120_000 }, (kind) => {
  it('a name is unique across the cluster, reached with send({ global }), released by unregister or the holder exit', async () => {
    const [a, b] = await upPair(kind, patient);
    const pa = await a.request<PidJSON>('spawnInbox');
    const pb = await b.request<PidJSON>('spawnInbox');
    // true only once b has acknowledged: b knows it already.
    expect(await a.request('registerGlobal', { name: 'leader', pid: pa })).toBe(true);
    expect(await b.request('whereisGlobal', { name: 'leader' })).toBe(label(pa));
    expect(await b.request('registerGlobal', { name: 'leader', pid: pb })).toBe(false);
    expect(await b.request('sendGlobal', { name: 'leader', msg: 'to the leader' })).toBe('sent');
    await a.request('awaitInbox', { pid: pa, count: 1 });
    expect(await a.request('inbox', { pid: pa })).toEqual(['to the leader']);
    expect(await b.request('sendGlobal', { name: 'nobody', msg: 1 })).toMatch(/no process is registered globally under 'nobody'/);

    // Released from the other node: the holder's node lets go and tells everyone.
    expect(await b.request('unregisterGlobal', { name: 'leader' })).toBe(true);
    await barrier(b, a);
    expect(await a.request('whereisGlobal', { name: 'leader' })).toBe(null);

    // The holder exits: the name goes everywhere.
    expect(await b.request('registerGlobal', { name: 'worker', pid: pb })).toBe(true);
    expect(await a.request('registeredGlobal')).toEqual(['worker']);
    await b.request('stopProcess', { pid: pb, reason: 'shutdown' });
    await barrier(b, a);
    expect(await a.request('whereisGlobal', { name: 'worker' })).toBe(null);
    expect(await b.request('whereisGlobal', { name: 'worker' })).toBe(null);
  });

  it('two nodes claiming one name at once: exactly one wins and both agree on it', async () => {
    const [a, b] = await upPair(kind, patient);
    const pa = await a.request<PidJSON>('spawnInbox');
    const pb = await b.request<PidJSON>('spawnInbox');
    const results = await Promise.all([a.request('registerGlobal', { name: 'race', pid: pa }), b.request('registerGlobal', { name: 'race', pid: pb })]);
    expect(results.filter((r) => r === true)).toHaveLength(1);
    const winner = results[0] === true ? label(pa) : label(pb);
    expect(await a.request('whereisGlobal', { name: 'race' })).toBe(winner);
    expect(await b.request('whereisGlobal', { name: 'race' })).toBe(winner);
  });

  it('a SIGKILLed node: its names vanish on the other nodes within the documented detection time', async () => {
    const [a, b] = await upPair(kind);
    const pb = await b.request<PidJSON>('spawnInbox');
    expect(await b.request('registerGlobal', { name: 'doomed', pid: pb })).toBe(true);
    expect(await a.request('whereisGlobal', { name: 'doomed' })).toBe(label(pb));
    const killedAt = Date.now();
    b.kill('SIGKILL');
    const down = await a.waitEvent((e) => e.event === 'nodedown' && e.node === 'b');
    // The names go in the same step that declares the node down.
    expect(await a.request('whereisGlobal', { name: 'doomed' })).toBe(null);
    // Documented: nodeDownAfterMs + heartbeatMs = 1000 ms; a loaded machine adds its stalls.
    expect((down.at as number) - killedAt).toBeLessThan(3000);
  });

  it('names claimed on both sides of a long broker outage: re-announced when the nodes meet, the earlier claim wins, the loser is told', async () => {
    await pairOnPrivateBroker(kind, async (a, b, broker) => {
      const pa = await a.request<PidJSON>('spawnInbox');
      const pb = await b.request<PidJSON>('spawnInbox');
      expect(await b.request('registerGlobal', { name: 'kept', pid: pb })).toBe(true);
      await broker.kill();
      await Promise.all([a.waitEvent((e) => e.event === 'nodedown' && e.node === 'b'), b.waitEvent((e) => e.event === 'nodedown' && e.node === 'a')]);
      expect(await a.request('whereisGlobal', { name: 'kept' })).toBe(null);
      // Apart, each side sees the name free: a claims it first, then b.
      expect(await a.request('registerGlobal', { name: 'split', pid: pa })).toBe(true);
      expect(await b.request('registerGlobal', { name: 'split', pid: pb })).toBe(true);
      await broker.restart();
      // Up again now, not the nodeup a saw when b first joined (waitEvent also matches past events).
      await Promise.all([a.waitUp('b'), b.waitUp('a')]);
      await barrier(a, b);
      await barrier(b, a);
      expect(await a.request('whereisGlobal', { name: 'kept' })).toBe(label(pb));
      expect(await a.request('whereisGlobal', { name: 'split' })).toBe(label(pa));
      expect(await b.request('whereisGlobal', { name: 'split' })).toBe(label(pa));
      await b.request('awaitInbox', { pid: pb, count: 1 });
      expect(await b.request('inbox', { pid: pb })).toEqual([{ type: '"global_name_conflict"', name: '"split"', winner: `Pid(${a.creation})` }]);
      expect(await a.request('inbox', { pid: pa })).toEqual([]);
    });
  });
});
