/**
 * Elixir's `Task`: run one function in a process of its own and collect its
 * result, and `asyncStream` to map a collection over tasks with bounded
 * concurrency and ordered results.
 *
 * A task is a beamsock process (kind `task`) that runs its function once and exits
 * `normal` with the result kept for its owner, or with `{ error }` if the function
 * throws or rejects. `async` links it to the calling process as Elixir's
 * `Task.async` does (a crash takes the caller down unless it traps exits); called
 * from plain code there is no process to link, and `await` rejects instead.
 */
import { availableParallelism } from 'node:os';
import { makeRef, type Pid, type Ref } from './pid.js';
import { exit, link, unlink } from './links.js';
import { watch } from './monitors.js';
import { rejectUnknownOptions } from './options.js';
import { self, spawn } from './process-core.js';
import { formatReason, type ExitReason } from './reasons.js';
import { currentProc } from './scheduler.js';

/** What `yield` and `asyncStream` give for one task: its value, or how it exited. */
export type TaskResult<T> = { readonly ok: T } | { readonly exit: ExitReason };

/** Why `Task.await` failed: `'timeout'`, or the exit reason of a task that did not complete. */
export class TaskError extends Error {
  override readonly name = 'TaskError';
  constructor(
    message: string,
    readonly reason: ExitReason,
  ) {
    super(message);
  }
}

const DEFAULT_TIMEOUT = 5_000;

type Outcome<T> = TaskResult<T> | undefined;

/**
 * A running task: its `pid`, a `ref` naming it, and the `owner` that started it
 * (undefined for plain code). Only the owner should await it. The statics are
 * Elixir's `Task` functions: `Task.async`, `Task.await`, `Task.awaitMany`,
 * `Task.yield`, `Task.shutdown`, `Task.asyncStream`.
 *
 * @example
 * const task = Task.async(() => fetchScore());
 * const score = await Task.await(task);
 */
export class Task<T> {
  /** `async(fn)`: runs `fn` in a new process linked to the caller. */
  static readonly async = async;
  /** `awaitTask(task, timeoutMs)`: the task's value, or a `TaskError`. */
  static readonly await = awaitTask;
  /** `awaitMany(tasks, timeoutMs)`: every value, in order. */
  static readonly awaitMany = awaitMany;
  /** `yieldTask(task, timeoutMs)`: `{ ok }`, `{ exit }` or undefined, the task left running. */
  static readonly yield = yieldTask;
  /** `shutdown(task, timeoutMs | 'brutal_kill')`. */
  static readonly shutdown = shutdown;
  /** `asyncStream(items, fn, opts)`: bounded concurrency, ordered results. */
  static readonly asyncStream = asyncStream;

  /** @internal set once the task's process has ended */
  outcome: Outcome<T> = undefined;
  private waiters: ((o: TaskResult<T>) => void)[] = [];

  /** @internal */
  constructor(
    readonly pid: Pid,
    readonly ref: Ref,
    readonly owner: Pid | undefined,
  ) {}

  /** @internal the task's process ended with `o`. */
  settle(o: TaskResult<T>): void {
    if (this.outcome !== undefined) return;
    this.outcome = o;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w(o);
  }

  /** @internal resolves with the outcome, or undefined after `timeoutMs`. */
  wait(timeoutMs: number): Promise<Outcome<T>> {
    if (this.outcome !== undefined) return Promise.resolve(this.outcome);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = (o: TaskResult<T>): void => {
        if (timer !== undefined) clearTimeout(timer);
        resolve(o);
      };
      this.waiters.push(waiter);
      if (timeoutMs !== Infinity) {
        timer = setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve(undefined);
        }, timeoutMs);
      }
    });
  }
}

function checkFunction(where: string, fn: unknown): void {
  if (typeof fn !== 'function') throw new TypeError(`${where} expects a function to run in the task, got ${typeof fn}`);
}

