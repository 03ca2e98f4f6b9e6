import { afterAll, describe, expect, it } from 'vitest';
import { exit, send, spawn, type Pid as PidT } from '../../src/runtime/index.js';
import { groupScope, pg, type GroupEvent } from '../../src/runtime/cluster/index.js';
import { Pid } from '../../src/runtime/pid.js';
import { BROKERS, sharedUrl, uniqueCluster } from './brokers.js';
import { NodeProc, barrier, killAll, pairOnPrivateBroker, upPair, type NodeEvent } from './harness.js';

afterAll(killAll);

type PidJSON = { node: string; serial: number; creation: number };
const label = (p: PidJSON): string => `${p.node}.${p.serial}`;
const patient = { nodeDownAfterMs: 5000 };

/** The next `group` event on `n` after the first `skip` ones that match. */
function groupEvent(n: NodeProc, pred: (e: NodeEvent) => boolean, skip = 0): Promise<NodeEvent> {
  return n.waitEvent((e) => e.event === 'group' && pred(e) && n.events.filter((x) => x.event === 'group' && pred(x)).indexOf(e) >= skip);
}

/** Resolves on the next turn after the scheduler ran what was queued. */
const settled = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('process groups on one node', () => {
  it('join defaults to the calling process; a dead pid is skipped; demonitor stops the events and answers whether it was active', async () => {
    const scope = groupScope('local-1');
    const events: GroupEvent[] = [];
    let ref: unknown;
    const watcher = spawn((m: GroupEvent | 'stop') => {
      if (m === 'stop') ref = scope.demonitor(ref as never) ? 'demonitored' : 'not active';
      else events.push(m);
    }, { init: () => void (ref = scope.monitor('g').ref) });
    const member = spawn((m: 'join' | 'leave') => void (m === 'join' ? scope.join('g') : scope.leave('g')));
    const dead = spawn(() => {});
    exit(dead, 'kill');
    scope.join('g', dead);
    expect(scope.members('g')).toEqual([]);
    send(member, 'join');
    await settled();
    expect(scope.localMembers('g')).toEqual([member]);
    expect(events.map((e) => [e.event, e.pids])).toEqual([['join', [member]]]);
    send(watcher, 'stop');
    await settled();
    expect(ref).toBe('demonitored');
    send(member, 'leave');
    await settled();
    expect(scope.members('g')).toEqual([]);
    expect(events).toHaveLength(1);
    expect(pg.name).toBe('default');
  });

  it('refuses a bad group name, a pid of another node, and a monitor outside a process', () => {
    const pid: PidT = spawn(() => {});
    expect(() => pg.join('', pid)).toThrow(TypeError);
    expect(() => pg.join('g', Pid.from({ node: 'elsewhere', serial: 9, creation: 1 }))).toThrow("only local processes join or leave groups here");
    expect(() => pg.join('g', 'x' as unknown as PidT)).toThrow('expected a Pid or an array of Pids');
    expect(() => pg.monitor('g')).toThrow('self() called outside a process');
    expect(() => groupScope('')).toThrow(TypeError);
  });
});

