import { describe, expect, it } from 'vitest';
import {
  FailedToStartChild,
  Supervisor,
  SupervisorError,
  type ChildInfo,
  type ChildSpec,
  type Restart,
} from '../../src/runtime/supervisor.js';
import { GenServer, StartError, type GenServerImpl } from '../../src/runtime/gen-server.js';
import { exit, isAlive, monitor, processInfo, send, spawn, spawnLink } from '../../src/runtime/process.js';
import { type SupervisorReport } from '../../src/runtime/logger.js';
import { idle } from '../../src/runtime/scheduler.js';
import { isExit, type ExitReason } from '../../src/runtime/reasons.js';
import type { Pid } from '../../src/runtime/pid.js';
import { exitReasonOf } from '../support/exits.js';
import { captureReports } from '../support/reports.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A child process: `{ exit: reason }` makes it exit with that reason, `'crash'`
 * makes it throw. With a log it traps exits and records `stop <id>` on the
 * supervisor's shutdown signal; with `ignoreShutdown` it then keeps running.
 */
function worker(log?: string[], id = '', ignoreShutdown = false): Pid {
  return spawnLink(
    (msg: unknown) => {
      if (isExit(msg)) {
        log?.push(`stop ${id}`);
        if (!ignoreShutdown) exit(msg.reason);
        return;
      }
      if (msg === 'crash') throw new Error('crash');
      if (typeof msg === 'object' && msg !== null && 'exit' in msg) exit(msg.exit as ExitReason);
    },
    { trapExit: log !== undefined },
  );
}

function spec(id: string, extra: Partial<ChildSpec> = {}, log?: string[]): ChildSpec {
  return {
    id,
    start: () => {
      log?.push(`start ${id}`);
      return worker(log, id);
    },
    ...extra,
  };
}

async function pids(sup: Pid): Promise<Record<string, ChildInfo['pid']>> {
  const rows = await Supervisor.whichChildren(sup);
  return Object.fromEntries(rows.map((r) => [r.id, r.pid]));
}

const reports = captureReports();

function supervisorEvents(): [SupervisorReport['event'], string | undefined][] {
  return reports.filter((r): r is SupervisorReport => r.kind === 'supervisor').map((r) => [r.event, r.childId]);
}

describe('Supervisor strategies', () => {
  it('one_for_one restarts only the child that exited', async () => {
    const sup = await Supervisor.start([spec('a'), spec('b'), spec('c')], { strategy: 'one_for_one' });
    const before = await pids(sup);
    exit(before.b as Pid, 'kill');
    const after = await pids(sup);
    expect(after.a).toBe(before.a);
    expect(after.c).toBe(before.c);
    expect(after.b).not.toBe(before.b);
    expect(isAlive(after.b as Pid)).toBe(true);
    expect(supervisorEvents()).toEqual([
      ['child_terminated', 'b'],
      ['child_restarted', 'b'],
    ]);
  });

  it('one_for_all stops the others in reverse order and restarts all in start order', async () => {
    const log: string[] = [];
    const sup = await Supervisor.start([spec('a', {}, log), spec('b', {}, log), spec('c', {}, log)], { strategy: 'one_for_all' });
    const before = await pids(sup);
    log.length = 0;
    exit(before.b as Pid, 'kill');
    const after = await pids(sup);
    expect(log).toEqual(['stop c', 'stop a', 'start a', 'start b', 'start c']);
    for (const id of ['a', 'b', 'c']) {
      expect(after[id]).not.toBe(before[id]);
      expect(isAlive(before[id] as Pid)).toBe(false);
    }
  });

  it('rest_for_one restarts the child and those started after it', async () => {
    const log: string[] = [];
    const sup = await Supervisor.start([spec('a', {}, log), spec('b', {}, log), spec('c', {}, log), spec('d', {}, log)], {
      strategy: 'rest_for_one',
    });
    const before = await pids(sup);
    log.length = 0;
    exit(before.b as Pid, 'kill');
    const after = await pids(sup);
    expect(log).toEqual(['stop d', 'stop c', 'start b', 'start c', 'start d']);
    expect(after.a).toBe(before.a);
    for (const id of ['b', 'c', 'd']) expect(after[id]).not.toBe(before[id]);
  });

  it('one_for_all drops temporary siblings instead of restarting them', async () => {
    const sup = await Supervisor.start([spec('a'), spec('temp', { restart: 'temporary' }), spec('c')], { strategy: 'one_for_all' });
    const before = await pids(sup);
    exit(before.a as Pid, 'kill');
    expect(Object.keys(await pids(sup))).toEqual(['a', 'c']);
  });
});

