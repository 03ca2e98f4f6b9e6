/**
 * Supervisor: starts a list of children, restarts them by strategy when they exit,
 * and gives up (exits `'shutdown'`, so its own parent decides) when restarts come
 * faster than `maxRestarts` in `maxSeconds`, with the semantics of Elixir's Supervisor.
 *
 * A supervisor is a GenServer (kind `'supervisor'`) that traps exits. Each child's
 * `start` runs inside the supervisor process, so `spawnLink` and
 * `GenServer.startLink` link the child to it and make it the child's parent; the
 * supervisor also links whatever pid `start` returns. Its lifecycle and restart
 * intensity are an xstate machine (`starting → running ⇄ restarting →
 * shutting_down → terminated`, intensity a guard over the restart times in its
 * context). No queue is needed for the async child operations: the supervisor's
 * mailbox already runs one request, one EXIT at a time, and waits for each to
 * finish, as the BEAM's supervisor does.
 *
 * Reports (see `setLogger`), each a `SupervisorReport`: `child_terminated` (a child
 * exited abnormally), `child_restarted`, `start_error` (a child failed to start or
 * restart), `reached_max_restart_intensity` (the supervisor gives up), and
 * `shutdown` (a child being shut down ended with another reason than expected,
 * such as `'killed'` after its shutdown timeout).
 *
 * What `DynamicSupervisor` shares with it lives in rooms of its own: a child's
 * spec, start, shutdown and restart rule in child-spec.ts, the lifecycle machine
 * in supervisor-lifecycle.ts; this file keeps the request plumbing both answer.
 */
import { Pid } from './pid.js';
import { self, send } from './process-core.js';
import { formatReason, formatTerm, isExit, isQuietReason, type ExitReason } from './reasons.js';
import { rejectUnknownOptions } from './options.js';
import {
  StartError,
  call,
  isPromise,
  startTopLevel,
  startLink as startServerLinked,
  stop as stopServer,
  type CallResult,
  type GenServerImpl,
  type InitOk,
  type InitStop,
  type NoReplyResult,
} from './gen-server.js';
import {
  normalizeSpec,
  reportEvent,
  runStart,
  shouldRestart,
  show,
  shutdownChild,
  type ChildSpec,
  type NormalizedSpec,
  type StartedChild,
  type ChildType,
  type Restart,
} from './child-spec.js';
import { Lifecycle } from './supervisor-lifecycle.js';

export type { ChildSpec, ChildType, Restart, Shutdown, StartedChild } from './child-spec.js';

/** How a supervisor restarts when a child exits: just it, all children, or it and those started after it. */
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';

/** Options for `Supervisor.start` and `startLink`. */
export interface SupervisorOptions {
  readonly strategy: Strategy;
  /** Restarts allowed within `maxSeconds` before the supervisor gives up. Default 3. */
  readonly maxRestarts?: number;
  /** Default 5. */
  readonly maxSeconds?: number;
  /** Registers the supervisor under this name. */
  readonly name?: string;
}

/** One row of `whichChildren`. `pid` is `'restarting'` while a failed restart waits to be retried. */
export interface ChildInfo {
  /** `undefined` for a DynamicSupervisor child started without an id. */
  readonly id: string | undefined;
  readonly pid: Pid | undefined | 'restarting';
  readonly type: ChildType;
  readonly restart: Restart;
}

/** What `countChildren` returns: child specs, running children, and specs by type. */
export interface ChildCounts {
  readonly specs: number;
  readonly active: number;
  readonly supervisors: number;
  readonly workers: number;
}

/** Why a supervisor request was refused, as in Elixir. */
export type SupervisorErrorReason = 'not_found' | 'running' | 'restarting' | 'already_present' | { readonly alreadyStarted: Pid };

/**
 * A supervisor refused a request: no such child (`'not_found'`), the child is
 * running (`'running'`) or waiting to be restarted (`'restarting'`), or the id is
 * taken (`'already_present'`, `{ alreadyStarted: pid }`).
 */
export class SupervisorError extends Error {
  readonly reason: SupervisorErrorReason;
  /** @internal */
  constructor(message: string, reason: SupervisorErrorReason) {
    super(message);
    this.name = 'SupervisorError';
    this.reason = reason;
  }
}

/**
 * The detail of the `{ shutdown: FailedToStartChild }` reason a supervisor exits
 * with when a child fails to start during its own start.
 */
export class FailedToStartChild {
  /** @internal */
  constructor(
    readonly id: string,
    readonly reason: ExitReason,
  ) {}
  toString(): string {
    return `failed_to_start_child ${this.id}: ${formatReason(this.reason)}`;
  }
}

