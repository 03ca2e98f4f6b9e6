import { afterEach, describe, expect, it } from 'vitest';
import { Supervisor, exit, idle, processes, send, spawn, spawnLink, type Pid } from '../../src/runtime/index.js';
import { REPORTS_PER_MESSAGE, ReportLog, TEXT_LIMIT } from '../../src/observer/reports.js';
import { captureReports } from '../support/reports.js';

const logged = captureReports();
const logs: ReportLog[] = [];

afterEach(async () => {
  for (const log of logs.splice(0)) log.stop();
  for (const pid of processes()) exit(pid, 'kill');
  await idle();
});

function started(capacity: number): ReportLog {
  const log = new ReportLog(capacity);
  log.start();
  logs.push(log);
  return log;
}

/** Starts a process that throws `message` on its first message, and sends it one. */
async function crash(message: string, name?: string): Promise<Pid> {
  const pid = spawn(
    () => {
      throw new Error(message);
    },
    name === undefined ? {} : { name },
  );
  send(pid, 'go');
  await idle();
  return pid;
}

describe('ReportLog', () => {
  it('keeps each report while the logger set with setLogger still gets every one', async () => {
    const log = started(10);
    const pid = await crash('boom', 'doomed');
    expect(logged.map((r) => r.kind)).toEqual(['crash']);
    const { reports, dropped, last } = log.since(0);
    expect(dropped).toBe(0);
    expect(last).toBe(1);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ seq: 1, kind: 'crash', pid: String(pid), name: 'doomed', summary: expect.stringContaining('boom') });
    expect(reports[0]?.text).toMatch(/^process #PID<0\.\d+> \(doomed\) crashed: .*boom[\s\S]*at /);
    expect(reports[0]?.at).toBeLessThanOrEqual(Date.now());
    expect(log.since(1)).toEqual({ reports: [], dropped: 0, last: 1 });
  });

  it('keeps supervisor events too, naming the supervisor and the child', async () => {
    const log = started(10);
    const sup = await Supervisor.start([{ id: 'worker', start: () => spawnLink(() => undefined) }], { strategy: 'one_for_one' });
    const [child] = await Supervisor.whichChildren(sup);
    exit(child?.pid as Pid, 'kill');
    await idle();
    const rows = log.since(0).reports;
    expect(rows.map((r) => [r.kind, r.pid, r.name])).toContainEqual(['supervisor', String(sup), 'worker']);
    expect(rows.find((r) => r.summary.startsWith('child_restarted'))).toBeDefined();
  });

  it('keeps only the last capacity reports and counts the ones a reader missed', async () => {
    const log = started(3);
    for (let i = 1; i <= 5; i++) await crash(`crash ${i}`);
    const { reports, dropped, last } = log.since(0);
    expect(last).toBe(5);
    expect(dropped).toBe(2);
    expect(reports.map((r) => r.seq)).toEqual([3, 4, 5]);
    expect(reports.map((r) => r.summary)).toEqual([expect.stringContaining('crash 3'), expect.stringContaining('crash 4'), expect.stringContaining('crash 5')]);
    expect(log.since(4).reports.map((r) => r.seq)).toEqual([5]);
    expect(log.since(4).dropped).toBe(0);
  });

  it('sends at most REPORTS_PER_MESSAGE at once, the newest, and cuts long texts', async () => {
    const log = started(REPORTS_PER_MESSAGE + 10);
    for (let i = 0; i < REPORTS_PER_MESSAGE + 5; i++) await crash('x'.repeat(TEXT_LIMIT));
    const { reports, dropped } = log.since(0);
    expect(reports).toHaveLength(REPORTS_PER_MESSAGE);
    expect(dropped).toBe(5);
    expect(reports[0]?.seq).toBe(6);
    expect(reports[0]?.text.length).toBe(TEXT_LIMIT + 3);
  });

  it('keeps nothing before start and after stop, and goes on numbering after a restart', async () => {
    const log = new ReportLog(10);
    logs.push(log);
    await crash('before');
    log.start();
    await crash('during');
    log.stop();
    await crash('after');
    expect(log.since(0).reports.map((r) => r.summary)).toEqual([expect.stringContaining('during')]);
    log.start();
    await crash('again');
    expect(log.since(1).reports.map((r) => [r.seq, r.summary])).toEqual([[2, expect.stringContaining('again')]]);
    expect(logged).toHaveLength(4);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new ReportLog(0)).toThrow(/capacity must be a positive integer, got 0/);
    expect(() => new ReportLog(1.5)).toThrow(/got 1\.5/);
  });
});
