import { describe, expect, it } from 'vitest';
import type { Pid } from '../../src/runtime/pid.js';
import {
  QUEUED_MESSAGE_BYTES,
  exit,
  flag,
  hibernate,
  isAlive,
  link,
  procOf,
  processInfo,
  self,
  send,
  setHeld,
  setOnHibernate,
  spawn,
  watch,
  type MaxHeapSize,
  type ProcessFlags,
} from '../../src/runtime/process.js';
import { idle } from '../../src/runtime/scheduler.js';
import { type HeapReport } from '../../src/runtime/logger.js';
import type { ExitReason } from '../../src/runtime/reasons.js';
import { captureReports } from '../support/reports.js';

const reports = captureReports();

/** The reason `pid` ends with, or undefined while it lives (a runtime-owned monitor). */
function trackExit(pid: Pid): { reason: ExitReason | undefined } {
  const seen: { reason: ExitReason | undefined } = { reason: undefined };
  watch(pid, (_pid, reason) => {
    seen.reason = reason;
  });
  return seen;
}

function sendMany(pid: Pid, n: number): void {
  for (let i = 0; i < n; i++) send(pid, i);
}

describe('heap size measure', () => {
  it(`counts ${QUEUED_MESSAGE_BYTES} bytes per queued message plus the bytes held outside the mailbox`, async () => {
    expect(QUEUED_MESSAGE_BYTES).toBe(64);
    const pid = spawn(() => {});
    sendMany(pid, 7);
    expect(processInfo(pid)?.heapSize).toBe(7 * QUEUED_MESSAGE_BYTES);
    setHeld(procOf(pid)!, 1234);
    expect(processInfo(pid)?.heapSize).toBe(7 * QUEUED_MESSAGE_BYTES + 1234);
    await idle();
    expect(processInfo(pid)?.heapSize).toBe(1234);
    setHeld(procOf(pid)!, 0);
    expect(processInfo(pid)?.heapSize).toBe(0);
  });
});

