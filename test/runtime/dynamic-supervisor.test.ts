import { describe, expect, it } from 'vitest';
import { DynamicSupervisor, adoptChild, prepareChildSpec, type DynamicChildSpec } from '../../src/runtime/dynamic-supervisor.js';
import { idle } from '../../src/runtime/scheduler.js';
import { SupervisorError, type Restart } from '../../src/runtime/supervisor.js';
import { GenServer, StartError, type GenServerImpl } from '../../src/runtime/gen-server.js';
import { exit, isAlive, processInfo, send, spawn, spawnLink } from '../../src/runtime/process.js';
import { type SupervisorReport } from '../../src/runtime/logger.js';
import type { ExitReason } from '../../src/runtime/reasons.js';
import type { Pid } from '../../src/runtime/pid.js';
import { exitReasonOf } from '../support/exits.js';
import { captureReports } from '../support/reports.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A child that exits with the reason in `{ exit: reason }`. */
function worker(restart: Restart = 'temporary'): DynamicChildSpec<Pid> {
  return {
    restart,
    start: () =>
      spawnLink((msg: unknown) => {
        if (typeof msg === 'object' && msg !== null && 'exit' in msg) exit(msg.exit as ExitReason);
      }),
  };
}

/** Makes `pid` exit with `reason` and waits until it has, so its EXIT is in the supervisor's mailbox. */
async function exitWith(pid: Pid, reason: ExitReason): Promise<void> {
  const gone = exitReasonOf(pid);
  send(pid, { exit: reason });
  await gone;
}

const reports = captureReports();

function events(): SupervisorReport['event'][] {
  return reports.filter((r): r is SupervisorReport => r.kind === 'supervisor').map((r) => r.event);
}

describe('DynamicSupervisor.startChild', () => {
  it('starts a child linked to the supervisor and lists it', async () => {
    const sup = await DynamicSupervisor.start();
    const pid = await DynamicSupervisor.startChild(sup, worker());
    expect(processInfo(pid)?.links).toEqual([sup]);
    expect(await DynamicSupervisor.whichChildren(sup)).toEqual([{ id: undefined, pid, type: 'worker', restart: 'temporary' }]);
    expect(await DynamicSupervisor.countChildren(sup)).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 1 });
    expect(processInfo(sup)?.details).toMatchObject({ module: 'DynamicSupervisor', strategy: 'one_for_one', children: 1 });
  });

  it('passes extraArguments to each child start', async () => {
    const sup = await DynamicSupervisor.start({ extraArguments: ['room-1', 7] });
    const seen: unknown[][] = [];
    await DynamicSupervisor.startChild(sup, {
      start: (...args: unknown[]) => {
        seen.push(args);
        return spawnLink(() => undefined);
      },
    });
    expect(seen).toEqual([['room-1', 7]]);
  });

  it('starts GenServer children whose init is async', async () => {
    const impl = {
      init: async (n: number) => {
        await sleep(5);
        return { ok: n };
      },
    } satisfies GenServerImpl<number, never, unknown, never, unknown, number>;
    const sup = await DynamicSupervisor.start();
    const pid = await DynamicSupervisor.startChild(sup, { start: () => GenServer.startLink(impl, 1) });
    expect(processInfo(pid)?.kind).toBe('gen_server');
    expect(processInfo(pid)?.links).toEqual([sup]);
  });

  it('refuses a child beyond maxChildren with reason max_children, and accepts one once a slot frees', async () => {
    const sup = await DynamicSupervisor.start({ maxChildren: 2 });
    const a = await DynamicSupervisor.startChild(sup, worker());
    await DynamicSupervisor.startChild(sup, worker());
    const err = (await DynamicSupervisor.startChild(sup, worker()).catch((e: unknown) => e)) as StartError;
    expect(err).toBeInstanceOf(StartError);
    expect(err.reason).toBe('max_children');
    expect(err.message).toMatch(/already has its maxChildren \(2\) children/);
    await exitWith(a, 'normal');
    expect(isAlive(await DynamicSupervisor.startChild(sup, worker()))).toBe(true);
  });

  it('rejects with a StartError when the child fails to start, and keeps nothing of it', async () => {
    const sup = await DynamicSupervisor.start();
    const failing: DynamicChildSpec = {
      start: () => {
        throw new Error('cannot');
      },
    };
    await expect(DynamicSupervisor.startChild(sup, failing)).rejects.toThrow(/child failed to start: Error: cannot/);
    expect(await DynamicSupervisor.countChildren(sup)).toEqual({ specs: 0, active: 0, supervisors: 0, workers: 0 });
  });

  it('starts thousands of temporary children and forgets each one that exits', async () => {
    const sup = await DynamicSupervisor.start();
    const children = await Promise.all(Array.from({ length: 3000 }, () => DynamicSupervisor.startChild(sup, worker())));
    expect(new Set(children).size).toBe(3000);
    expect((await DynamicSupervisor.countChildren(sup)).active).toBe(3000);
    await Promise.all(children.slice(0, 1000).map((pid) => exitWith(pid, 'normal')));
    expect((await DynamicSupervisor.countChildren(sup)).active).toBe(2000);
    await DynamicSupervisor.stop(sup);
    expect(children.some((pid) => isAlive(pid))).toBe(false);
  });

  it('throws TypeError for a bad spec or option', () => {
    expect(() => DynamicSupervisor.start({ maxChildren: -1 })).toThrow(/option 'maxChildren'/);
    expect(() => DynamicSupervisor.start({ strategy: 'one_for_all' } as never)).toThrow(/unknown option 'strategy' in DynamicSupervisor.start options/);
    expect(() => DynamicSupervisor.start({ extraArguments: 'x' as never })).toThrow(/option 'extraArguments'/);
    expect(() => DynamicSupervisor.startChild('nobody', { start: () => undefined, restart: 'sometimes' as Restart })).toThrow(/restart 'sometimes'/);
  });
});