// ---------------------------------------------------------------------------
// Shared with DynamicSupervisor.

/** @internal validates maxRestarts, maxSeconds and name; throws TypeError naming the bad one. */
export function validateSupervisorOptions(opts: unknown, where: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`${where}: options must be an object, got ${formatTerm(opts)}`);
  const o = opts as Record<string, unknown>;
  rejectUnknownOptions(o, keys, `${where} options`);
  if (o.maxRestarts !== undefined && !(Number.isInteger(o.maxRestarts) && (o.maxRestarts as number) >= 0)) {
    throw new TypeError(`${where}: option 'maxRestarts' must be a non-negative integer, got ${show(o.maxRestarts)}`);
  }
  if (o.maxSeconds !== undefined && !(typeof o.maxSeconds === 'number' && o.maxSeconds > 0 && Number.isFinite(o.maxSeconds))) {
    throw new TypeError(`${where}: option 'maxSeconds' must be a positive number, got ${show(o.maxSeconds)}`);
  }
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name === '')) {
    throw new TypeError(`${where}: option 'name' must be a non-empty string, got ${show(o.name)}`);
  }
  return o;
}

/** @internal a failed restart, retried through the supervisor's own mailbox so other messages get their turn (as OTP does). */
export class RetryRestart<T> {
  constructor(
    readonly child: T,
    readonly reason: ExitReason,
  ) {}
}

/** @internal counts for countChildren. */
export function tallyChildren(specs: Iterable<NormalizedSpec>, active: number): ChildCounts {
  let n = 0;
  let supervisors = 0;
  for (const spec of specs) {
    n++;
    if (spec.type === 'supervisor') supervisors++;
  }
  return { specs: n, active, supervisors, workers: n - supervisors };
}

/** @internal sends a request to a supervisor and turns a refusal into a rejection. */
export async function request<T>(sup: Pid | string, req: unknown): Promise<T> {
  const answer = await call<T | SupervisorError | StartError>(sup, req, Infinity);
  if (answer instanceof SupervisorError || answer instanceof StartError) throw answer;
  return answer;
}

/** @internal the requests both kinds of supervisor answer. */
export const WHICH = { op: 'which' } as const;
/** @internal */
export const COUNT = { op: 'count' } as const;

// ---------------------------------------------------------------------------
// Supervisor.

type Request =
  | typeof WHICH
  | typeof COUNT
  | { readonly op: 'start'; readonly spec: NormalizedSpec & { readonly id: string } }
  | { readonly op: 'terminate' | 'restart' | 'delete'; readonly id: string };

interface Child {
  readonly spec: NormalizedSpec & { readonly id: string };
  pid: Pid | undefined | 'restarting';
}

interface InitArgs {
  readonly specs: readonly Child['spec'][];
  readonly strategy: Strategy;
  readonly maxRestarts: number;
  readonly maxSeconds: number;
}

class State {
  /** In start order. */
  readonly children: Child[] = [];
  readonly byPid = new Map<Pid, Child>();
  readonly noreply: NoReplyResult<State> = { noreply: true, state: this };

  constructor(
    readonly strategy: Strategy,
    readonly lifecycle: Lifecycle,
  ) {}

  find(id: string): Child | undefined {
    return this.children.find((c) => c.spec.id === id);
  }

  setPid(child: Child, pid: StartedChild | 'restarting'): void {
    if (child.pid instanceof Pid) this.byPid.delete(child.pid);
    child.pid = pid;
    if (pid instanceof Pid) this.byPid.set(pid, child);
  }

  remove(child: Child): void {
    const i = this.children.indexOf(child);
    if (i >= 0) this.children.splice(i, 1);
  }
}

const NO_ARGS: readonly unknown[] = [];

/** Stops `group` in reverse start order, one at a time; temporary children leave the supervisor. */
async function stopChildren(state: State, group: readonly Child[]): Promise<void> {
  for (let i = group.length - 1; i >= 0; i--) {
    const child = group[i] as Child;
    const pid = child.pid;
    state.setPid(child, undefined);
    if (pid instanceof Pid) await shutdownChild(pid, child.spec);
    if (child.spec.restart === 'temporary') state.remove(child);
  }
}