describe('maxHeapSize', () => {
  it.each<[string, number | MaxHeapSize]>([
    ['a map', { size: 640 }],
    ['a plain number of bytes', 640],
  ])('given as %s, kills the process with killed once more than size/64 messages are queued, with one report', async (_what, limit) => {
    const pid = spawn(() => {}, { maxHeapSize: limit, name: `heap-${typeof limit}` });
    const exited = trackExit(pid);
    sendMany(pid, 10);
    expect(isAlive(pid)).toBe(true);
    expect(reports).toEqual([]);
    send(pid, 'one too many');
    expect(isAlive(pid)).toBe(false);
    expect(exited.reason).toBe('killed');
    sendMany(pid, 5);
    await idle();
    expect(reports).toEqual([
      { kind: 'max_heap_size', pid, name: `heap-${typeof limit}`, heapSize: 11 * 64, limit: 640, killed: true },
    ]);
  });

  it("a linked trapping process hears 'killed'", async () => {
    const inbox: unknown[] = [];
    const pid = spawn(() => {}, { maxHeapSize: 64 });
    const linked = spawn((msg: unknown) => inbox.push(msg), { trapExit: true, init: () => link(pid) });
    await idle();
    sendMany(pid, 2);
    await idle();
    expect(inbox).toEqual([{ type: 'EXIT', from: pid, reason: 'killed' }]);
    expect(isAlive(linked)).toBe(true);
  });

  it('with kill: false only logs, once per overflow', async () => {
    const pid = spawn(() => {}, { maxHeapSize: { size: 640, kill: false } });
    sendMany(pid, 30);
    expect(isAlive(pid)).toBe(true);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ kind: 'max_heap_size', pid, heapSize: 11 * 64, limit: 640, killed: false });
    await idle();
    expect(isAlive(pid)).toBe(true);
    expect(processInfo(pid)?.counters.messagesIn).toBe(30);
    // Back under the limit; a new overflow is reported again.
    sendMany(pid, 11);
    expect(reports).toHaveLength(2);
    await idle();
    expect(isAlive(pid)).toBe(true);
  });

  it('with errorLogger: false only kills', async () => {
    const pid = spawn(() => {}, { maxHeapSize: { size: 640, errorLogger: false } });
    const exited = trackExit(pid);
    sendMany(pid, 11);
    expect(exited.reason).toBe('killed');
    await idle();
    expect(reports).toEqual([]);
  });

  it('counts bytes held outside the mailbox', async () => {
    const pid = spawn(() => {}, { maxHeapSize: 1000 });
    const exited = trackExit(pid);
    sendMany(pid, 5);
    setHeld(procOf(pid)!, 680);
    expect(isAlive(pid)).toBe(true);
    setHeld(procOf(pid)!, 681);
    expect(exited.reason).toBe('killed');
    expect((reports[0] as HeapReport).heapSize).toBe(5 * 64 + 681);
  });

  it('is shown by processInfo, defaulting to off with kill and log on', () => {
    expect(processInfo(spawn(() => {}))?.maxHeapSize).toEqual({ size: 0, kill: true, errorLogger: true });
    expect(processInfo(spawn(() => {}, { maxHeapSize: { size: 4096, kill: false, errorLogger: false } }))?.maxHeapSize).toEqual({
      size: 4096,
      kill: false,
      errorLogger: false,
    });
  });

  it('can be set at run time with flag, which returns the previous setting', async () => {
    const previous: unknown[] = [];
    const pid = spawn((msg: number | MaxHeapSize) => {
      if (typeof msg === 'object') previous.push(flag('maxHeapSize', msg));
    });
    const exited = trackExit(pid);
    send(pid, { size: 256, errorLogger: false });
    send(pid, { size: 192 });
    await idle();
    expect(previous).toEqual([
      { size: 0, kill: true, errorLogger: true },
      { size: 256, kill: true, errorLogger: false },
    ]);
    expect(processInfo(pid)?.maxHeapSize).toEqual({ size: 192, kill: true, errorLogger: true });
    sendMany(pid, 3);
    expect(isAlive(pid)).toBe(true);
    send(pid, 4);
    expect(exited.reason).toBe('killed');
    expect(reports).toHaveLength(1);
  });

  it('set by flag below what is already queued acts at once', async () => {
    const pid = spawn((msg: unknown) => {
      if (msg === 'limit') flag('maxHeapSize', { size: 128 });
    });
    const exited = trackExit(pid);
    send(pid, 'limit');
    sendMany(pid, 5);
    await idle();
    expect(exited.reason).toBe('killed');
    expect(reports).toMatchObject([{ kind: 'max_heap_size', pid, heapSize: 5 * 64, limit: 128, killed: true }]);
  });

  it('does not count the start of init against the limit', async () => {
    const pid = spawn(() => {}, { maxHeapSize: 640, init: () => {} });
    sendMany(pid, 10);
    await idle();
    expect(isAlive(pid)).toBe(true);
    expect(reports).toEqual([]);
  });
});

describe('hibernate', () => {
  it("releases the mailbox, shows status 'hibernated', and wakes on the next message", async () => {
    const observed: unknown[] = [];
    let hooks = 0;
    const pid = spawn((msg: string) => {
      if (msg === 'sleep') {
        hibernate();
        observed.push(procOf(self())?.mq ?? 'released');
      }
    });
    setOnHibernate(procOf(pid)!, () => hooks++);
    send(pid, 'sleep');
    await idle();
    expect(observed).toEqual(['released']);
    expect(hooks).toBe(1);
    expect(processInfo(pid)?.status).toBe('hibernated');
    expect(processInfo(pid)?.heapSize).toBe(0);
    send(pid, 'wake');
    expect(processInfo(pid)?.status).toBe('runnable');
    await idle();
    expect(processInfo(pid)?.status).toBe('waiting');
    expect(hooks).toBe(1);
  });

  it('is not left hibernated when it goes on to handle messages that were already waiting', async () => {
    const pid = spawn((msg: string) => {
      if (msg === 'sleep') hibernate();
    });
    send(pid, 'sleep');
    send(pid, 'work');
    await idle();
    expect(processInfo(pid)?.counters.messagesIn).toBe(2);
    expect(processInfo(pid)?.status).toBe('waiting');
  });

  it('needs a calling process', () => {
    expect(() => hibernate()).toThrow('hibernate() must be called inside a process');
  });
});