describe('DynamicSupervisor restarts', () => {
  const cases: [Restart, ExitReason, 'restarted' | 'removed'][] = [
    ['temporary', { error: 'crashed' }, 'removed'],
    ['temporary', 'normal', 'removed'],
    ['transient', 'normal', 'removed'],
    ['transient', { shutdown: 'done' }, 'removed'],
    ['transient', 'boom', 'restarted'],
    ['permanent', 'normal', 'restarted'],
    ['permanent', 'boom', 'restarted'],
  ];
  for (const [restart, reason, outcome] of cases) {
    it(`a ${restart} child that exits with ${JSON.stringify(reason)} is ${outcome}`, async () => {
      const sup = await DynamicSupervisor.start();
      const first = await DynamicSupervisor.startChild(sup, worker(restart));
      await exitWith(first, reason);
      const rows = await DynamicSupervisor.whichChildren(sup);
      if (outcome === 'removed') {
        expect(rows).toEqual([]);
      } else {
        expect(rows).toHaveLength(1);
        expect(rows[0]?.pid).not.toBe(first);
        expect(isAlive(rows[0]?.pid as Pid)).toBe(true);
        expect(events()).toContain('child_restarted');
      }
      expect(events().includes('child_terminated')).toBe(reason === 'boom' || (typeof reason === 'object' && 'error' in reason));
    });
  }

  it('gives up with shutdown after more than maxRestarts restarts in maxSeconds', async () => {
    const sup = await DynamicSupervisor.start({ maxRestarts: 1, maxSeconds: 60 });
    const other = await DynamicSupervisor.startChild(sup, worker('temporary'));
    const supExit = exitReasonOf(sup);
    const first = await DynamicSupervisor.startChild(sup, worker('permanent'));
    exit(first, 'kill');
    const [row] = (await DynamicSupervisor.whichChildren(sup)).filter((r) => r.restart === 'permanent');
    exit(row?.pid as Pid, 'kill');
    expect(await supExit).toBe('shutdown');
    expect(isAlive(other)).toBe(false);
    expect(events()).toContain('reached_max_restart_intensity');
  });

  it('retries a failed restart until the intensity runs out', async () => {
    let starts = 0;
    const sup = await DynamicSupervisor.start({ maxRestarts: 2 });
    const supExit = exitReasonOf(sup);
    const once: DynamicChildSpec<Pid> = {
      start: () => {
        starts++;
        if (starts > 1) throw new Error('no more');
        return spawnLink(() => undefined);
      },
    };
    exit(await DynamicSupervisor.startChild(sup, once), 'kill');
    expect(await supExit).toBe('shutdown');
    expect(starts).toBe(3);
    expect(events()).toEqual(['child_terminated', 'start_error', 'start_error', 'reached_max_restart_intensity']);
  });
});

