import { describe, expect, it } from 'vitest';
import { DynamicSupervisor } from '../../src/runtime/dynamic-supervisor.js';
import { StartError } from '../../src/runtime/gen-server.js';
import type { Pid } from '../../src/runtime/pid.js';
import { exit, isAlive, processInfo, self, spawn, trapExit } from '../../src/runtime/process.js';
import { isExit, type ExitReason } from '../../src/runtime/reasons.js';
import { Task, TaskError, type TaskResult } from '../../src/runtime/task.js';
import { TaskSupervisor } from '../../src/runtime/task-supervisor.js';
import { exitReasonOf } from '../support/exits.js';
import { captureReports } from '../support/reports.js';

const reports = captureReports();

/** A promise and the function that resolves it: lets a test decide when a task's work ends. */
function gate<T = void>(): { promise: Promise<T>; open: (v: T) => void } {
  let open!: (v: T) => void;
  const promise = new Promise<T>((r) => (open = r));
  return { promise, open };
}

const never = (): Promise<never> => new Promise(() => undefined);

/** Runs `body` inside a new process and resolves with what it returns (or rejects with what it throws). */
function inProcess<T>(body: () => Promise<T>): Promise<{ pid: Pid; result: Promise<T>; exited: Promise<ExitReason> }> {
  return new Promise((resolve) => {
    const pid = spawn(() => undefined, {
      init: () => {
        const exited = exitReasonOf(pid);
        resolve({ pid, result: body(), exited });
      },
    });
  });
}

async function collect<T>(gen: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of gen) out.push(x);
  return out;
}