/** Restarts after `offender` exited with `reason`, by strategy; or stops the supervisor when that exceeds the intensity. */
async function restart(state: State, offender: Child, reason: ExitReason): Promise<NoReplyResult<State>> {
  if (!state.lifecycle.restart()) {
    reportEvent('reached_max_restart_intensity', offender.spec, undefined, reason);
    return { stop: 'shutdown', state };
  }
  const { children } = state;
  const group =
    state.strategy === 'one_for_one' ? [offender] : state.strategy === 'one_for_all' ? children.slice() : children.slice(children.indexOf(offender));
  await stopChildren(state, group);
  for (const child of group) {
    if (!children.includes(child)) continue;
    const result = await runStart(child.spec, NO_ARGS);
    if (result instanceof StartError) {
      reportEvent('start_error', child.spec, undefined, result.reason);
      state.setPid(child, 'restarting');
      send(self(), new RetryRestart(child, reason));
      return state.noreply;
    }
    state.setPid(child, result);
    reportEvent('child_restarted', child.spec, result, reason);
  }
  state.lifecycle.restarted();
  return state.noreply;
}

function refuse(op: string, id: string, reason: SupervisorErrorReason, why: string): SupervisorError {
  const tag = typeof reason === 'string' ? reason : 'already_started';
  return new SupervisorError(`${op}: child '${id}' of supervisor ${String(self())} ${why} (${tag})`, reason);
}

async function startNewChild(state: State, spec: Child['spec']): Promise<StartedChild | StartError | SupervisorError> {
  const existing = state.find(spec.id);
  if (existing !== undefined) {
    return existing.pid instanceof Pid
      ? refuse('startChild', spec.id, { alreadyStarted: existing.pid }, `is already started as ${String(existing.pid)}`)
      : refuse('startChild', spec.id, 'already_present', 'is already present; restartChild or deleteChild it');
  }
  const result = await runStart(spec, NO_ARGS);
  if (result instanceof StartError) return result;
  if (result !== undefined || spec.restart !== 'temporary') {
    const child: Child = { spec, pid: undefined };
    state.children.push(child);
    state.setPid(child, result);
  }
  return result;
}

async function terminateById(state: State, id: string): Promise<SupervisorError | undefined> {
  const child = state.find(id);
  if (child === undefined) return refuse('terminateChild', id, 'not_found', 'does not exist');
  await stopChildren(state, [child]);
  return undefined;
}

async function restartById(state: State, id: string): Promise<StartedChild | StartError | SupervisorError> {
  const child = state.find(id);
  if (child === undefined) return refuse('restartChild', id, 'not_found', 'does not exist');
  if (child.pid instanceof Pid) return refuse('restartChild', id, 'running', 'is running; terminateChild it first');
  const result = await runStart(child.spec, NO_ARGS);
  if (result instanceof StartError) return result;
  state.setPid(child, result);
  return result;
}

function deleteById(state: State, id: string): SupervisorError | undefined {
  const child = state.find(id);
  if (child === undefined) return refuse('deleteChild', id, 'not_found', 'does not exist');
  if (child.pid instanceof Pid) return refuse('deleteChild', id, 'running', 'is running; terminateChild it first');
  if (child.pid === 'restarting') return refuse('deleteChild', id, 'restarting', 'is waiting to be restarted');
  state.remove(child);
  return undefined;
}

function replyWith<T>(state: State, value: T | Promise<T>): CallResult<State, unknown> | Promise<CallResult<State, unknown>> {
  return isPromise(value) ? Promise.resolve(value).then((reply) => ({ reply, state })) : { reply: value, state };
}

