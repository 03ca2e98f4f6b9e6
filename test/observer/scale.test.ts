import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamicSupervisor, exit, idle, processCount, processes, setLogger, spawnLink, type Logger, type Pid } from '../../src/runtime/index.js';
import type { ChildRow, ProcessDetails } from '../../src/observer/protocol.js';
import { ObserverClient, observed, type Observed } from './observer-client.js';

const N = 10_000;
let env: Observed;
let sup: Pid;
let page: ObserverClient;
let logger: Logger;

beforeAll(async () => {
  // Killing a child makes its supervisor report; these tests kill one on purpose.
  logger = setLogger(() => undefined);
  sup = await DynamicSupervisor.start({ name: 'connections' });
  const started: Promise<Pid | undefined>[] = [];
  for (let i = 0; i < N; i++) {
    started.push(DynamicSupervisor.startChild(sup, { start: () => spawnLink(() => undefined, { kind: 'connection' }), restart: 'temporary' }));
  }
  await Promise.all(started);
  env = await observed({ intervalMs: 100 });
  page = await ObserverClient.open(env.ws);
}, 60_000);

afterAll(async () => {
  page.close();
  await env.close();
  for (const pid of processes()) exit(pid, 'kill');
  await idle();
  setLogger(logger);
});

describe('the observer with 10,000 connections', () => {
  it('sends snapshots of bounded size: aggregated counts, one page of rows, the big family as a count', async () => {
    expect(processCount()).toBeGreaterThan(N);
    const snap = await page.next('snapshot');
    expect(snap.summary.totals.connections).toBe(N + 1);
    expect(snap.summary.byKind.connection).toBe(N + 1);
    expect(snap.page.total).toBe(snap.summary.totals.processes);
    expect(snap.page.rows).toHaveLength(50);
    for (const list of Object.values(snap.summary.top)) expect(list.length).toBeLessThanOrEqual(5);
    const supNode = snap.summary.tree.children.find((c) => c.pid === String(sup));
    expect(supNode?.name).toBe('connections');
    expect(supNode?.children).toEqual([]);
    expect(supNode?.groups).toEqual([{ kind: 'connection', count: N }]);
    // A few kilobytes whatever N is: 50 rows, counts, a handful of top entries, a small tree.
    expect(snap.frameLength).toBeLessThan(32 * 1024);
  });

  it('lists the collapsed family page by page, 50 rows at a time', async () => {
    page.send({ op: 'query', query: { page: 199, size: 50, sort: 'pid', dir: 'asc', parent: String(sup) } });
    const last = await page.next('page');
    expect(last.page.total).toBe(N);
    expect(last.page.rows).toHaveLength(50);
    expect(last.page.rows.every((r) => r.parent === String(sup) && r.kind === 'connection')).toBe(true);
    expect(last.frameLength).toBeLessThan(16 * 1024);
    page.send({ op: 'query', query: { page: 200, size: 50, sort: 'pid', dir: 'asc', parent: String(sup) } });
    expect((await page.next('page')).page.rows).toEqual([]);
  });

  it("shows a supervisor's details with its first children only", async () => {
    page.send({ op: 'select', pid: String(sup) });
    const { details, frameLength } = await page.next('details');
    const d = details as ProcessDetails;
    expect(d.children).toMatchObject({ total: N });
    expect((d.children as { rows: readonly ChildRow[] }).rows).toHaveLength(50);
    expect(d.linkCount).toBe(N);
    expect(d.links).toHaveLength(50);
    expect(frameLength).toBeLessThan(16 * 1024);
    page.send({ op: 'select', pid: null });
  });

  it('kills one of them from the page, and the next snapshot counts one less', async () => {
    page.send({ op: 'query', query: { page: 0, size: 1, sort: 'pid', dir: 'desc', parent: String(sup) } });
    const victim = (await page.next('page')).page.rows[0]?.pid as string;
    page.send({ op: 'kill', pid: victim, reason: 'kill' });
    expect(await page.next('exit_sent')).toMatchObject({ pid: victim, alive: false });
    const snap = await page.snapshotWhere((s) => s.summary.totals.connections === N);
    expect(snap.page.rows.some((r) => r.pid === victim)).toBe(false);
  });
});
