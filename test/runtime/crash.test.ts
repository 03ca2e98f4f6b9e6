import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pid } from '../../src/runtime/pid.js';
import { isAlive, send, spawn } from '../../src/runtime/process.js';
import { idle } from '../../src/runtime/scheduler.js';
import { formatReport, setLogger, type CrashReport } from '../../src/runtime/logger.js';
import type { ErrorReason } from '../../src/runtime/reasons.js';
import { captureReports } from '../support/reports.js';
import { exitReasonOf } from '../support/exits.js';

const reports = captureReports();

// Anything that escapes the runtime would reach these; the runtime must catch it all.
const escaped: unknown[] = [];
const onEscape = (err: unknown): void => {
  escaped.push(err);
};
beforeAll(() => {
  process.on('unhandledRejection', onEscape);
  process.on('uncaughtException', onEscape);
});
afterAll(() => {
  process.off('unhandledRejection', onEscape);
  process.off('uncaughtException', onEscape);
});

/** A process that counts what it handles: the bystander every crash must leave alone. */
function bystander(): { pid: Pid; handled: () => number } {
  let n = 0;
  const pid = spawn(() => {
    n++;
  });
  return { pid, handled: () => n };
}

/** The bystander still handles messages, and nothing reached Node's last-resort handlers. */
async function expectUnharmed(other: { pid: Pid; handled: () => number }): Promise<void> {
  const before = other.handled();
  send(other.pid, 'still working?');
  await idle();
  expect(isAlive(other.pid)).toBe(true);
  expect(other.handled()).toBe(before + 1);
  expect(escaped).toEqual([]);
}

/** Lets a stray rejection or exception surface before the test checks for one. */
async function settle(): Promise<void> {
  await idle();
  await idle();
}

describe('a crash', () => {
  it('in receive ends only that process with { error }, and reports it once', async () => {
    const other = bystander();
    const err = new Error('receive broke');
    const pid = spawn((msg: { n: number }) => {
      if (msg.n === 2) throw err;
    });
    const reason = exitReasonOf(pid);
    send(pid, { n: 1 });
    send(pid, { n: 2 });
    send(pid, { n: 3 });
    send(other.pid, 'still here');
    const r = (await reason) as ErrorReason;
    expect(r).toEqual({ error: err });
    expect(r.error).toBe(err);
    await settle();
    expect(reports).toHaveLength(1);
    const report = reports[0] as CrashReport;
    expect(report.kind).toBe('crash');
    expect(report.pid).toBe(pid);
    expect(report.reason).toBe(r);
    expect(report.lastMessage).toEqual({ n: 2 });
    expect(report.stack).toContain('receive broke');
    expect(report.stack).toContain('crash.test.ts');
    expect(other.handled()).toBe(1);
    await expectUnharmed(other);
  });

  it('in init ends the process before any message, with lastMessage undefined', async () => {
    const other = bystander();
    let handled = 0;
    const err = new Error('init broke');
    const pid = spawn(
      () => {
        handled++;
      },
      {
        init: () => {
          throw err;
        },
      },
    );
    const reason = exitReasonOf(pid);
    send(pid, 'never handled');
    expect(await reason).toEqual({ error: err });
    await settle();
    expect(handled).toBe(0);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ kind: 'crash', pid, lastMessage: undefined });
    expect((reports[0] as CrashReport).stack).toContain('init broke');
    await expectUnharmed(other);
  });

  it('from a rejected promise in receive ends the process with { error } and reports the message', async () => {
    const other = bystander();
    const err = new Error('async receive broke');
    const pid = spawn(async (msg: string) => {
      await sleep(2);
      if (msg === 'bad') throw err;
    });
    const reason = exitReasonOf(pid);
    send(pid, 'good');
    send(pid, 'bad');
    send(pid, 'never handled');
    send(other.pid, 'x');
    expect(await reason).toEqual({ error: err });
    await settle();
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ kind: 'crash', pid, reason: { error: err }, lastMessage: 'bad' });
    expect((reports[0] as CrashReport).stack).toContain('async receive broke');
    expect(other.handled()).toBe(1);
    await expectUnharmed(other);
  });

  it('from a rejected async init ends the process with { error }', async () => {
    const err = new Error('async init broke');
    const pid = spawn(() => {}, {
      init: async () => {
        await sleep(1);
        throw err;
      },
    });
    expect(await exitReasonOf(pid)).toEqual({ error: err });
    await settle();
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ kind: 'crash', pid, lastMessage: undefined });
    expect(escaped).toEqual([]);
  });

  it('of a thrown non-Error keeps the value as the reason, with no stack', async () => {
    const pid = spawn(() => {
      throw 'just a string';
    });
    const reason = exitReasonOf(pid);
    send(pid, 'go');
    expect(await reason).toEqual({ error: 'just a string' });
    expect(reports).toEqual([{ kind: 'crash', pid, name: undefined, reason: { error: 'just a string' }, lastMessage: 'go', stack: undefined }]);
  });

  it('names a registered process in its report, and the report formats as one readable entry', async () => {
    const pid = spawn(
      () => {
        throw new TypeError('bad input');
      },
      { name: 'crashy' },
    );
    send(pid, { id: 7 });
    await idle();
    const report = reports[0] as CrashReport;
    expect(report.name).toBe('crashy');
    const text = formatReport(report);
    expect(text).toContain(`process ${String(pid)} (crashy) crashed: {error, TypeError: bad input}`);
    expect(text).toContain('last message: {"id":7}');
  });

  it('of many processes at once leaves the others working and Node running', async () => {
    const other = bystander();
    const pids: Pid[] = [];
    for (let i = 0; i < 200; i++) {
      pids.push(
        spawn(async (msg: number) => {
          if (msg % 2 === 0) throw new Error(`sync ${msg}`);
          await Promise.resolve();
          throw new Error(`async ${msg}`);
        }),
      );
    }
    pids.forEach((pid, i) => send(pid, i));
    for (let i = 0; i < 100; i++) send(other.pid, i);
    await settle();
    expect(pids.filter(isAlive)).toEqual([]);
    expect(reports).toHaveLength(200);
    expect(other.handled()).toBe(100);
    await expectUnharmed(other);
  });
});

describe('a throwing logger', () => {
  it('is ignored: the crash still ends the process and nothing escapes', async () => {
    let calls = 0;
    setLogger(() => {
      calls++;
      throw new Error('logger broke');
    });
    const other = bystander();
    const pid = spawn(() => {
      throw new Error('crash with a broken logger');
    });
    const reason = exitReasonOf(pid);
    send(pid, 'go');
    send(other.pid, 'x');
    expect(await reason).toMatchObject({ error: { message: 'crash with a broken logger' } });
    await settle();
    expect(calls).toBe(1);
    expect(isAlive(pid)).toBe(false);
    expect(other.handled()).toBe(1);
    await expectUnharmed(other);
  });
});