const supervisorImpl = {
  name: 'Supervisor',

  async init(args: InitArgs): Promise<InitOk<State> | InitStop> {
    const state = new State(args.strategy, new Lifecycle(args.maxRestarts, args.maxSeconds));
    for (const spec of args.specs) {
      const result = await runStart(spec, NO_ARGS);
      if (result instanceof StartError) {
        reportEvent('start_error', spec, undefined, result.reason);
        state.lifecycle.shutdown();
        await stopChildren(state, state.children.slice());
        state.lifecycle.terminated();
        return { stop: { shutdown: new FailedToStartChild(spec.id, result.reason) } };
      }
      if (result === undefined && spec.restart === 'temporary') continue;
      const child: Child = { spec, pid: undefined };
      state.children.push(child);
      state.setPid(child, result);
    }
    state.lifecycle.started();
    return { ok: state };
  },

  handleCall(req: Request, _from: unknown, state: State): CallResult<State, unknown> | Promise<CallResult<State, unknown>> {
    switch (req.op) {
      case 'which':
        return replyWith(
          state,
          state.children.map((c): ChildInfo => ({ id: c.spec.id, pid: c.pid, type: c.spec.type, restart: c.spec.restart })),
        );
      case 'count':
        return replyWith(
          state,
          tallyChildren(
            state.children.map((c) => c.spec),
            state.byPid.size,
          ),
        );
      case 'start':
        return replyWith(state, startNewChild(state, req.spec));
      case 'terminate':
        return replyWith(state, terminateById(state, req.id));
      case 'restart':
        return replyWith(state, restartById(state, req.id));
      case 'delete':
        return replyWith(state, deleteById(state, req.id));
    }
  },

  handleInfo(msg: unknown, state: State): NoReplyResult<State> | Promise<NoReplyResult<State>> {
    if (msg instanceof RetryRestart) {
      const child = msg.child as Child;
      // A restartChild, terminateChild or group restart since then may have settled it.
      if (child.pid !== 'restarting' || !state.children.includes(child)) return state.noreply;
      return restart(state, child, msg.reason);
    }
    if (!isExit(msg)) return state.noreply;
    const child = state.byPid.get(msg.from);
    if (child === undefined) return state.noreply;
    state.setPid(child, undefined);
    if (!isQuietReason(msg.reason)) reportEvent('child_terminated', child.spec, msg.from, msg.reason);
    if (!shouldRestart(child.spec.restart, msg.reason)) {
      if (child.spec.restart === 'temporary') state.remove(child);
      return state.noreply;
    }
    return restart(state, child, msg.reason);
  },

  async terminate(_reason: ExitReason, state: State): Promise<void> {
    state.lifecycle.shutdown();
    await stopChildren(state, state.children.slice());
    state.lifecycle.terminated();
  },

  describe(state: State): Record<string, unknown> {
    return {
      strategy: state.strategy,
      children: state.children.map((c) => c.spec.id),
      restarts: state.lifecycle.restartsInWindow(),
      lifecycle: state.lifecycle.state,
    };
  },
} satisfies GenServerImpl<State, Request, unknown, never, unknown, InitArgs>;

const OPTION_KEYS: readonly string[] = ['strategy', 'maxRestarts', 'maxSeconds', 'name'];
const STRATEGIES: readonly string[] = ['one_for_one', 'one_for_all', 'rest_for_one'];

function prepare(children: readonly ChildSpec[], opts: SupervisorOptions, where: string): InitArgs {
  const o = validateSupervisorOptions(opts, where, OPTION_KEYS);
  if (!STRATEGIES.includes(o.strategy as string)) {
    throw new TypeError(`${where}: option 'strategy' must be 'one_for_one', 'one_for_all' or 'rest_for_one', got ${show(o.strategy)}`);
  }
  if (!Array.isArray(children)) throw new TypeError(`${where}: children must be an array of child specs, got ${formatTerm(children)}`);
  const ids = new Set<string>();
  const specs = children.map((c) => {
    const spec = normalizeSpec(c, where, true) as Child['spec'];
    if (ids.has(spec.id)) throw new TypeError(`${where}: duplicate child id '${spec.id}' (ids must be unique within a supervisor)`);
    ids.add(spec.id);
    return spec;
  });
  return { specs, strategy: opts.strategy, maxRestarts: opts.maxRestarts ?? 3, maxSeconds: opts.maxSeconds ?? 5 };
}

function serverOptions(name: string | undefined): { name: string | undefined; trapExit: true; kind: string; timeout: number } {
  return { name, trapExit: true, kind: 'supervisor', timeout: Infinity };
}

/**
 * Starts a supervisor (not linked to the caller) and its children, in order.
 * Resolves to its pid once every child's `start` has returned (a `spawnLink`
 * child with an `init` option runs that init afterwards, as its first message;
 * a `GenServer.startLink` child has run its own). If a child fails to start, the
 * started ones are stopped in reverse order and it rejects with `StartError`
 * whose reason is `{ shutdown: FailedToStartChild }`. Throws `TypeError` at once
 * for a bad option or child spec (duplicate ids included). `exit(sup, 'shutdown')`
 * from plain code stops it as its parent would: children first.
 *
 * @example
 * const sup = await Supervisor.start(
 *   [{ id: 'counter', start: () => GenServer.startLink(counter, 0) }],
 *   { strategy: 'one_for_one' },
 * );
 */
export function start(children: readonly ChildSpec[], opts: SupervisorOptions): Promise<Pid> {
  return startTopLevel(supervisorImpl, prepare(children, opts, 'Supervisor.start'), serverOptions(opts.name));
}