describe('DynamicSupervisor.adoptChild', () => {
  const adopted = prepareChildSpec({ start: () => undefined, restart: 'temporary' });

  it('makes a running process a child, whose crash is reported as any child\'s', async () => {
    const sup = await DynamicSupervisor.start();
    const pid = spawn(() => {
      throw new Error('boom');
    });
    adoptChild(sup, pid, adopted, () => undefined);
    await idle();
    expect(processInfo(pid)?.links).toEqual([sup]);
    expect(await DynamicSupervisor.countChildren(sup)).toMatchObject({ active: 1 });
    send(pid, 'crash');
    await idle();
    expect(events()).toEqual(['child_terminated']);
    await DynamicSupervisor.stop(sup);
  });

  it('skips a process that exited before the supervisor got to it: no child, no noproc report', async () => {
    const sup = await DynamicSupervisor.start();
    const pid = spawn(() => undefined);
    adoptChild(sup, pid, adopted, () => undefined);
    exit(pid, { error: 'closed' });
    await idle();
    expect(await DynamicSupervisor.countChildren(sup)).toMatchObject({ specs: 0, active: 0 });
    expect(events()).toEqual([]);
    await DynamicSupervisor.stop(sup);
  });
});

describe('DynamicSupervisor termination', () => {
  it('terminateChild stops a child with shutdown and forgets it', async () => {
    const sup = await DynamicSupervisor.start();
    const pid = await DynamicSupervisor.startChild(sup, worker('permanent'));
    const gone = exitReasonOf(pid);
    await DynamicSupervisor.terminateChild(sup, pid);
    expect(await gone).toBe('shutdown');
    expect(await DynamicSupervisor.whichChildren(sup)).toEqual([]);
  });

  it('terminateChild of a pid that is not a child rejects with not_found', async () => {
    const sup = await DynamicSupervisor.start();
    const stranger = await DynamicSupervisor.start();
    const err = (await DynamicSupervisor.terminateChild(sup, stranger).catch((e: unknown) => e)) as SupervisorError;
    expect(err).toBeInstanceOf(SupervisorError);
    expect(err.reason).toBe('not_found');
    expect(err.message).toBe(`terminateChild: ${String(stranger)} is not a child of DynamicSupervisor ${String(sup)} (not_found)`);
  });

  it('shuts all children down at once when it stops', async () => {
    const log: string[] = [];
    const slow = (id: string): GenServerImpl<string> => ({
      init: () => ({ ok: id }),
      terminate: async (_r, s) => {
        log.push(`begin ${s}`);
        await sleep(30);
        log.push(`end ${s}`);
      },
    });
    const sup = await DynamicSupervisor.start();
    for (const id of ['a', 'b', 'c']) {
      await DynamicSupervisor.startChild(sup, { shutdown: 'infinity', start: () => GenServer.startLink(slow(id), undefined, { trapExit: true }) });
    }
    await DynamicSupervisor.stop(sup, 'shutdown');
    expect(log.slice(0, 3).every((e) => e.startsWith('begin'))).toBe(true);
    expect(log).toHaveLength(6);
  });

  it('stops with its children when its parent exits', async () => {
    let sup: Pid | undefined;
    let child: Pid | undefined;
    const parent = runInProcess(async () => {
      sup = await DynamicSupervisor.startLink({ name: 'dyn-linked' });
      child = await DynamicSupervisor.startChild('dyn-linked', worker('permanent'));
    });
    await idle();
    const supExit = exitReasonOf(sup as Pid);
    exit(parent, 'shutdown');
    expect(await supExit).toBe('shutdown');
    expect(isAlive(child as Pid)).toBe(false);
  });
});

/** Spawns a process that runs `body` once, as its first message. */
function runInProcess(body: () => Promise<void>): Pid {
  const pid = spawn(async (msg: unknown) => {
    if (msg === 'go') await body();
  });
  send(pid, 'go');
  return pid;
}
