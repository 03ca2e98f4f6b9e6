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
 * This file also holds what `DynamicSupervisor` shares with it: child spec
 * validation, starting and shutting down a child, the restart rules, the
 * lifecycle machine and the reports.
 */
import { assign, createActor, setup } from 'xstate';
import { Pid } from './pid.js';
import { exit, link, self, send, unlink, watch } from './process.js';
import { report, type SupervisorReport } from './logger.js';
import { formatReason, formatTerm, isExit, isQuietReason, type ExitReason } from './reasons.js';
import {
  StartError,
  call,
  isPromise,
  start as startServer,
  startLink as startServerLinked,
  stop as stopServer,
  type CallResult,
  type GenServerImpl,
  type InitOk,
  type InitStop,
  type NoReplyResult,
} from './gen-server.js';

/** How a supervisor restarts when a child exits: just it, all children, or it and those started after it. */
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';

/** `permanent`: always restarted; `transient`: unless it exits `normal`, `shutdown` or `{ shutdown }`; `temporary`: never. */
export type Restart = 'permanent' | 'transient' | 'temporary';

/**
 * How a child is stopped: milliseconds to wait after `exit(child, 'shutdown')`
 * before `exit(child, 'kill')`; `'brutal_kill'` kills at once; `'infinity'` waits.
 */
export type Shutdown = number | 'brutal_kill' | 'infinity';

/** A `'supervisor'` child defaults to `shutdown: 'infinity'`, a `'worker'` to 5000. */
export type ChildType = 'worker' | 'supervisor';

/** What a child's `start` returns: the pid of a process linked to the supervisor, or `undefined` to be ignored. */
export type StartedChild = Pid | undefined;

/**
 * One child of a `Supervisor`.
 *
 * @example
 * const spec: ChildSpec = { id: 'cache', start: () => GenServer.startLink(cache, {}), restart: 'permanent' };
 */
export interface ChildSpec<P extends StartedChild = StartedChild> {
  /** Unique within the supervisor. */
  readonly id: string;
  /** Runs inside the supervisor process; link the child to it (spawnLink, GenServer.startLink). */
  readonly start: () => P | Promise<P>;
  /** Default `'permanent'`. */
  readonly restart?: Restart;
  /** Default 5000 for workers, `'infinity'` for supervisors. */
  readonly shutdown?: Shutdown;
  /** Default `'worker'`. */
  readonly type?: ChildType;
}

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

/** @internal a validated child spec. */
export interface NormalizedSpec {
  readonly id: string | undefined;
  readonly start: (...extraArguments: unknown[]) => unknown;
  readonly restart: Restart;
  readonly shutdown: Shutdown;
  readonly type: ChildType;
}

/** A value as an error message shows it: strings quoted. */
function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : formatTerm(value);
}

const SPEC_KEYS: readonly string[] = ['id', 'start', 'restart', 'shutdown', 'type'];
const RESTARTS: readonly string[] = ['permanent', 'transient', 'temporary'];

/** @internal validates a child spec and fills in its defaults; throws TypeError naming the bad field. */
export function normalizeSpec(spec: unknown, where: string, idRequired: boolean): NormalizedSpec {
  if (typeof spec !== 'object' || spec === null) throw new TypeError(`${where}: a child spec must be an object, got ${formatTerm(spec)}`);
  const s = spec as Partial<Record<string, unknown>>;
  const id = s.id;
  const name = id === undefined ? 'child spec' : `child spec '${String(id)}'`;
  for (const key of Object.keys(s)) {
    if (!SPEC_KEYS.includes(key)) throw new TypeError(`${where}: ${name} has unknown field '${key}' (expected ${SPEC_KEYS.join(', ')})`);
  }
  if (id === undefined ? idRequired : typeof id !== 'string' || id === '') {
    throw new TypeError(`${where}: ${name} needs 'id', a non-empty string, got ${show(id)}`);
  }
  if (typeof s.start !== 'function') throw new TypeError(`${where}: ${name} needs 'start', a function returning a pid, got ${show(s.start)}`);
  const restart = s.restart ?? 'permanent';
  if (!RESTARTS.includes(restart as string)) {
    throw new TypeError(`${where}: ${name} has restart ${show(restart)}; expected 'permanent', 'transient' or 'temporary'`);
  }
  const type = s.type ?? 'worker';
  if (type !== 'worker' && type !== 'supervisor') throw new TypeError(`${where}: ${name} has type ${show(type)}; expected 'worker' or 'supervisor'`);
  const shutdown = s.shutdown ?? (type === 'supervisor' ? 'infinity' : 5000);
  if (!(shutdown === 'brutal_kill' || shutdown === 'infinity' || (Number.isInteger(shutdown) && (shutdown as number) >= 0))) {
    throw new TypeError(`${where}: ${name} has shutdown ${show(shutdown)}; expected milliseconds (a non-negative integer), 'brutal_kill' or 'infinity'`);
  }
  return { id: id as string | undefined, start: s.start as NormalizedSpec['start'], restart: restart as Restart, shutdown: shutdown as Shutdown, type };
}

