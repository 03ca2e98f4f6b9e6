import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Registry, Supervisor, exit, idle, isAlive, isExit, processes, spawn, spawnLink, send, type Pid } from '../../src/runtime/index.js';
import type { ProcessDetails } from '../../src/observer/protocol.js';
import { ReportLog } from '../../src/observer/reports.js';
import { Sampler } from '../../src/observer/sampler.js';
import { ObserverSocket, type ObserverArgs } from '../../src/observer/socket.js';
import { upgrade } from '../../src/adapters/ws/upgrade.js';
import { TestClient } from '../conformance/client.js';
import { captureReports } from '../support/reports.js';
import { ObserverClient, QuietSocket, killStartedSince, observed, type Observed } from './observer-client.js';

const logged = captureReports();
let env: Observed;
let page: ObserverClient | undefined;
let baseline: Set<Pid>;

beforeAll(async () => {
  // The first upgrade starts the runtime's own processes; they outlive each test.
  const warm = await observed();
  const p = await ObserverClient.open(warm.ws);
  await p.next('hello');
  await warm.close();
});

beforeEach(async () => {
  baseline = new Set(processes());
  env = await observed({ intervalMs: 50 });
});

afterEach(async () => {
  page?.close();
  await env.close();
  await killStartedSince(baseline);
});

const open = async (): Promise<ObserverClient> => (page = await ObserverClient.open(env.ws));

class LobbySocket extends QuietSocket {}

