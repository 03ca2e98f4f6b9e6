import { describe, expect, it } from 'vitest';
import { Pid, Ref, makeRef, nodeName, setNodeName } from '../../src/runtime/pid.js';
import { exit, rootPid, spawn } from '../../src/runtime/process.js';
import { idle } from '../../src/runtime/scheduler.js';

// This block runs first: the node name can only change before the first spawn.
describe('node name', () => {
  it('defaults to nonode@nohost', () => {
    expect(nodeName()).toBe('nonode@nohost');
  });

  it('rejects an empty name and names with spaces or angle brackets, quoting the bad value', () => {
    expect(() => setNodeName('')).toThrow(TypeError);
    expect(() => setNodeName('a b')).toThrow('"a b"');
    expect(() => setNodeName('x<y')).toThrow('"x<y"');
    expect(() => setNodeName('x>y')).toThrow(TypeError);
    expect(() => setNodeName(42 as unknown as string)).toThrow(TypeError);
    expect(nodeName()).toBe('nonode@nohost');
  });

  it('keeps one object per pid rebuilt before and after the node is named', () => {
    // Made while this node is still nonode@nohost (no process holds them), then the name changes either way.
    const own = Pid.from({ node: 'nonode@nohost', serial: 900_001 });
    const future = Pid.from({ node: 'alpha@10.0.0.5', serial: 900_002 });
    setNodeName('alpha@10.0.0.5');
    expect(Pid.from({ node: 'nonode@nohost', serial: 900_001 })).toBe(own);
    expect(Pid.from({ node: 'alpha@10.0.0.5', serial: 900_002 })).toBe(future);
    expect(future.isLocal).toBe(true);
  });

  it('can be set before the first process, and pids then carry it', () => {
    setNodeName('alpha@10.0.0.5');
    expect(nodeName()).toBe('alpha@10.0.0.5');
    const pid = spawn(() => {});
    expect(pid.node).toBe('alpha@10.0.0.5');
    expect(pid.isLocal).toBe(true);
    expect(String(pid)).toMatch(/^#PID<0\.\d+>$/);
    expect(JSON.parse(JSON.stringify(pid))).toEqual({ node: 'alpha@10.0.0.5', serial: pid.serial });
  });

  it('cannot change once a process exists, but setting the same name again is allowed', () => {
    expect(() => setNodeName('beta@10.0.0.6')).toThrow(/before the first process is spawned.*alpha@10\.0\.0\.5/);
    expect(nodeName()).toBe('alpha@10.0.0.5');
    expect(() => setNodeName('alpha@10.0.0.5')).not.toThrow();
  });

  it('the root pid that stands for code outside processes prints as #PID<0.0>', () => {
    expect(String(rootPid())).toBe('#PID<0.0>');
    expect(rootPid().node).toBe(nodeName());
  });
});

describe('Pid', () => {
  it('prints as #PID<0.N> locally and #PID<node.N> for another node', () => {
    const pid = spawn(() => {});
    expect(String(pid)).toBe(`#PID<0.${pid.serial}>`);
    expect(`${pid}`).toBe(`#PID<0.${pid.serial}>`);
    const remote = Pid.from({ node: 'chat-1@10.0.0.7', serial: 12 });
    expect(String(remote)).toBe('#PID<chat-1@10.0.0.7.12>');
    expect(remote.isLocal).toBe(false);
  });

  it('gives each process its own increasing serial', () => {
    const a = spawn(() => {});
    const b = spawn(() => {});
    expect(b.serial).toBeGreaterThan(a.serial);
    expect(a).not.toBe(b);
  });

  it('parses its printed form back to the very same object, local and remote', () => {
    const pid = spawn(() => {});
    expect(Pid.parse(String(pid))).toBe(pid);
    const remote = Pid.from({ node: 'chat-1@10.0.0.7', serial: 13 });
    expect(Pid.parse('#PID<chat-1@10.0.0.7.13>')).toBe(remote);
  });

  it('refuses text that is not a printed pid, quoting it', () => {
    expect(() => Pid.parse('<0.1.0>')).toThrow('not a printed pid: "<0.1.0>"');
    expect(() => Pid.parse('#PID<0.x>')).toThrow(TypeError);
    expect(() => Pid.parse('#PID<0.1> ')).toThrow(TypeError);
  });

  it('round-trips through JSON to the same object for a live process', () => {
    const pid = spawn(() => {});
    const copy = Pid.from(JSON.parse(JSON.stringify(pid)) as { node: string; serial: number });
    expect(copy).toBe(pid);
  });

  it('round-trips through JSON to the same object after the process died', async () => {
    const pid = spawn(() => {});
    const json = JSON.stringify({ who: pid });
    exit(pid, 'kill');
    await idle();
    const copy = Pid.from((JSON.parse(json) as { who: { node: string; serial: number } }).who);
    expect(copy).toBe(pid);
    expect(Pid.from(pid.toJSON())).toBe(pid);
  });

  it('keeps dead pids that are still held the same objects when the table of dead pids is swept', async () => {
    // 5,000 exits sweep the table (it is swept whenever it has doubled, from 1,024 entries).
    const held: Pid[] = [];
    for (let i = 0; i < 5000; i++) {
      const pid = spawn(() => {});
      if (i % 100 === 0) held.push(pid);
      exit(pid, 'kill');
    }
    await idle();
    for (const pid of held) {
      expect(Pid.from({ node: pid.node, serial: pid.serial })).toBe(pid);
      expect(Pid.parse(String(pid))).toBe(pid);
    }
  });

  it('returns one object per remote node and serial', () => {
    const a = Pid.from({ node: 'other@host', serial: 7 });
    const b = Pid.from({ node: 'other@host', serial: 7 });
    expect(a).toBe(b);
    expect(Pid.from({ node: 'other@host', serial: 8 })).not.toBe(a);
  });

  it('refuses JSON that is not a pid', () => {
    expect(() => Pid.from({ node: 'n', serial: -1 })).toThrow('not a pid: {"node":"n","serial":-1}');
    expect(() => Pid.from({ node: 'n', serial: 1.5 })).toThrow(TypeError);
    expect(() => Pid.from({ node: 3, serial: 1 } as unknown as { node: string; serial: number })).toThrow(TypeError);
  });

  it('compares by node name, then serial', () => {
    const a = spawn(() => {});
    const b = spawn(() => {});
    expect(Pid.compare(a, b)).toBeLessThan(0);
    expect(Pid.compare(b, a)).toBeGreaterThan(0);
    expect(Pid.compare(a, a)).toBe(0);
    const early = Pid.from({ node: 'aaa@host', serial: 999_999 });
    const late = Pid.from({ node: 'zzz@host', serial: 1 });
    expect(Pid.compare(early, late)).toBeLessThan(0);
    expect([late, b, early, a].sort(Pid.compare).map(String)).toEqual([early, a, b, late].map(String));
  });

  it('equals another pid with the same node and serial, and nothing else', () => {
    const a = spawn(() => {});
    const b = spawn(() => {});
    expect(a.equals(a)).toBe(true);
    expect(a.equals(Pid.parse(String(a)))).toBe(true);
    expect(a.equals(b)).toBe(false);
    expect(a.equals({ node: a.node, serial: a.serial })).toBe(false);
    expect(a.equals(undefined)).toBe(false);
    expect(Pid.from({ node: 'x@h', serial: a.serial }).equals(a)).toBe(false);
  });

  it('works as a Map key, also when the key is rebuilt from JSON or text', async () => {
    const a = spawn(() => {});
    const b = spawn(() => {});
    const m = new Map<Pid, string>([
      [a, 'a'],
      [b, 'b'],
    ]);
    expect(m.get(Pid.from(JSON.parse(JSON.stringify(a)) as { node: string; serial: number }))).toBe('a');
    expect(m.get(Pid.parse(String(b)))).toBe('b');
    exit(b, 'kill');
    await idle();
    expect(m.get(Pid.parse(String(b)))).toBe('b');
  });
});

describe('Ref', () => {
  it('is unique and prints as #Ref<0.N>', () => {
    const a = makeRef();
    const b = makeRef();
    expect(a).not.toBe(b);
    expect(a).toBeInstanceOf(Ref);
    expect(b.id).toBeGreaterThan(a.id);
    expect(String(a)).toBe(`#Ref<0.${a.id}>`);
    expect(JSON.parse(JSON.stringify(a))).toEqual({ node: nodeName(), ref: a.id });
  });
});