describe.each(BROKERS)('process groups across nodes over %s (separate OS processes)', { timeout: 120_000 }, (kind) => {
  it('join, leave and members span the nodes; a monitor hears each join and leave with its ref; localMembers and whichGroups', async () => {
    const cluster = uniqueCluster();
    const common = { kind, url: sharedUrl(kind), cluster, ...patient };
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => NodeProc.start({ ...common, name })));
    await Promise.all([a!.waitUp('b'), a!.waitUp('c'), b!.waitUp('c')]);
    const watch = await c!.request<{ members: string[] }>('pgMonitor', { group: 'room' });
    expect(watch.members).toEqual([]);

    const pa = await a!.request<PidJSON>('spawnInbox');
    const pb = await b!.request<PidJSON>('spawnInbox');
    await a!.request('pgJoin', { group: 'room', pid: pa });
    await b!.request('pgJoin', { group: 'room', pid: pb });
    await b!.request('pgJoin', { group: 'room', pid: pb });
    const joinA = await groupEvent(c!, (e) => e.ev === 'join' && (e.pids as string[]).includes(label(pa)));
    expect(joinA).toMatchObject({ scope: 'default', group: 'room', pids: [label(pa)], refMatches: true });
    await groupEvent(c!, (e) => e.ev === 'join' && (e.pids as string[]).includes(label(pb)), 1);

    const all = [label(pa), label(pb), label(pb)].sort();
    expect(await c!.request('pgMembers', { group: 'room' })).toEqual(all);
    expect(await c!.request('pgLocalMembers', { group: 'room' })).toEqual([]);
    expect(await b!.request('pgLocalMembers', { group: 'room' })).toEqual([label(pb), label(pb)]);
    expect(await c!.request('pgWhichGroups')).toEqual(['room']);
    // Another scope is another set of groups.
    expect(await c!.request('pgMembers', { group: 'room', scope: 'other' })).toEqual([]);

    // One leave removes one membership; leaving a group one is not in is false.
    expect(await b!.request('pgLeave', { group: 'room', pid: pb })).toBe(true);
    await groupEvent(c!, (e) => e.ev === 'leave' && (e.pids as string[]).includes(label(pb)));
    expect(await c!.request('pgMembers', { group: 'room' })).toEqual([label(pa), label(pb)].sort());
    expect(await a!.request('pgLeave', { group: 'nothing', pid: pa })).toBe(false);

    // A member that exits leaves every group, on every node.
    await b!.request('stopProcess', { pid: pb, reason: 'shutdown' });
    await groupEvent(c!, (e) => e.ev === 'leave' && (e.pids as string[]).includes(label(pb)), 1);
    expect(await c!.request('pgMembers', { group: 'room' })).toEqual([label(pa)]);
    expect(await b!.request('pgMembers', { group: 'room' })).toEqual([label(pa)]);
  });

  it('a node that joins later gets the members already there; a scope monitor sees every group', async () => {
    const cluster = uniqueCluster();
    const common = { kind, url: sharedUrl(kind), cluster, ...patient };
    const a = await NodeProc.start({ ...common, name: 'a' });
    const pa = await a.request<PidJSON>('spawnInbox');
    await a.request('pgJoin', { group: 'x', pid: pa, scope: 's1' });
    await a.request('pgJoin', { group: 'y', pid: pa, scope: 's1' });
    const b = await NodeProc.start({ ...common, name: 'b' });
    await a.waitUp('b');
    // a's snapshot went first on its fresh stream to b.
    await barrier(a, b);
    expect(await b.request('pgWhichGroups', { scope: 's1' })).toEqual(['x', 'y']);
    expect(await b.request('pgMembers', { group: 'x', scope: 's1' })).toEqual([label(pa)]);

    const mon = await b.request<{ groups: Record<string, string[]> }>('pgMonitor', { scope: 's1' });
    expect(mon.groups).toEqual({ x: [label(pa)], y: [label(pa)] });
    await a.request('pgJoin', { group: 'z', pid: pa, scope: 's1' });
    expect(await groupEvent(b, (e) => e.group === 'z')).toMatchObject({ ev: 'join', scope: 's1', pids: [label(pa)], refMatches: true });
  });

  it('a SIGKILLed node: its members leave on the other nodes within the documented detection time', async () => {
    const [a, b] = await upPair(kind);
    await a.request('pgMonitor', { group: 'g' });
    const pb = await b.request<PidJSON>('spawnInbox');
    const pa = await a.request<PidJSON>('spawnInbox');
    await a.request('pgJoin', { group: 'g', pid: pa });
    await b.request('pgJoin', { group: 'g', pid: pb });
    await groupEvent(a, (e) => e.ev === 'join' && (e.pids as string[]).includes(label(pb)));
    const killedAt = Date.now();
    b.kill('SIGKILL');
    const left = await groupEvent(a, (e) => e.ev === 'leave');
    expect(left.pids).toEqual([label(pb)]);
    const detection = (left.at as number) - killedAt;
    // Documented: nodeDownAfterMs + heartbeatMs = 1000 ms; a loaded machine adds its stalls.
    expect(detection).toBeLessThan(3000);
    expect(await a.request('pgMembers', { group: 'g' })).toEqual([label(pa)]);
  });

  it('after a broker outage longer than outageMs the nodes rejoin and re-announce their members', async () => {
    await pairOnPrivateBroker(kind, async (a, b, broker) => {
      await a.request('pgMonitor', { group: 'g' });
      const pb = await b.request<PidJSON>('spawnInbox');
      await b.request('pgJoin', { group: 'g', pid: pb });
      await groupEvent(a, (e) => e.ev === 'join');
      await broker.kill();
      await a.waitEvent((e) => e.event === 'nodedown' && e.node === 'b');
      await groupEvent(a, (e) => e.ev === 'leave');
      expect(await a.request('pgMembers', { group: 'g' })).toEqual([]);
      // Joined while apart: announced when they meet again.
      await b.request('pgJoin', { group: 'g', pid: pb });
      await broker.restart();
      const back = await groupEvent(a, (e) => e.ev === 'join', 1);
      expect(back.pids).toEqual([label(pb), label(pb)]);
      expect(await a.request('pgMembers', { group: 'g' })).toEqual([label(pb), label(pb)]);
    });
  });
});