/** @internal validates maxRestarts, maxSeconds and name; throws TypeError naming the bad one. */
export function validateSupervisorOptions(opts: unknown, where: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`${where}: options must be an object, got ${formatTerm(opts)}`);
  const o = opts as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!keys.includes(key)) throw new TypeError(`${where}: unknown option '${key}' (expected one of ${keys.join(', ')})`);
  }
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

/** @internal `permanent` always, `transient` unless the reason is quiet, `temporary` never. */
export function shouldRestart(restart: Restart, reason: ExitReason): boolean {
  return restart === 'permanent' || (restart === 'transient' && !isQuietReason(reason));
}

function childLabel(spec: NormalizedSpec): string {
  return spec.id === undefined ? 'child' : `child '${spec.id}'`;
}

function startFailure(spec: NormalizedSpec, err: unknown): StartError {
  if (err instanceof StartError) {
    const wrapped = new StartError(`${childLabel(spec)} failed to start: ${err.message}`, err.reason);
    wrapped.cause = err;
    return wrapped;
  }
  return new StartError(`${childLabel(spec)} failed to start: ${formatTerm(err)}`, { error: err });
}

function checkStarted(spec: NormalizedSpec, value: unknown): StartedChild | StartError {
  if (value === undefined) return undefined;
  if (value instanceof Pid) {
    // Also supervises a child that `start` forgot to link; a no-op for spawnLink'ed ones.
    link(value);
    return value;
  }
  return startFailure(spec, new TypeError(`start returned ${formatTerm(value)}; expected a Pid (from spawnLink or GenServer.startLink) or undefined`));
}

/**
 * @internal runs a child's start function inside the supervisor and links what it
 * returns. Never throws: a failure comes back as a StartError. Synchronous when
 * `start` is, so a DynamicSupervisor starts plain processes without a promise.
 */
export function runStart(spec: NormalizedSpec, extraArguments: readonly unknown[]): StartedChild | StartError | Promise<StartedChild | StartError> {
  let result: unknown;
  try {
    result = spec.start(...extraArguments);
  } catch (err) {
    return startFailure(spec, err);
  }
  if (isPromise(result)) {
    return Promise.resolve(result).then(
      (value) => checkStarted(spec, value),
      (err: unknown) => startFailure(spec, err),
    );
  }
  return checkStarted(spec, result);
}

/** @internal emits a supervisor report from the running supervisor. */
export function reportEvent(event: SupervisorReport['event'], spec: NormalizedSpec, pid: Pid | undefined, reason: ExitReason | undefined): void {
  report({ kind: 'supervisor', supervisor: self(), event, childId: spec.id, pid, reason });
}

/**
 * @internal stops a child as a supervisor does: unlink, then `'kill'` for
 * brutal_kill, else `'shutdown'` and, after `shutdown` ms, `'kill'`. Resolves once
 * it has exited. An exit reason other than the expected one (`'killed'` for
 * brutal_kill, `'shutdown'` otherwise) is reported as a `'shutdown'` event.
 */