describe('Supervisor restart types', () => {
  const reasons: [string, ExitReason, boolean][] = [
    ['normal', 'normal', false],
    ['shutdown', 'shutdown', false],
    ['{shutdown, x}', { shutdown: 'x' }, false],
    ['{error, ...}', { error: new Error('bad') }, true],
    ['a custom reason', 'boom', true],
  ];
  const expectations: Record<Restart, (abnormal: boolean) => 'restarted' | 'stopped' | 'removed'> = {
    permanent: () => 'restarted',
    transient: (abnormal) => (abnormal ? 'restarted' : 'stopped'),
    temporary: () => 'removed',
  };
  for (const restart of ['permanent', 'transient', 'temporary'] as const) {
    for (const [label, reason, abnormal] of reasons) {
      const outcome = expectations[restart](abnormal);
      it(`a ${restart} child that exits with ${label} is ${outcome}`, async () => {
        const sup = await Supervisor.start([spec('w', { restart })], { strategy: 'one_for_one' });
        const first = (await pids(sup)).w as Pid;
        const gone = exitReasonOf(first);
        send(first, { exit: reason });
        expect(await gone).toBe(reason);
        const rows = await Supervisor.whichChildren(sup);
        if (outcome === 'removed') expect(rows).toEqual([]);
        if (outcome === 'stopped') expect(rows).toEqual([{ id: 'w', pid: undefined, type: 'worker', restart }]);
        if (outcome === 'restarted') {
          expect(rows[0]?.pid).not.toBe(first);
          expect(isAlive(rows[0]?.pid as Pid)).toBe(true);
        }
        const terminated = supervisorEvents().filter(([e]) => e === 'child_terminated');
        expect(terminated).toHaveLength(abnormal ? 1 : 0);
      });
    }
  }
});