describe('ObserverSocket', () => {
  it("shows each connection by its handler's name, not as 'WebSock'", async () => {
    await env.close();
    env = await observed({ intervalMs: 50 }, (req, socket, head) => void upgrade(req, socket, head, new LobbySocket(), null));
    const lobby = await TestClient.open(env.ws, { path: '/lobby' });
    try {
      const p = await open();
      const snap = await p.snapshotWhere((s) => s.summary.byHandler.LobbySocket === 1);
      const row = snap.page.rows.find((r) => r.label === '/lobby');
      expect(row?.handler).toBe('LobbySocket');
      p.send({ op: 'select', pid: row?.pid as string });
      expect(((await p.next('details')).details as ProcessDetails).details).toMatchObject({ handler: 'LobbySocket', path: '/lobby' });
      p.send({ op: 'query', query: { page: 0, size: 50, sort: 'pid', dir: 'asc', handler: 'LobbySocket' } });
      expect((await p.next('page')).page.rows.map((r) => r.label)).toEqual(['/lobby']);
    } finally {
      lobby.ws.close();
      await lobby.closeSeen();
    }
  });

  it('greets a page with the history, then pushes a snapshot every interval', async () => {
    const p = await open();
    const hello = await p.next('hello');
    expect(hello.intervalMs).toBe(50);
    expect(hello.maxPageSize).toBe(100);
    expect(hello.query).toEqual({ page: 0, size: 50, sort: 'pid', dir: 'asc' });
    expect(hello.history.length).toBeGreaterThanOrEqual(1);
    const first = await p.next('snapshot');
    const later = await p.snapshotWhere((s) => s.summary.at > first.summary.at);
    expect(later.point?.t).toBe(later.summary.at);
    // The page's own connection is a process like any other.
    expect(later.summary.byKind.connection).toBe(1);
    expect(later.page.rows.filter((r) => r.kind === 'connection').map((r) => r.label)).toEqual(['/observer/ws']);
    expect(later.summary.byHandler).toEqual({ ObserverPage: 1 });
  });

  it('answers a query with its page at once, and later snapshots show that page', async () => {
    const widgets = Array.from({ length: 7 }, () => spawn(() => undefined, { kind: 'widget' }));
    const p = await open();
    await p.next('snapshot');
    p.send({ op: 'query', query: { page: 2, size: 3, sort: 'pid', dir: 'asc', kind: 'widget' } });
    const answer = await p.next('page');
    expect(answer.page.total).toBe(7);
    expect(answer.page.rows.map((r) => r.pid)).toEqual([String(widgets[6])]);
    const snap = await p.snapshotWhere((s) => s.page.query.kind === 'widget');
    expect(snap.page.rows.map((r) => r.pid)).toEqual([String(widgets[6])]);
  });

  it('answers select with processInfo, and keeps the details current in snapshots', async () => {
    const stuck = spawn(() => new Promise(() => undefined), { kind: 'stuck', maxHeapSize: 10_000 });
    send(stuck, 'first');
    const p = await open();
    p.send({ op: 'select', pid: String(stuck) });
    const d = (await p.next('details')).details as ProcessDetails;
    expect(d).toMatchObject({ pid: String(stuck), alive: true, kind: 'stuck', status: 'running', messageQueueLen: 0, trapExit: false });
    expect(d.maxHeapSize).toEqual({ size: 10_000, kill: true, errorLogger: true });
    expect(d.children).toBeUndefined();
    send(stuck, 'queued');
    send(stuck, 'queued');
    const snap = await p.snapshotWhere((s) => s.details !== null && s.details.alive && s.details.messageQueueLen === 2);
    expect(snap.details).toMatchObject({ heapSize: 128 });
    exit(stuck, 'kill');
    await p.snapshotWhere((s) => s.details !== null && !s.details.alive);
    p.send({ op: 'select', pid: null });
    await p.snapshotWhere((s) => s.details === null);
  });

  it("lists a supervisor's children with its details", async () => {
    const sup = await Supervisor.start(
      [
        { id: 'cache', start: () => spawnLink(() => undefined) },
        { id: 'jobs', start: () => spawnLink(() => undefined), restart: 'transient' },
      ],
      { strategy: 'one_for_one' },
    );
    const p = await open();
    p.send({ op: 'select', pid: String(sup) });
    const d = (await p.next('details')).details as ProcessDetails;
    expect(d.kind).toBe('supervisor');
    expect(d.linkCount).toBe(2);
    expect(d.details).toMatchObject({ strategy: 'one_for_one', children: ['cache', 'jobs'] });
    expect(d.children).toEqual({
      total: 2,
      rows: [
        { id: 'cache', pid: expect.stringMatching(/^#PID<0\.\d+>$/), type: 'worker', restart: 'permanent' },
        { id: 'jobs', pid: expect.stringMatching(/^#PID<0\.\d+>$/), type: 'worker', restart: 'transient' },
      ],
    });
  });

  it('sends exit signals with the reason the page chose', async () => {
    const victim = spawn(() => undefined);
    const trapped: unknown[] = [];
    const trapper = spawn((msg) => void trapped.push(msg), { trapExit: true });
    const calm = spawn(() => undefined);
    const p = await open();
    p.send({ op: 'kill', pid: String(victim), reason: 'kill' });
    expect(await p.next('exit_sent')).toMatchObject({ pid: String(victim), reason: 'kill', alive: false });
    p.send({ op: 'kill', pid: String(trapper), reason: 'shutdown' });
    expect(await p.next('exit_sent')).toMatchObject({ reason: 'shutdown', alive: true });
    p.send({ op: 'kill', pid: String(calm), reason: 'normal' });
    expect(await p.next('exit_sent')).toMatchObject({ reason: 'normal', alive: true });
    await idle();
    expect(trapped).toHaveLength(1);
    expect(isExit(trapped[0]) && trapped[0].reason).toBe('shutdown');
    expect(isAlive(victim)).toBe(false);
    const snap = await p.snapshotWhere((s) => !s.page.rows.some((r) => r.pid === String(victim)));
    expect(snap.page.rows.map((r) => r.pid)).toEqual(expect.arrayContaining([String(trapper), String(calm)]));
  });

  it('answers a bad request with an error saying what was wrong, and keeps serving', async () => {
    const p = await open();
    const errors: [string | Buffer, RegExp][] = [
      ['not json', /a request must be JSON, got "not json"/],
      ['{"op":"dance"}', /request\.op must be 'query', 'select' or 'kill', got "dance"/],
      ['{"op":"kill","pid":"#PID<nope>"}', /not a printed pid: "#PID<nope>"/],
      ['{"op":"query","query":{"size":0}}', /query\.size must be an integer from 1 to 100, got 0/],
      ['{"op":"query","query":{"sort":"age"}}', /query\.sort must be one of pid, kind/],
      ['{"op":"query","query":{"colour":"red"}}', /query has unknown field 'colour'/],
      [Buffer.from('{}'), /requests are JSON text frames, got a binary frame/],
    ];
    for (const [frame, expected] of errors) {
      p.client.send(frame);
      expect((await p.next('error')).message).toMatch(expected);
    }
    p.send({ op: 'query', query: { page: 0, size: 10, sort: 'kind', dir: 'desc' } });
    expect((await p.next('page')).page.query).toEqual({ page: 0, size: 10, sort: 'kind', dir: 'desc' });
  });

  it('serves several pages from one sampler', async () => {
    const a = await open();
    const b = await ObserverClient.open(env.ws);
    try {
      const sa = await a.snapshotWhere((s) => s.summary.byKind.connection === 2);
      const sb = await b.snapshotWhere((s) => s.summary.byKind.connection === 2);
      expect(sb.summary.totals.processes).toBe(sa.summary.totals.processes);
      expect(env.observer.connections()).toHaveLength(2);
    } finally {
      b.close();
    }
  });

  it('streams runtime reports: earlier ones with the greeting, new ones with the next snapshot, and the logger still gets them all', async () => {
    const crash = async (why: string): Promise<Pid> => {
      const pid = spawn(() => {
        throw new Error(why);
      });
      send(pid, 'go');
      await idle();
      return pid;
    };
    const early = await crash('before the page');
    const p = await open();
    const hello = await p.next('hello');
    expect(hello.reports.reports.map((r) => [r.kind, r.pid])).toEqual([['crash', String(early)]]);
    expect((await p.next('snapshot')).reports.reports).toEqual([]);
    const late = await crash('while watched');
    const snap = await p.snapshotWhere((m) => m.reports.reports.length > 0);
    expect(snap.reports.reports).toEqual([expect.objectContaining({ kind: 'crash', pid: String(late), summary: expect.stringContaining('while watched') })]);
    expect(snap.reports.dropped).toBe(0);
    expect(logged.map((r) => r.kind === 'crash' && r.pid)).toEqual([early, late]);
  });

  it('shows the open registries with their keys and members', async () => {
    const rooms = new Registry<string, null>({ keys: 'duplicate', name: 'observed-rooms' });
    try {
      const member = spawn(() => void rooms.register('lobby', null));
      send(member, 'join');
      await idle();
      const p = await open();
      const snap = await p.snapshotWhere((m) => m.summary.tables.shown.some((t) => t.name === 'observed-rooms'));
      expect(snap.summary.tables.shown.find((t) => t.name === 'observed-rooms')?.top).toEqual([{ key: 'lobby', count: 1, members: [String(member)] }]);
    } finally {
      rooms.close();
    }
  });

  it('reads memory, event-loop delay and GC, measuring delay and GC only while a page is open', async () => {
    await env.close();
    const reports = new ReportLog(10);
    const args: ObserverArgs = { sampler: new Sampler(), intervalMs: 50, readOnly: false, reports };
    env = await observed({ intervalMs: 50 }, (req, socket, head) => void upgrade(req, socket, head, ObserverSocket, args));
    expect(args.sampler.runtime.watching).toBe(false);
    const a = await ObserverClient.open(env.ws, '/own');
    const b = await open();
    try {
      const snap = await a.snapshotWhere((m) => m.summary.runtime.eventLoopDelay !== null);
      expect(snap.summary.runtime.memory.heapUsed).toBeGreaterThan(0);
      expect(snap.summary.runtime.gc).not.toBeNull();
      expect(snap.point?.heapUsed).toBe(snap.summary.runtime.memory.heapUsed);
      expect(args.sampler.runtime.watching).toBe(true);
    } finally {
      a.close();
      await a.client.closeSeen();
    }
    await idle();
    expect(args.sampler.runtime.watching).toBe(false);
    // The mount's own pages watch their own sampler.
    expect((await b.snapshotWhere((m) => m.summary.runtime.eventLoopDelay !== null)).summary.runtime.gc).not.toBeNull();
  });
});

describe('ObserverSocket read-only', () => {
  it('refuses exit signals over the socket with a clear error, and the process lives on', async () => {
    await env.close();
    env = await observed({ intervalMs: 50, readOnly: true });
    const victim = spawn(() => undefined);
    const p = await open();
    expect((await p.next('hello')).readOnly).toBe(true);
    p.send({ op: 'kill', pid: String(victim), reason: 'kill' });
    expect((await p.next('error')).message).toBe(`the observer is read-only: exit signals are refused (mounted with readOnly: true); ${String(victim)} was not signalled`);
    await idle();
    expect(isAlive(victim)).toBe(true);
    // It still answers everything else.
    p.send({ op: 'select', pid: String(victim) });
    expect((await p.next('details')).details).toMatchObject({ pid: String(victim), alive: true });
  });

  it('says so in the greeting when it is not read-only', async () => {
    const p = await open();
    expect((await p.next('hello')).readOnly).toBe(false);
  });
});