describe('Task.async and Task.await', () => {
  it('runs the function in a process of kind task and gives its value, sync or async', async () => {
    let kind: string | undefined;
    const t = Task.async(() => {
      kind = processInfo(t.pid)?.kind;
      return 6 * 7;
    });
    expect(await Task.await(t)).toBe(42);
    expect(kind).toBe('task');
    expect(await Task.await(Task.async(async () => 'later'))).toBe('later');
    expect(isAlive(t.pid)).toBe(false);
  });

  it('a throwing task rejects await with a TaskError carrying { error } and logs one crash report', async () => {
    const err = await Task.await(Task.async(() => {
      throw new Error('boom');
    })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect(((err as TaskError).reason as { error: Error }).error.message).toBe('boom');
    expect((err as TaskError).message).toMatch(/^Task\.await: task #PID<[^>]+> exited with \{error, Error: boom\}$/);
    expect(reports.filter((r) => r.kind === 'crash')).toHaveLength(1);
  });

  it('await past its timeout rejects with reason timeout and kills the task', async () => {
    const t = Task.async(never);
    const err = await Task.await(t, 20).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect((err as TaskError).reason).toBe('timeout');
    expect((err as TaskError).message).toMatch(/timed out after 20 ms \(the task was killed\)/);
    expect(await Task.yield(t)).toEqual({ exit: 'killed' });
  });

  it('inside a process the task is linked: its crash takes the caller down with the same reason', async () => {
    const { exited } = await inProcess(async () => {
      const t = Task.async(() => {
        throw new Error('linked boom');
      });
      await never();
      return t;
    });
    const reason = (await exited) as { error: Error };
    expect(reason.error.message).toBe('linked boom');
  });

  it('the link exists from the start: a task killed before it ran still takes its caller down', async () => {
    const { exited } = await inProcess(async () => {
      const t = Task.async(() => 1);
      exit(t.pid, 'kill');
      await never();
    });
    expect(await exited).toBe('killed');
  });

  it('a caller that traps exits gets the EXIT as a message and survives', async () => {
    const got: ExitReason[] = [];
    const exited = gate();
    const caller = spawn(
      (msg) => {
        if (isExit(msg)) {
          got.push(msg.reason);
          exited.open();
        }
      },
      {
        init: () => {
          trapExit(true);
          Task.async(() => {
            throw new Error('trapped');
          });
        },
      },
    );
    await exited.promise;
    expect((got[0] as { error: Error }).error.message).toBe('trapped');
    expect(isAlive(caller)).toBe(true);
  });

  it('awaitMany gives every value in order', async () => {
    const slow = gate<number>();
    const tasks = [Task.async(() => slow.promise), Task.async(() => 2), Task.async(async () => 3)];
    setImmediate(() => slow.open(1));
    expect(await Task.awaitMany(tasks)).toEqual([1, 2, 3]);
  });

  it('checks its arguments', () => {
    expect(() => Task.async(42 as never)).toThrow(new TypeError('Task.async expects a function to run in the task, got number'));
    const t = Task.async(() => 1);
    return expect(Task.await(t, -1)).rejects.toThrow(/Task\.await: timeout must be a non-negative number of ms or Infinity, got -1/);
  });
});

describe('Task.yield and Task.shutdown', () => {
  it('yield returns undefined while the task runs and leaves it running, then { ok }', async () => {
    const g = gate<string>();
    const t = Task.async(() => g.promise);
    expect(await Task.yield(t, 10)).toBeUndefined();
    expect(isAlive(t.pid)).toBe(true);
    g.open('done');
    expect(await Task.yield(t)).toEqual({ ok: 'done' });
  });

  it('yield gives { exit } for a crashed task', async () => {
    const t = Task.async(() => {
      throw new Error('x');
    });
    const r = (await Task.yield(t)) as { exit: { error: Error } };
    expect(r.exit.error.message).toBe('x');
  });

  it('shutdown stops a running task (undefined) and returns the value of a finished one', async () => {
    const running = Task.async(never);
    expect(await Task.shutdown(running)).toBeUndefined();
    expect(await Task.yield(running)).toEqual({ exit: 'shutdown' });
    const done = Task.async(() => 'v');
    await Task.yield(done);
    expect(await Task.shutdown(done)).toEqual({ ok: 'v' });
    const brutal = Task.async(never);
    expect(await Task.shutdown(brutal, 'brutal_kill')).toBeUndefined();
    expect(await Task.yield(brutal)).toEqual({ exit: 'killed' });
  });

  it('a task the caller shuts down does not take the linked caller with it', async () => {
    const { pid, result } = await inProcess(async () => {
      const t = Task.async(never);
      return Task.shutdown(t, 'brutal_kill');
    });
    expect(await result).toBeUndefined();
    expect(isAlive(pid)).toBe(true);
  });
});

describe('Task.asyncStream', () => {
  it('maps in order with at most maxConcurrency tasks alive at once', async () => {
    let running = 0;
    let peak = 0;
    const results = await collect(
      Task.asyncStream(
        [50, 10, 30, 0, 20, 5],
        async (ms) => {
          peak = Math.max(peak, ++running);
          await new Promise((r) => setTimeout(r, ms));
          running--;
          return ms * 2;
        },
        { maxConcurrency: 2 },
      ),
    );
    expect(results).toEqual([{ ok: 100 }, { ok: 20 }, { ok: 60 }, { ok: 0 }, { ok: 40 }, { ok: 10 }]);
    expect(peak).toBe(2);
  });

  it('ordered: false yields results as they complete', async () => {
    const gates = [gate<string>(), gate<string>()];
    const stream = Task.asyncStream([0, 1], (i) => gates[i]!.promise, { ordered: false, maxConcurrency: 2 });
    const first = stream.next();
    gates[1]!.open('second');
    expect((await first).value).toEqual({ ok: 'second' });
    gates[0]!.open('first');
    expect((await stream.next()).value).toEqual({ ok: 'first' });
    expect((await stream.next()).done).toBe(true);
  });

  it('reads its input lazily: an endless source works and stopping early kills the running tasks', async () => {
    let read = 0;
    function* naturals(): Generator<number> {
      for (let i = 0; ; i++) {
        read++;
        yield i;
      }
    }
    const stuck: Promise<ExitReason>[] = [];
    const stream = Task.asyncStream(
      naturals(),
      async (i) => {
        if (i >= 3) {
          stuck.push(exitReasonOf(self()));
          await never();
        }
        return i;
      },
      { maxConcurrency: 2 },
    );
    const got: TaskResult<number>[] = [];
    for await (const r of stream) {
      got.push(r);
      if (got.length === 3) break;
    }
    expect(got).toEqual([{ ok: 0 }, { ok: 1 }, { ok: 2 }]);
    expect(stuck.length).toBeGreaterThan(0);
    expect(await Promise.all(stuck)).toEqual(stuck.map(() => 'killed'));
    expect(read).toBeLessThanOrEqual(5);
  });

  it('a crashing item is { exit } and the rest go on', async () => {
    const results = await collect(
      Task.asyncStream([1, 2, 3], (n) => {
        if (n === 2) throw new Error('two');
        return n;
      }),
    );
    expect(results[0]).toEqual({ ok: 1 });
    expect(((results[1] as { exit: { error: Error } }).exit.error).message).toBe('two');
    expect(results[2]).toEqual({ ok: 3 });
  });

  it("onTimeout 'killTask' yields { exit: 'timeout' } and kills the task; 'exit' ends the stream with a TaskError", async () => {
    let slow: Promise<ExitReason> | undefined;
    const items = await collect(
      Task.asyncStream(
        [0, 1],
        async (i) => {
          if (i === 0) return 'fast';
          slow = exitReasonOf(self());
          return never();
        },
        { timeout: 30, onTimeout: 'killTask' },
      ),
    );
    expect(items).toEqual([{ ok: 'fast' }, { exit: 'timeout' }]);
    expect(await slow).toBe('killed');
    const err = await collect(Task.asyncStream([0], () => never(), { timeout: 20 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect((err as TaskError).reason).toBe('timeout');
  });

  it('rejects a bad option naming it', () => {
    expect(() => Task.asyncStream([1], (x) => x, { maxConcurency: 2 } as never)).toThrow("unknown option 'maxConcurency' in asyncStream options (did you mean 'maxConcurrency'?)");
    expect(() => Task.asyncStream([1], (x) => x, { maxConcurrency: 0 })).toThrow("asyncStream option 'maxConcurrency' must be a positive integer, got 0");
    expect(() => Task.asyncStream([1], (x) => x, { onTimeout: 'kill' as never })).toThrow("asyncStream option 'onTimeout' must be 'exit' or 'killTask', got kill");
  });
});

describe('TaskSupervisor', () => {
  it('asyncNolink: a crash reaches the calling process only as a result, never as an exit signal', async () => {
    const sup = await TaskSupervisor.start();
    const { pid, result } = await inProcess(async () => {
      const t = await TaskSupervisor.asyncNolink(sup, () => {
        throw new Error('nolink');
      });
      return Task.yield(t);
    });
    const r = await result;
    expect(r).toEqual({ exit: { error: expect.objectContaining({ message: 'nolink' }) } });
    expect(isAlive(pid)).toBe(true);
    await DynamicSupervisor.stop(sup);
  });

  it('async links to the caller as Task.async; tasks are the supervisor children; stopping it stops them', async () => {
    const sup = await TaskSupervisor.start({ name: 'tasks' });
    const t = await TaskSupervisor.async('tasks', never);
    expect(await TaskSupervisor.children('tasks')).toEqual([t.pid]);
    const child = await TaskSupervisor.startChild(sup, never);
    const childExit = exitReasonOf(child);
    expect((await TaskSupervisor.children(sup)).length).toBe(2);
    await DynamicSupervisor.stop(sup);
    expect(await childExit).toBe('shutdown');
    expect(await Task.yield(t)).toEqual({ exit: 'shutdown' });
  });

  it('maxChildren refuses one task too many with a StartError', async () => {
    const sup = await TaskSupervisor.start({ maxChildren: 1 });
    await TaskSupervisor.startChild(sup, never);
    const err = await TaskSupervisor.asyncNolink(sup, () => 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartError);
    expect((err as StartError).reason).toBe('max_children');
    await DynamicSupervisor.stop(sup);
  });

  it('asyncStreamNolink maps under the supervisor with bounded concurrency', async () => {
    const sup = await TaskSupervisor.start();
    let peak = 0;
    const results = await collect(
      TaskSupervisor.asyncStreamNolink(sup, [1, 2, 3, 4], async (n) => {
        peak = Math.max(peak, (await TaskSupervisor.children(sup)).length);
        return n * n;
      }, { maxConcurrency: 2 }),
    );
    expect(results).toEqual([{ ok: 1 }, { ok: 4 }, { ok: 9 }, { ok: 16 }]);
    expect(peak).toBeLessThanOrEqual(2);
    await DynamicSupervisor.stop(sup);
  });

  it('startLink links the supervisor to the calling process; asyncStream runs linked tasks under it, in order', async () => {
    const { result } = await inProcess(async () => {
      const sup = await TaskSupervisor.startLink();
      const linked = processInfo(sup)?.links ?? [];
      const results = await collect(TaskSupervisor.asyncStream(sup, [3, 1, 2], async (n) => n * 10, { maxConcurrency: 2 }));
      await DynamicSupervisor.stop(sup);
      return { linked, results, me: self() };
    });
    const { linked, results, me } = await result;
    expect(linked).toContain(me);
    expect(results).toEqual([{ ok: 30 }, { ok: 10 }, { ok: 20 }]);
  });

  it('rejects an unknown option naming it', () => {
    expect(() => TaskSupervisor.start({ max: 1 } as never)).toThrow("unknown option 'max' in TaskSupervisor options (known: name, maxChildren)");
  });
});