function checkTimeout(where: string, ms: unknown): void {
  if (!(typeof ms === 'number' && ms >= 0 && !Number.isNaN(ms))) {
    throw new TypeError(`${where}: timeout must be a non-negative number of ms or Infinity, got ${String(ms)}`);
  }
}

/**
 * @internal spawns the task's process with `start` (plain spawn, or a supervisor's
 * start). The task links itself to the calling process (when `linked` and there is
 * one) and watches its own exit before running `fn`, so even a task that ends
 * before `start` resolves (under a supervisor) is linked and its outcome kept.
 */
export function runTask<T>(fn: () => T | PromiseLike<T>, linked: boolean, start: (body: () => unknown) => Pid | Promise<Pid>): Task<Awaited<T>> | Promise<Task<Awaited<T>>> {
  const caller = currentProc();
  let task: Task<Awaited<T>> | undefined;
  let early: TaskResult<Awaited<T>> | undefined;
  let bodyStarted = false;
  let value: Awaited<T> | undefined;
  const ended = (_pid: Pid, reason: ExitReason): void => {
    const o: TaskResult<Awaited<T>> = reason === 'normal' ? { ok: value as Awaited<T> } : { exit: reason };
    if (task === undefined) early = o;
    else task.settle(o);
  };
  const body = async (): Promise<never> => {
    bodyStarted = true;
    if (task === undefined) {
      // Started under a supervisor and running before its pid reached the caller: link from here.
      watch(self(), ended);
      if (linked && caller !== null) link(caller.pid);
    }
    value = (await fn()) as Awaited<T>;
    exit('normal');
  };
  const adopt = (pid: Pid): Task<Awaited<T>> => {
    task = new Task<Awaited<T>>(pid, makeRef(), caller?.pid);
    // Ended before this point: the body's own watch saw how (or, killed before it ran, nothing did).
    if (watch(pid, ended) === undefined) task.settle(early ?? { exit: 'noproc' });
    else if (!bodyStarted && linked && caller !== null) link(pid);
    return task;
  };
  const started = start(body);
  return started instanceof Promise ? started.then(adopt) : adopt(started);
}

/**
 * Runs `fn` in a new process (kind `task`) and returns its `Task`. Inside a
 * process the task is linked to it, as Elixir's `Task.async`: a crash in the task
 * crashes the caller too unless it traps exits. From plain code nothing is linked
 * and `await` rejects with the task's exit reason.
 *
 * @throws TypeError if `fn` is not a function.
 * @example
 * const task = Task.async(async () => (await fetch(url)).status);
 * console.log(await Task.await(task)); // 200
 */
export function async<T>(fn: () => T | PromiseLike<T>): Task<Awaited<T>> {
  checkFunction('Task.async', fn);
  return runTask(fn, true, (body) => spawn(() => undefined, { kind: 'task', init: body })) as Task<Awaited<T>>;
}

/**
 * Waits for a task's value. Rejects with `TaskError` whose `reason` is the task's
 * exit reason if it crashed or was killed, or `'timeout'` after `timeoutMs`
 * (default 5000): then, as in Elixir (where the linked caller exits), the task is
 * killed. Use `yield` to wait without ending the task.
 *
 * @throws TypeError for a bad timeout.
 * @example
 * const n = await Task.await(Task.async(() => 6 * 7)); // 42
 */
export async function awaitTask<T>(task: Task<T>, timeoutMs: number = DEFAULT_TIMEOUT): Promise<T> {
  checkTimeout('Task.await', timeoutMs);
  const o = await task.wait(timeoutMs);
  if (o === undefined) {
    unlinkIfOwner(task);
    exit(task.pid, 'kill');
    throw new TaskError(`Task.await: task ${String(task.pid)} timed out after ${timeoutMs} ms (the task was killed)`, 'timeout');
  }
  if ('ok' in o) return o.ok;
  throw new TaskError(`Task.await: task ${String(task.pid)} exited with ${formatReason(o.exit)}`, o.exit);
}

