/**
 * Elixir's `Task.Supervisor`: a DynamicSupervisor whose children are tasks, so
 * tasks can be started from anywhere, shut down with their supervisor, and run
 * without being linked to their caller (`asyncNolink`).
 */
import { DynamicSupervisor, type DynamicSupervisorOptions } from './dynamic-supervisor.js';
import type { Pid } from './pid.js';
import { spawnLink } from './links.js';
import { rejectUnknownOptions } from './options.js';
import { runTask, streamOptions, streamTasks, type AsyncStreamOptions, type Task, type TaskResult } from './task.js';

/** Options of `TaskSupervisor.start`: a name and a cap on running tasks. */
export interface TaskSupervisorOptions {
  readonly name?: string;
  /** Tasks running at once; one more is refused with a `StartError` (`'max_children'`). Default `Infinity`. */
  readonly maxChildren?: number;
}

function startTaskUnder<T>(sup: Pid | string, fn: () => T | PromiseLike<T>, linked: boolean): Promise<Task<Awaited<T>>> {
  if (typeof fn !== 'function') throw new TypeError(`TaskSupervisor expects a function to run in the task, got ${typeof fn}`);
  return runTask(fn, linked, (body) =>
    DynamicSupervisor.startChild(sup, { id: 'task', start: () => spawnLink(() => undefined, { kind: 'task', init: body }), restart: 'temporary' }),
  ) as Promise<Task<Awaited<T>>>;
}

function supervisorOptions(opts: TaskSupervisorOptions | undefined): DynamicSupervisorOptions {
  if (opts === undefined) return {};
  rejectUnknownOptions(opts, ['name', 'maxChildren'], 'TaskSupervisor options');
  return opts;
}

/**
 * Elixir's `Task.Supervisor`.
 *
 * @example
 * const sup = await TaskSupervisor.start({ name: 'tasks' });
 * const task = await TaskSupervisor.asyncNolink('tasks', () => risky());
 * const r = await Task.yield(task); // { ok } or { exit } — the caller survives a crash
 */
export const TaskSupervisor = Object.freeze({
  /**
   * Starts a task supervisor (not linked to the caller); resolves to its pid.
   *
   * @example
   * const sup = await TaskSupervisor.start({ maxChildren: 100 });
   */
  start(opts?: TaskSupervisorOptions): Promise<Pid> {
    return DynamicSupervisor.start(supervisorOptions(opts));
  },

  /**
   * Like `start`, linked to the calling process (as a supervisor child's `start`).
   *
   * @example
   * { id: 'tasks', type: 'supervisor', start: () => TaskSupervisor.startLink({ name: 'tasks' }) }
   */
  startLink(opts?: TaskSupervisorOptions): Promise<Pid> {
    return DynamicSupervisor.startLink(supervisorOptions(opts));
  },

  /**
   * A task under `sup`, linked to the calling process as `Task.async`.
   *
   * @example
   * const task = await TaskSupervisor.async(sup, () => 1 + 1);
   */
  async<T>(sup: Pid | string, fn: () => T | PromiseLike<T>): Promise<Task<Awaited<T>>> {
    return startTaskUnder(sup, fn, true);
  },

  /**
   * A task under `sup`, not linked to the caller: its crash reaches the caller only
   * as the result of `Task.await` (a `TaskError`) or `Task.yield` (`{ exit }`).
   *
   * @example
   * const task = await TaskSupervisor.asyncNolink(sup, () => mayThrow());
   */
  asyncNolink<T>(sup: Pid | string, fn: () => T | PromiseLike<T>): Promise<Task<Awaited<T>>> {
    return startTaskUnder(sup, fn, false);
  },

  /**
   * A fire-and-forget task under `sup`; resolves to its pid.
   *
   * @example
   * await TaskSupervisor.startChild(sup, () => sendWelcomeEmail(user));
   */
  async startChild(sup: Pid | string, fn: () => unknown): Promise<Pid> {
    return (await startTaskUnder(sup, fn, false)).pid;
  },

  /**
   * `Task.asyncStream` with each task under `sup`, linked to the caller.
   *
   * @example
   * for await (const r of TaskSupervisor.asyncStream(sup, ids, load, { maxConcurrency: 8 })) console.log(r);
   */
  asyncStream<I, T>(sup: Pid | string, items: Iterable<I> | AsyncIterable<I>, fn: (item: I) => T | PromiseLike<T>, opts: AsyncStreamOptions = {}): AsyncGenerator<TaskResult<Awaited<T>>, void, undefined> {
    const o = streamOptions(opts);
    return streamTasks(items, (item) => startTaskUnder(sup, () => fn(item), true), o);
  },

  /**
   * `asyncStream` with tasks not linked to the caller: a crash is an `{ exit }` item.
   *
   * @example
   * for await (const r of TaskSupervisor.asyncStreamNolink(sup, urls, ping)) if ('exit' in r) console.log('failed');
   */
  asyncStreamNolink<I, T>(sup: Pid | string, items: Iterable<I> | AsyncIterable<I>, fn: (item: I) => T | PromiseLike<T>, opts: AsyncStreamOptions = {}): AsyncGenerator<TaskResult<Awaited<T>>, void, undefined> {
    const o = streamOptions(opts);
    return streamTasks(items, (item) => startTaskUnder(sup, () => fn(item), false), o);
  },

  /**
   * The pids of the supervisor's running tasks.
   *
   * @example
   * (await TaskSupervisor.children(sup)).length;
   */
  async children(sup: Pid | string): Promise<Pid[]> {
    const kids = await DynamicSupervisor.whichChildren(sup);
    return kids.map((c) => c.pid).filter((p): p is Pid => p !== undefined && p !== 'restarting');
  },
});