describe('Supervisor restart intensity', () => {
  it('more than maxRestarts in maxSeconds stops the children and exits shutdown; a linked, monitoring parent sees it', async () => {
    const seen: unknown[] = [];
    let sup: Pid | undefined;
    const parent = spawn(
      async (msg: unknown) => {
        if (msg === 'start') {
          sup = await Supervisor.startLink([spec('steady'), spec('flaky')], { strategy: 'one_for_one', maxRestarts: 2, maxSeconds: 60 });
          monitor(sup);
        } else {
          seen.push(msg);
        }
      },
      { trapExit: true },
    );
    send(parent, 'start');
    await idle();
    const s = sup as Pid;
    const steady = (await pids(s)).steady as Pid;
    const supExit = exitReasonOf(s);
    for (let i = 0; i < 2; i++) {
      exit((await pids(s)).flaky as Pid, 'kill');
    }
    exit((await pids(s)).flaky as Pid, 'kill');
    expect(await supExit).toBe('shutdown');
    expect(isAlive(steady)).toBe(false);
    await idle();
    expect(seen).toEqual([
      { type: 'EXIT', from: s, reason: 'shutdown' },
      expect.objectContaining({ type: 'DOWN', pid: s, reason: 'shutdown' }),
    ]);
    expect(supervisorEvents().filter(([e]) => e === 'reached_max_restart_intensity')).toEqual([['reached_max_restart_intensity', 'flaky']]);
  });

  it('maxRestarts 0 gives up on the first exit that would need a restart', async () => {
    const sup = await Supervisor.start([spec('w')], { strategy: 'one_for_one', maxRestarts: 0 });
    const exited = exitReasonOf(sup);
    exit((await pids(sup)).w as Pid, 'kill');
    expect(await exited).toBe('shutdown');
  });

  it('a nested supervisor that gives up is restarted by its parent, which gives up in turn', async () => {
    const inner = (): Promise<Pid> => Supervisor.startLink([spec('leaf')], { strategy: 'one_for_one', maxRestarts: 0 });
    const outer = await Supervisor.start([{ id: 'inner', type: 'supervisor', start: inner }], { strategy: 'one_for_one', maxRestarts: 1 });
    expect(await Supervisor.countChildren(outer)).toEqual({ specs: 1, active: 1, supervisors: 1, workers: 0 });
    const inner1 = (await pids(outer)).inner as Pid;
    const inner1Exit = exitReasonOf(inner1);
    exit((await pids(inner1)).leaf as Pid, 'kill');
    expect(await inner1Exit).toBe('shutdown');
    const inner2 = (await pids(outer)).inner as Pid;
    expect(inner2).not.toBe(inner1);
    expect(isAlive(inner2)).toBe(true);
    expect(isAlive((await pids(inner2)).leaf as Pid)).toBe(true);
    const outerExit = exitReasonOf(outer);
    exit((await pids(inner2)).leaf as Pid, 'kill');
    expect(await outerExit).toBe('shutdown');
    expect(isAlive(inner2)).toBe(false);
  });

  it('retries a restart whose start failed, through the mailbox, counting it against the intensity', async () => {
    let calls = 0;
    const flaky: ChildSpec = {
      id: 'flaky',
      start: () => {
        calls++;
        if (calls === 2) throw new Error('not yet');
        return worker();
      },
    };
    const sup = await Supervisor.start([flaky], { strategy: 'one_for_one', maxRestarts: 3 });
    exit((await pids(sup)).flaky as Pid, 'kill');
    await idle();
    const rows = await Supervisor.whichChildren(sup);
    expect(calls).toBe(3);
    expect(isAlive(rows[0]?.pid as Pid)).toBe(true);
    expect(supervisorEvents()).toEqual([
      ['child_terminated', 'flaky'],
      ['start_error', 'flaky'],
      ['child_restarted', 'flaky'],
    ]);
    expect(processInfo(sup)?.details.restarts).toBe(2);
  });
});