/**
 * Waits for every task, in order, with one overall timeout; as `await` otherwise.
 *
 * @example
 * const [a, b] = await Task.awaitMany([Task.async(() => 1), Task.async(() => 2)]);
 */
export async function awaitMany<T>(tasks: readonly Task<T>[], timeoutMs: number = DEFAULT_TIMEOUT): Promise<T[]> {
  checkTimeout('Task.awaitMany', timeoutMs);
  const deadline = timeoutMs === Infinity ? Infinity : Date.now() + timeoutMs;
  const values: T[] = [];
  for (const t of tasks) values.push(await awaitTask(t, deadline === Infinity ? Infinity : Math.max(0, deadline - Date.now())));
  return values;
}

/**
 * Waits up to `timeoutMs` (default 5000) for a task without ending it: `{ ok:
 * value }`, `{ exit: reason }`, or `undefined` if it is still running (ask again, or
 * `shutdown` it). Elixir's `Task.yield/2`.
 *
 * @example
 * const r = await Task.yield(task, 100);
 * if (r === undefined) await Task.shutdown(task);
 */
export function yieldTask<T>(task: Task<T>, timeoutMs: number = DEFAULT_TIMEOUT): Promise<TaskResult<T> | undefined> {
  checkTimeout('Task.yield', timeoutMs);
  return task.wait(timeoutMs);
}

/**
 * Stops a task: unlinks it, sends it `shutdown` (or kills it with
 * `'brutal_kill'`), and waits up to `timeoutMs` before killing it. Resolves with
 * `{ ok }` if it had completed, `{ exit }` if it had crashed, or `undefined` if it was
 * stopped here. Elixir's `Task.shutdown/2`.
 *
 * @example
 * await Task.shutdown(task, 'brutal_kill');
 */
export async function shutdown<T>(task: Task<T>, timeoutMs: number | 'brutal_kill' = DEFAULT_TIMEOUT): Promise<TaskResult<T> | undefined> {
  if (timeoutMs !== 'brutal_kill') checkTimeout('Task.shutdown', timeoutMs);
  if (task.outcome !== undefined) return task.outcome;
  unlinkIfOwner(task);
  exit(task.pid, timeoutMs === 'brutal_kill' ? 'kill' : 'shutdown');
  let o = timeoutMs === 'brutal_kill' ? await task.wait(Infinity) : await task.wait(timeoutMs);
  if (o === undefined) {
    exit(task.pid, 'kill');
    o = await task.wait(Infinity);
  }
  return o !== undefined && 'ok' in o ? o : undefined;
}

function unlinkIfOwner(task: { readonly pid: Pid; readonly owner: Pid | undefined }): void {
  const me = currentProc();
  if (me !== null && task.owner === me.pid) unlink(task.pid);
}

/** Options of `asyncStream`, as Elixir's `Task.async_stream/3`. */
export interface AsyncStreamOptions {
  /** Tasks running at once. Default: the number of cores (`os.availableParallelism()`). */
  readonly maxConcurrency?: number;
  /** Results in input order (default) or as they complete. */
  readonly ordered?: boolean;
  /** Ms each task may take, counted from its start; default 5000. */
  readonly timeout?: number;
  /** A task past its timeout: `'exit'` (default) ends the stream with a `TaskError`; `'killTask'` kills it and yields `{ exit: 'timeout' }`. */
  readonly onTimeout?: 'exit' | 'killTask';
}

const STREAM_KEYS: readonly string[] = ['maxConcurrency', 'ordered', 'timeout', 'onTimeout'];

