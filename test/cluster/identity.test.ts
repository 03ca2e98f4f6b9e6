import { expect, it } from 'vitest';
import { Pid, Ref, makeRef, nodeCreation, nodeName, setNodeIdentity } from '../../src/runtime/pid.js';
import { spawn } from '../../src/runtime/process.js';

// Runs in its own process (vitest pool 'forks'): the identity is set before any spawn.
it('a node identity set before the first spawn is carried by pids and refs, and JSON round-trips it', () => {
  expect(nodeCreation()).toBe(0);
  expect(() => setNodeIdentity('n1', -1)).toThrow(/creation must be a 32-bit unsigned integer/);
  setNodeIdentity('n1', 0xdeadbeef);
  expect(nodeName()).toBe('n1');
  expect(nodeCreation()).toBe(0xdeadbeef);
  const pid = spawn(() => {});
  expect(pid.creation).toBe(0xdeadbeef);
  expect(JSON.parse(JSON.stringify(pid))).toEqual({ node: 'n1', serial: pid.serial, creation: 0xdeadbeef });
  expect(Pid.from(JSON.parse(JSON.stringify(pid)) as { node: string; serial: number })).toBe(pid);
  expect(String(pid)).toBe(`#PID<0.${pid.serial}>`);
  const ref = makeRef();
  expect(ref.creation).toBe(0xdeadbeef);
  expect(Ref.from(JSON.parse(JSON.stringify(Ref.from(ref.toJSON()))) as { node: string; ref: number })).toBe(Ref.from(ref.toJSON()));
  expect(() => setNodeIdentity('n1', 5)).toThrow(/before the first process is spawned/);
});

it('a pid of another incarnation of this node is not the live process', () => {
  const pid = spawn(() => {});
  const old = Pid.from({ node: nodeName(), serial: pid.serial, creation: 1 });
  expect(old).not.toBe(pid);
  expect(old.equals(pid)).toBe(false);
  expect(old._proc).toBeUndefined();
  // Without a creation (the printed form carries none) it means this incarnation.
  expect(Pid.from({ node: nodeName(), serial: pid.serial })).toBe(pid);
  expect(Pid.compare(old, pid)).toBeLessThan(0);
});