export function shutdownChild(pid: Pid, spec: NormalizedSpec): Promise<void> {
  const supervisor = self();
  unlink(pid);
  const shutdown = spec.shutdown;
  return new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const expected = shutdown === 'brutal_kill' ? 'killed' : 'shutdown';
    const watched = watch(pid, (_pid, reason) => {
      if (timer !== undefined) clearTimeout(timer);
      if (reason !== expected) report({ kind: 'supervisor', supervisor, event: 'shutdown', childId: spec.id, pid, reason });
      resolve();
    });
    // Already gone: its EXIT is in the mailbox and will find no child.
    if (watched === undefined) {
      resolve();
      return;
    }
    if (shutdown === 'brutal_kill') {
      exit(pid, 'kill');
      return;
    }
    // The timer is set before the signal: a child that does not trap exits dies inside exit() and clears it.
    if (typeof shutdown === 'number') timer = setTimeout(() => exit(pid, 'kill'), shutdown);
    exit(pid, 'shutdown');
  });
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

interface IntensityContext {
  readonly maxRestarts: number;
  readonly periodMs: number;
  /** `performance.now()` of the restarts within the last period, oldest first. */
  readonly restarts: readonly number[];
}

type LifecycleEvent =
  | { readonly type: 'started' }
  | { readonly type: 'restart'; readonly at: number }
  | { readonly type: 'restarted' }
  | { readonly type: 'shutdown' }
  | { readonly type: 'terminated' };

function restartsWithin(context: IntensityContext, now: number): number[] {
  return context.restarts.filter((t) => now - t < context.periodMs);
}

const onRestart = [
  { guard: 'withinIntensity', target: 'restarting', actions: 'recordRestart' },
  { target: 'shutting_down', actions: 'recordRestart' },
] as const;

const lifecycleMachine = setup({
  types: {
    context: {} as IntensityContext,
    events: {} as LifecycleEvent,
    input: {} as { readonly maxRestarts: number; readonly maxSeconds: number },
  },
  guards: {
    // OTP gives up on the restart that makes more than maxRestarts within the period.
    withinIntensity: ({ context, event }) => event.type === 'restart' && restartsWithin(context, event.at).length < context.maxRestarts,
  },
  actions: {
    recordRestart: assign({
      restarts: ({ context, event }) => (event.type === 'restart' ? [...restartsWithin(context, event.at), event.at] : context.restarts),
    }),
  },
}).createMachine({
  id: 'supervisor',
  context: ({ input }) => ({ maxRestarts: input.maxRestarts, periodMs: input.maxSeconds * 1000, restarts: [] }),
  initial: 'starting',
  states: {
    starting: { on: { started: 'running', shutdown: 'shutting_down' } },
    running: { on: { restart: onRestart, shutdown: 'shutting_down' } },
    // A failed restart stays here until its retry succeeds; each retry counts as a restart.
    restarting: { on: { restart: onRestart, restarted: 'running', shutdown: 'shutting_down' } },
    shutting_down: { on: { terminated: 'terminated' } },
    terminated: { type: 'final' },
  },
});

/** @internal one supervisor's lifecycle and restart intensity (one xstate actor per supervisor, none per child). */
export class Lifecycle {
  readonly #actor;

  constructor(maxRestarts: number, maxSeconds: number) {
    this.#actor = createActor(lifecycleMachine, { input: { maxRestarts, maxSeconds } }).start();
  }

  started(): void {
    this.#actor.send({ type: 'started' });
  }

  /** Records a restart now. False when it is one too many for the intensity: the supervisor must shut down. */
  restart(): boolean {
    this.#actor.send({ type: 'restart', at: performance.now() });
    return !this.#actor.getSnapshot().matches('shutting_down');
  }

  restarted(): void {
    this.#actor.send({ type: 'restarted' });
  }

  shutdown(): void {
    this.#actor.send({ type: 'shutdown' });
  }

  terminated(): void {
    this.#actor.send({ type: 'terminated' });
    this.#actor.stop();
  }

  get state(): string {
    return String(this.#actor.getSnapshot().value);
  }

  restartsInWindow(): number {
    return restartsWithin(this.#actor.getSnapshot().context, performance.now()).length;
  }
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
 * Resolves to its pid once all have started. If a child fails to start, the
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
  return startServer(supervisorImpl, prepare(children, opts, 'Supervisor.start'), serverOptions(opts.name));
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