describe('Supervisor start', () => {
  it('starts children in order and shows its strategy, children and restarts through processInfo', async () => {
    const log: string[] = [];
    const sup = await Supervisor.start([spec('a', {}, log), spec('b', {}, log)], { strategy: 'rest_for_one', name: 'sup-details' });
    expect(log).toEqual(['start a', 'start b']);
    const info = processInfo(sup);
    expect(info?.kind).toBe('supervisor');
    expect(info?.trapExit).toBe(true);
    expect(info?.registeredName).toBe('sup-details');
    expect(info?.details).toEqual({ module: 'Supervisor', strategy: 'rest_for_one', children: ['a', 'b'], restarts: 0, lifecycle: 'running' });
  });

  it('a child that fails to start stops the started ones in reverse and rejects', async () => {
    const log: string[] = [];
    const failing: ChildSpec = {
      id: 'db',
      start: () => {
        throw new Error('no database');
      },
    };
    const err = (await Supervisor.start([spec('a', {}, log), spec('b', {}, log), failing, spec('c', {}, log)], { strategy: 'one_for_one' }).catch(
      (e: unknown) => e,
    )) as StartError;
    expect(err).toBeInstanceOf(StartError);
    const detail = (err.reason as { shutdown: FailedToStartChild }).shutdown;
    expect(detail).toBeInstanceOf(FailedToStartChild);
    expect(detail.id).toBe('db');
    expect(err.message).toMatch(/failed_to_start_child db: \{error, Error: no database\}/);
    expect(log).toEqual(['start a', 'start b', 'stop b', 'stop a']);
    expect(supervisorEvents()).toEqual([['start_error', 'db']]);
  });

  it('keeps an ignored child as a spec without a pid, and drops an ignored temporary one', async () => {
    const ignoring = { init: () => ({ ignore: true as const }) };
    const sup = await Supervisor.start(
      [
        { id: 'ignored', start: () => GenServer.startLink(ignoring, undefined) },
        { id: 'gone', restart: 'temporary', start: () => GenServer.startLink(ignoring, undefined) },
      ],
      { strategy: 'one_for_one' },
    );
    expect(await Supervisor.whichChildren(sup)).toEqual([{ id: 'ignored', pid: undefined, type: 'worker', restart: 'permanent' }]);
  });

  it('rejects bad specs and options with a TypeError naming the field', () => {
    const ok = spec('a');
    expect(() => Supervisor.start([ok, spec('a')], { strategy: 'one_for_one' })).toThrow(/duplicate child id 'a'/);
    expect(() => Supervisor.start([{ ...ok, restart: 'forever' as Restart }], { strategy: 'one_for_one' })).toThrow(/restart 'forever'/);
    expect(() => Supervisor.start([{ ...ok, shutdown: -1 }], { strategy: 'one_for_one' })).toThrow(/shutdown -1/);
    expect(() => Supervisor.start([{ ...ok, type: 'boss' as never }], { strategy: 'one_for_one' })).toThrow(/type 'boss'/);
    expect(() => Supervisor.start([{ id: 'x' } as ChildSpec], { strategy: 'one_for_one' })).toThrow(/needs 'start'/);
    expect(() => Supervisor.start([{ ...ok, modules: [] } as ChildSpec], { strategy: 'one_for_one' })).toThrow(/unknown option 'modules' in Supervisor.start child spec 'a'/);
    expect(() => Supervisor.start([ok], { strategy: 'simple_one_for_one' as never })).toThrow(/option 'strategy'/);
    expect(() => Supervisor.start([ok], { strategy: 'one_for_one', maxRestarts: -1 })).toThrow(/option 'maxRestarts'/);
    expect(() => Supervisor.start([ok], { strategy: 'one_for_one', maxSeconds: 0 })).toThrow(/option 'maxSeconds'/);
    expect(() => Supervisor.start([ok], { strategy: 'one_for_one', intensity: 1 } as never)).toThrow(/unknown option 'intensity' in Supervisor.start options/);
  });
});