describe('fullsweepAfter', () => {
  it('is accepted as a spawn option and by flag, and shown by processInfo', async () => {
    const pid = spawn(() => {}, { fullsweepAfter: 10 });
    expect(processInfo(pid)?.fullsweepAfter).toBe(10);
    expect(processInfo(spawn(() => {}))?.fullsweepAfter).toBeUndefined();
    const previous: number[] = [];
    const other = spawn((n: number) => previous.push(flag('fullsweepAfter', n)));
    send(other, 0);
    send(other, 20);
    await idle();
    expect(previous).toEqual([65535, 0]);
    expect(processInfo(other)?.fullsweepAfter).toBe(20);
  });
});

describe('invalid policy values', () => {
  it.each<[string, unknown, RegExp]>([
    ['a negative size', -1, /'maxHeapSize' must be a non-negative integer/],
    ['a fractional size', { size: 1.5 }, /'maxHeapSize'.*1\.5/],
    ['a string', 'big', /'maxHeapSize'.*"big"/],
    ['null', null, /'maxHeapSize'.*null/],
    ['an unknown key', { size: 64, kil: true }, /unknown option 'kil' in maxHeapSize \(did you mean 'kill'\?\)/],
    ['a non-boolean kill', { size: 64, kill: 'yes' }, /'maxHeapSize\.kill' must be a boolean/],
    ['a non-boolean errorLogger', { size: 64, errorLogger: 1 }, /'maxHeapSize\.errorLogger' must be a boolean/],
  ])('maxHeapSize as %s is refused by spawn and by flag, naming the option', async (_what, value, message) => {
    expect(() => spawn(() => {}, { maxHeapSize: value as MaxHeapSize })).toThrow(message);
    const errors = await flagErrors('maxHeapSize', value);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
  });

  it.each<[keyof ProcessFlags | 'priority', unknown, RegExp]>([
    ['fullsweepAfter', -1, /'fullsweepAfter'/],
    ['fullsweepAfter', 2.5, /'fullsweepAfter'/],
    ['trapExit', 'yes', /'trapExit'/],
    ['priority', 'high', /unknown option 'priority' in process flags \(known: trapExit, maxHeapSize, fullsweepAfter\)/],
  ])('flag %s with %s is refused, naming the flag', async (name, value, message) => {
    const errors = await flagErrors(name, value);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
  });

  it('a refused flag value leaves the setting as it was', async () => {
    const pid = spawn(
      () => {
        for (const [name, value] of [
          ['maxHeapSize', -5],
          ['fullsweepAfter', -5],
        ] as const) {
          expect(() => flag(name, value)).toThrow(name);
        }
      },
      { maxHeapSize: 4096, fullsweepAfter: 3 },
    );
    send(pid, 'go');
    await idle();
    expect(processInfo(pid)?.counters.messagesIn).toBe(1);
    expect(processInfo(pid)?.maxHeapSize.size).toBe(4096);
    expect(processInfo(pid)?.fullsweepAfter).toBe(3);
  });

  it('flag needs a calling process', () => {
    expect(() => flag('trapExit', true)).toThrow('flag() must be called inside a process');
  });
});

/** Runs `flag(name, value)` inside a fresh process and returns the messages of what it threw. */
async function flagErrors(name: string, value: unknown): Promise<string[]> {
  const errors: string[] = [];
  const pid = spawn(() => {
    try {
      (flag as (n: string, v: unknown) => unknown)(name, value);
    } catch (err) {
      errors.push(err instanceof TypeError ? err.message : `not a TypeError: ${String(err)}`);
    }
  });
  send(pid, 'go');
  await idle();
  exit(pid, 'kill');
  return errors;
}