/**
 * Like `start`, linked to the calling process, which becomes its parent: an EXIT
 * from it shuts the children down and stops the supervisor with its reason. Use it
 * for a supervisor that is a child (`type: 'supervisor'`) of another. Throws
 * outside a process.
 *
 * @example
 * { id: 'rooms', type: 'supervisor', start: () => Supervisor.startLink(roomSpecs, { strategy: 'one_for_all' }) }
 */
export function startLink(children: readonly ChildSpec[], opts: SupervisorOptions): Promise<Pid> {
  return startServerLinked(supervisorImpl, prepare(children, opts, 'Supervisor.startLink'), serverOptions(opts.name));
}

/**
 * The children in start order, with their pid, `undefined` (not running) or
 * `'restarting'`. Rejects with `CallError` if the supervisor is not alive.
 *
 * @example
 * (await Supervisor.whichChildren(sup)).map((c) => c.id); // ['db', 'cache']
 */
export function whichChildren(sup: Pid | string): Promise<ChildInfo[]> {
  return request<ChildInfo[]>(sup, WHICH);
}

/**
 * Counts: child specs, running children, and specs by type. Rejects with
 * `CallError` if the supervisor is not alive.
 *
 * @example
 * await Supervisor.countChildren(sup); // { specs: 2, active: 2, supervisors: 0, workers: 2 }
 */
export function countChildren(sup: Pid | string): Promise<ChildCounts> {
  return request<ChildCounts>(sup, COUNT);
}

function requireId(id: unknown, where: string): string {
  if (typeof id !== 'string' || id === '') throw new TypeError(`${where}: id must be a non-empty string, got ${show(id)}`);
  return id;
}

/**
 * Adds a child and starts it. Resolves to its pid (`undefined` if its start
 * ignored it). Rejects with `SupervisorError` (`{ alreadyStarted: pid }` or
 * `'already_present'`) if the id is taken, or `StartError` if it fails to start
 * (it is then not added). Throws `TypeError` for a bad spec.
 *
 * @example
 * const pid = await Supervisor.startChild(sup, { id: 'extra', start: () => spawnLink(work) });
 */
export function startChild<P extends StartedChild>(sup: Pid | string, spec: ChildSpec<P>): Promise<P> {
  const normalized = normalizeSpec(spec, 'Supervisor.startChild', true) as Child['spec'];
  return request<P>(sup, { op: 'start', spec: normalized });
}

/**
 * Stops a child (as its `shutdown` says) and keeps its spec, so `restartChild`
 * can start it again; a temporary child's spec is removed. Resolves once it has
 * exited. Rejects with `SupervisorError` `'not_found'` for an unknown id.
 *
 * @example
 * await Supervisor.terminateChild(sup, 'cache');
 */
export function terminateChild(sup: Pid | string, id: string): Promise<void> {
  return request<void>(sup, { op: 'terminate', id: requireId(id, 'Supervisor.terminateChild') });
}

/**
 * Starts a stopped child again from its spec. Resolves to the new pid. Rejects
 * with `SupervisorError` `'not_found'` or `'running'`, or `StartError`.
 *
 * @example
 * await Supervisor.terminateChild(sup, 'cache');
 * const pid = await Supervisor.restartChild(sup, 'cache');
 */
export function restartChild(sup: Pid | string, id: string): Promise<StartedChild> {
  return request<StartedChild>(sup, { op: 'restart', id: requireId(id, 'Supervisor.restartChild') });
}

/**
 * Removes a stopped child's spec. Rejects with `SupervisorError` `'not_found'`,
 * `'running'` or `'restarting'`.
 *
 * @example
 * await Supervisor.terminateChild(sup, 'cache');
 * await Supervisor.deleteChild(sup, 'cache');
 */
export function deleteChild(sup: Pid | string, id: string): Promise<void> {
  return request<void>(sup, { op: 'delete', id: requireId(id, 'Supervisor.deleteChild') });
}

/**
 * Stops the supervisor: its children are shut down in reverse start order, then
 * it exits with `reason` (default `'normal'`). Resolves once it has exited.
 * Rejects with `CallError` `'noproc'` if it is not alive.
 *
 * @example
 * await Supervisor.stop(sup);
 */
export function stop(sup: Pid | string, reason: ExitReason = 'normal'): Promise<void> {
  return stopServer(sup, reason);
}

/**
 * The Supervisor API in one namespace.
 *
 * @example
 * const sup = await Supervisor.start(children, { strategy: 'rest_for_one' });
 * await Supervisor.countChildren(sup);
 */
export const Supervisor = Object.freeze({
  start,
  startLink,
  whichChildren,
  countChildren,
  startChild,
  terminateChild,
  restartChild,
  deleteChild,
  stop,
});