describe('Supervisor shutdown', () => {
  it('stops children in reverse start order, then exits with the reason', async () => {
    const order: string[] = [];
    const named = (id: string): GenServerImpl<string> => ({ init: () => ({ ok: id }), terminate: (_r, s) => void order.push(s) });
    const children = ['a', 'b', 'c'].map((id): ChildSpec => ({ id, start: () => GenServer.startLink(named(id), undefined, { trapExit: true }) }));
    const sup = await Supervisor.start(children, { strategy: 'one_for_one' });
    const exited = exitReasonOf(sup);
    await Supervisor.stop(sup, 'shutdown');
    expect(order).toEqual(['c', 'b', 'a']);
    expect(await exited).toBe('shutdown');
  });

  it('start resolves once each child start returned: a spawnLink init runs after, a GenServer.startLink init before', async () => {
    const ran: string[] = [];
    const sup = await Supervisor.start(
      [
        { id: 'server', start: () => GenServer.startLink({ init: () => (ran.push('server init'), { ok: null }) }, undefined) },
        { id: 'plain', start: () => spawnLink(() => undefined, { init: () => void ran.push('plain init') }) },
      ],
      { strategy: 'one_for_one' },
    );
    expect(ran).toEqual(['server init']);
    await idle();
    expect(ran).toEqual(['server init', 'plain init']);
    await Supervisor.stop(sup);
  });

  it('shuts its children down when its parent exits', async () => {
    let sup: Pid | undefined;
    const parent = spawn(async () => {
      sup = await Supervisor.startLink([spec('a'), spec('b')], { strategy: 'one_for_one' });
    });
    send(parent, 'go');
    await idle();
    const children = await pids(sup as Pid);
    const supExit = exitReasonOf(sup as Pid);
    exit(parent, { shutdown: 'bye' });
    expect(await supExit).toEqual({ shutdown: 'bye' });
    expect(isAlive(children.a as Pid)).toBe(false);
    expect(isAlive(children.b as Pid)).toBe(false);
  });

  it('kills a child that ignores shutdown once its timeout has passed, and reports it', async () => {
    const log: string[] = [];
    const stubborn: ChildSpec = { id: 'stubborn', shutdown: 50, start: () => worker(log, 'stubborn', true) };
    const sup = await Supervisor.start([stubborn], { strategy: 'one_for_one' });
    const child = (await pids(sup)).stubborn as Pid;
    const childExit = exitReasonOf(child);
    const t0 = performance.now();
    await Supervisor.terminateChild(sup, 'stubborn');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
    expect(log).toEqual(['stop stubborn']);
    expect(await childExit).toBe('killed');
    expect(reports).toContainEqual(expect.objectContaining({ kind: 'supervisor', event: 'shutdown', childId: 'stubborn', reason: 'killed' }));
  });

  it('brutal_kill kills at once, without the child seeing a shutdown', async () => {
    const log: string[] = [];
    const sup = await Supervisor.start([{ id: 'w', shutdown: 'brutal_kill', start: () => worker(log, 'w') }], { strategy: 'one_for_one' });
    const childExit = exitReasonOf((await pids(sup)).w as Pid);
    await Supervisor.terminateChild(sup, 'w');
    expect(await childExit).toBe('killed');
    expect(log).toEqual([]);
    expect(supervisorEvents()).toEqual([]);
  });

  it("'infinity' waits for a slow terminate where a timeout would have killed it", async () => {
    const done: string[] = [];
    const slow = (id: string): GenServerImpl<string> => ({
      init: () => ({ ok: id }),
      terminate: async (_r, s) => {
        await sleep(100);
        done.push(s);
      },
    });
    const sup = await Supervisor.start(
      [
        { id: 'patient', shutdown: 'infinity', start: () => GenServer.startLink(slow('patient'), undefined, { trapExit: true }) },
        { id: 'hasty', shutdown: 20, start: () => GenServer.startLink(slow('hasty'), undefined, { trapExit: true }) },
      ],
      { strategy: 'one_for_one' },
    );
    const children = await pids(sup);
    // What had finished when each exited: the killed one's terminate still resumes after its await, and pushes late.
    const patientExit = exitReasonOf(children.patient as Pid).then((reason) => [reason, done.includes('patient')]);
    const hastyExit = exitReasonOf(children.hasty as Pid).then((reason) => [reason, done.includes('hasty')]);
    await Supervisor.stop(sup);
    expect(await hastyExit).toEqual(['killed', false]);
    expect(await patientExit).toEqual(['shutdown', true]);
  });
});