/** @internal the stream's options, checked once. */
export function streamOptions(opts: AsyncStreamOptions): Required<AsyncStreamOptions> {
  rejectUnknownOptions(opts, STREAM_KEYS, 'asyncStream options');
  const maxConcurrency = opts.maxConcurrency ?? availableParallelism();
  if (!(Number.isInteger(maxConcurrency) && maxConcurrency >= 1)) throw new TypeError(`asyncStream option 'maxConcurrency' must be a positive integer, got ${String(maxConcurrency)}`);
  const timeout = opts.timeout ?? DEFAULT_TIMEOUT;
  checkTimeout('asyncStream', timeout);
  const onTimeout = opts.onTimeout ?? 'exit';
  if (onTimeout !== 'exit' && onTimeout !== 'killTask') throw new TypeError(`asyncStream option 'onTimeout' must be 'exit' or 'killTask', got ${String(onTimeout)}`);
  const ordered = opts.ordered ?? true;
  if (typeof ordered !== 'boolean') throw new TypeError(`asyncStream option 'ordered' must be a boolean, got ${String(ordered)}`);
  return { maxConcurrency, ordered, timeout, onTimeout };
}

/**
 * @internal the stream shared by `Task.asyncStream` and the Task.Supervisor's: at
 * most `maxConcurrency` tasks alive; the input is read only as slots free up.
 */
export async function* streamTasks<I, T>(
  items: Iterable<I> | AsyncIterable<I>,
  start: (item: I) => Task<T> | Promise<Task<T>>,
  o: Required<AsyncStreamOptions>,
): AsyncGenerator<TaskResult<T>, void, undefined> {
  const input = Symbol.asyncIterator in items ? (items as AsyncIterable<I>)[Symbol.asyncIterator]() : (items as Iterable<I>)[Symbol.iterator]();
  // Running tasks in start order, each with the promise of its result (timeouts included).
  const running: { task: Task<T>; result: Promise<TaskResult<T> | 'timeout'>; done: boolean }[] = [];
  let exhausted = false;
  const fill = async (): Promise<void> => {
    while (!exhausted && running.length < o.maxConcurrency) {
      const next = await input.next();
      if (next.done === true) {
        exhausted = true;
        return;
      }
      const task = await start(next.value);
      const entry = { task, result: task.wait(o.timeout).then((r) => r ?? ('timeout' as const)), done: false };
      void entry.result.then(() => (entry.done = true));
      running.push(entry);
    }
  };
  try {
    for (;;) {
      await fill();
      if (running.length === 0) return;
      let i = 0;
      if (!o.ordered) {
        await Promise.race(running.map((e) => e.result));
        i = running.findIndex((e) => e.done);
      }
      const [entry] = running.splice(i, 1) as [(typeof running)[number]];
      const r = await entry.result;
      if (r !== 'timeout') {
        yield r;
        continue;
      }
      unlinkIfOwner(entry.task);
      exit(entry.task.pid, 'kill');
      if (o.onTimeout === 'exit') throw new TaskError(`asyncStream: task ${String(entry.task.pid)} timed out after ${o.timeout} ms`, 'timeout');
      yield { exit: 'timeout' };
    }
  } finally {
    // A consumer that stops early (break, throw) leaves no task behind.
    for (const e of running) {
      unlinkIfOwner(e.task);
      exit(e.task.pid, 'kill');
    }
    await input.return?.();
  }
}

/**
 * Maps `fn` over `items` in tasks, at most `maxConcurrency` at once, yielding `{
 * ok: value }` or `{ exit: reason }` per item, in input order unless `ordered:
 * false`. Tasks are linked to the calling process, as `async`. The input is read
 * lazily, so an endless or async source works. Elixir's `Task.async_stream/3`.
 *
 * @throws TypeError for a bad option (at the first `next()`).
 * @example
 * for await (const r of Task.asyncStream(urls, (u) => fetch(u).then((res) => res.status), { maxConcurrency: 4 })) {
 *   console.log(r); // { ok: 200 } ...
 * }
 */
export function asyncStream<I, T>(
  items: Iterable<I> | AsyncIterable<I>,
  fn: (item: I) => T | PromiseLike<T>,
  opts: AsyncStreamOptions = {},
): AsyncGenerator<TaskResult<Awaited<T>>, void, undefined> {
  checkFunction('Task.asyncStream', fn);
  const o = streamOptions(opts);
  return streamTasks(items, (item) => async(() => fn(item)), o);
}
