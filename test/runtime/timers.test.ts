import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { Ref } from '../../src/runtime/pid.js';
import {
  cancelTimer,
  exit,
  pendingTimerCount,
  procOf,
  readTimer,
  register,
  self,
  send,
  sendAfter,
  spawn,
  unregister,
} from '../../src/runtime/process.js';
import { idle } from '../../src/runtime/scheduler.js';

/** A process that records each message with the time it was handled. */
function recorder(): { pid: ReturnType<typeof spawn>; got: { msg: unknown; at: number }[] } {
  const got: { msg: unknown; at: number }[] = [];
  const pid = spawn((msg: unknown) => {
    got.push({ msg, at: performance.now() });
  });
  return { pid, got };
}

describe('sendAfter', () => {
  it('delivers the message once, after the delay', async () => {
    const r = recorder();
    const before = pendingTimerCount();
    const start = performance.now();
    const ref = sendAfter(r.pid, 'tick', 40);
    expect(ref).toBeInstanceOf(Ref);
    expect(pendingTimerCount()).toBe(before + 1);
    await sleep(10);
    await idle();
    expect(r.got).toEqual([]);
    await vi.waitFor(() => expect(r.got).toHaveLength(1), { timeout: 5_000, interval: 5 });
    expect(r.got[0]?.msg).toBe('tick');
    expect((r.got[0]?.at ?? 0) - start).toBeGreaterThanOrEqual(35);
    expect(pendingTimerCount()).toBe(before);
    expect(procOf(r.pid)?.timers?.size ?? 0).toBe(0);
    await sleep(60);
    expect(r.got).toHaveLength(1);
  });

  it('fires timers in deadline order', async () => {
    const r = recorder();
    sendAfter(r.pid, 'third', 45);
    sendAfter(r.pid, 'first', 5);
    sendAfter(r.pid, 'second', 25);
    await vi.waitFor(() => expect(r.got).toHaveLength(3), { timeout: 5_000, interval: 5 });
    expect(r.got.map((g) => g.msg)).toEqual(['first', 'second', 'third']);
  });

  it('resolves a name when the timer fires, not when it is set', async () => {
    const first = recorder();
    const second = recorder();
    sendAfter('late-bound', 'for-whoever', 30);
    sendAfter('not-yet-registered', 'for-newcomer', 30);
    register('late-bound', first.pid);
    unregister('late-bound');
    register('late-bound', second.pid);
    const newcomer = recorder();
    register('not-yet-registered', newcomer.pid);
    await vi.waitFor(() => expect(newcomer.got).toHaveLength(1), { timeout: 5_000, interval: 5 });
    await vi.waitFor(() => expect(second.got).toHaveLength(1), { timeout: 5_000, interval: 5 });
    expect(first.got).toEqual([]);
    expect(second.got[0]?.msg).toBe('for-whoever');
    expect(newcomer.got[0]?.msg).toBe('for-newcomer');
  });

  it('refuses a destination that is neither a pid nor a name, with a TypeError', () => {
    expect(() => sendAfter(undefined as unknown as string, 'x', 5)).toThrow(new TypeError('sendAfter: the destination must be a Pid or a registered name, got undefined'));
    expect(() => sendAfter('' as string, 'x', 5)).toThrow(TypeError);
  });

  it('to a name nobody holds when it fires drops the message and leaves nothing behind', async () => {
    const before = pendingTimerCount();
    sendAfter('nobody-here', 'lost', 5);
    expect(pendingTimerCount()).toBe(before + 1);
    await vi.waitFor(() => expect(pendingTimerCount()).toBe(before), { timeout: 5_000, interval: 5 });
  });

  it('is cancelled when the receiving process dies first', async () => {
    const r = recorder();
    const before = pendingTimerCount();
    sendAfter(r.pid, 'a', 50);
    const b = sendAfter(r.pid, 'b', 10_000);
    expect(pendingTimerCount()).toBe(before + 2);
    exit(r.pid, 'shutdown');
    expect(pendingTimerCount()).toBe(before);
    expect(readTimer(b)).toBe(false);
    expect(cancelTimer(b)).toBe(false);
  });

  it("set by a process on itself is cancelled when it exits", async () => {
    const before = pendingTimerCount();
    const pid = spawn((msg: string) => {
      if (msg === 'arm') {
        sendAfter(self(), 'tick', 10_000);
        sendAfter(self(), 'tock', 20_000);
      } else {
        exit('done');
      }
    });
    send(pid, 'arm');
    await idle();
    expect(pendingTimerCount()).toBe(before + 2);
    send(pid, 'stop');
    await idle();
    expect(pendingTimerCount()).toBe(before);
  });

  it('to a dead local pid returns a ref and sets no timer', async () => {
    const dead = spawn(() => {});
    exit(dead, 'kill');
    const before = pendingTimerCount();
    const ref = sendAfter(dead, 'never', 10);
    expect(ref).toBeInstanceOf(Ref);
    expect(pendingTimerCount()).toBe(before);
    expect(cancelTimer(ref)).toBe(false);
    expect(readTimer(ref)).toBe(false);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('refuses %s milliseconds, naming the value', (ms) => {
    const r = recorder();
    expect(() => sendAfter(r.pid, 'x', ms)).toThrow(`sendAfter: ms must be a non-negative number, got ${String(ms)}`);
  });
});

describe('cancelTimer and readTimer', () => {
  it('return the milliseconds left, near the remaining time', async () => {
    const r = recorder();
    const ref = sendAfter(r.pid, 'late', 5_000);
    const read0 = readTimer(ref);
    expect(read0).toBeGreaterThan(4_900);
    expect(read0).toBeLessThanOrEqual(5_000);
    await sleep(100);
    const read1 = readTimer(ref);
    expect(read1).toBeGreaterThan(2_000);
    expect(read1).toBeLessThanOrEqual(4_920);
    await sleep(20);
    const left = cancelTimer(ref);
    expect(typeof left).toBe('number');
    expect(left).toBeGreaterThan(2_000);
    expect(left).toBeLessThanOrEqual(read1 as number);
  });

  it('cancelling stops delivery and leaves nothing behind; a second cancel returns false', async () => {
    const r = recorder();
    const before = pendingTimerCount();
    const ref = sendAfter(r.pid, 'cancelled', 20);
    expect(cancelTimer(ref)).not.toBe(false);
    expect(pendingTimerCount()).toBe(before);
    expect(procOf(r.pid)?.timers?.size ?? 0).toBe(0);
    expect(cancelTimer(ref)).toBe(false);
    expect(readTimer(ref)).toBe(false);
    await sleep(60);
    await idle();
    expect(r.got).toEqual([]);
  });

  it('return false once the timer fired', async () => {
    const r = recorder();
    const ref = sendAfter(r.pid, 'fired', 1);
    await vi.waitFor(() => expect(r.got).toHaveLength(1), { timeout: 5_000, interval: 5 });
    expect(readTimer(ref)).toBe(false);
    expect(cancelTimer(ref)).toBe(false);
  });

  it('return false for a ref that is not a timer', () => {
    const notATimer = new Ref('nonode@nohost', -1);
    expect(readTimer(notATimer)).toBe(false);
    expect(cancelTimer(notATimer)).toBe(false);
  });
});