describe('Supervisor child management', () => {
  it('whichChildren and countChildren describe the children', async () => {
    const sup = await Supervisor.start([spec('a'), { ...spec('b'), restart: 'transient' }], { strategy: 'one_for_one' });
    const rows = await Supervisor.whichChildren(sup);
    expect(rows.map(({ id, type, restart }) => ({ id, type, restart }))).toEqual([
      { id: 'a', type: 'worker', restart: 'permanent' },
      { id: 'b', type: 'worker', restart: 'transient' },
    ]);
    const gone = exitReasonOf(rows[1]?.pid as Pid);
    send(rows[1]?.pid as Pid, { exit: 'normal' });
    await gone;
    expect(await Supervisor.countChildren(sup)).toEqual({ specs: 2, active: 1, supervisors: 0, workers: 2 });
  });

  it('terminateChild keeps the spec; restartChild starts it again; deleteChild removes it', async () => {
    const sup = await Supervisor.start([spec('a'), spec('b')], { strategy: 'one_for_one' });
    const first = (await pids(sup)).a as Pid;
    await Supervisor.terminateChild(sup, 'a');
    expect(isAlive(first)).toBe(false);
    expect((await pids(sup)).a).toBeUndefined();
    const second = await Supervisor.restartChild(sup, 'a');
    expect(isAlive(second as Pid)).toBe(true);
    expect((await pids(sup)).a).toBe(second);
    await Supervisor.terminateChild(sup, 'a');
    await Supervisor.deleteChild(sup, 'a');
    expect(Object.keys(await pids(sup))).toEqual(['b']);
  });

  it('refuses with not_found, running and already_present as Elixir does', async () => {
    const sup = await Supervisor.start([spec('a')], { strategy: 'one_for_one' });
    const a = (await pids(sup)).a as Pid;
    const reasonOf = (p: Promise<unknown>): Promise<unknown> => p.then(
      () => 'resolved',
      (e: unknown) => (e instanceof SupervisorError ? e.reason : e),
    );
    expect(await reasonOf(Supervisor.terminateChild(sup, 'nope'))).toBe('not_found');
    expect(await reasonOf(Supervisor.restartChild(sup, 'nope'))).toBe('not_found');
    expect(await reasonOf(Supervisor.deleteChild(sup, 'nope'))).toBe('not_found');
    expect(await reasonOf(Supervisor.restartChild(sup, 'a'))).toBe('running');
    expect(await reasonOf(Supervisor.deleteChild(sup, 'a'))).toBe('running');
    expect(await reasonOf(Supervisor.startChild(sup, spec('a')))).toEqual({ alreadyStarted: a });
    await Supervisor.terminateChild(sup, 'a');
    expect(await reasonOf(Supervisor.startChild(sup, spec('a')))).toBe('already_present');
    await expect(Supervisor.deleteChild(sup, 'nope')).rejects.toThrow(/deleteChild: child 'nope' of supervisor #PID<0\.\d+> does not exist \(not_found\)/);
  });

  it('startChild adds a running child, or rejects and adds nothing when its start fails', async () => {
    const sup = await Supervisor.start([], { strategy: 'one_for_one' });
    const pid = await Supervisor.startChild(sup, spec('late'));
    expect((await pids(sup)).late).toBe(pid);
    const bad: ChildSpec = { id: 'bad', start: () => 'not a pid' as never };
    const err = await Supervisor.startChild(sup, bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartError);
    expect((err as Error).message).toMatch(/child 'bad' failed to start: .*expected a Pid/);
    expect(Object.keys(await pids(sup))).toEqual(['late']);
    expect(() => Supervisor.startChild(sup, { id: '', start: () => undefined })).toThrow(TypeError);
  });

  it('terminateChild removes a temporary child', async () => {
    const sup = await Supervisor.start([spec('t', { restart: 'temporary' })], { strategy: 'one_for_one' });
    await Supervisor.terminateChild(sup, 't');
    expect(await Supervisor.whichChildren(sup)).toEqual([]);
  });

  it('links a child that its start function did not link', async () => {
    const sup = await Supervisor.start([{ id: 'loose', start: () => spawn(() => undefined) }], { strategy: 'one_for_one' });
    const loose = (await pids(sup)).loose as Pid;
    expect(processInfo(loose)?.links).toEqual([sup]);
    exit(loose, 'kill');
    const again = (await pids(sup)).loose as Pid;
    expect(again).not.toBe(loose);
    expect(isAlive(again)).toBe(true);
  });

  it('API calls on a dead supervisor reject with noproc', async () => {
    const sup = await Supervisor.start([], { strategy: 'one_for_one' });
    await Supervisor.stop(sup);
    await expect(Supervisor.whichChildren(sup)).rejects.toMatchObject({ reason: 'noproc' });
  });
});
