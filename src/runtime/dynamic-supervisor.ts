/**
 * DynamicSupervisor: starts empty and supervises children added at run time with
 * `startChild`, one_for_one, with the semantics of Elixir's DynamicSupervisor.
 *
 * It is built for many short-lived children (every WebSocket connection is a
 * `temporary` child of one): a child costs one map entry keyed by its pid, a
 * start function that returns a pid synchronously is handled without a promise,
 * and restart intensity is one xstate actor per supervisor, never per child. On
 * stop, all children are shut down at once rather than one after another.
 * Child start, shutdown, restart rules (child-spec.ts) and intensity
 * (supervisor-lifecycle.ts) are shared with `Supervisor`.
 */
import { Pid } from './pid.js';
import { self, send } from './process-core.js';
import { link } from './links.js';
import { isAlive } from './introspection.js';
import { formatTerm, isExit, isQuietReason, type ExitReason } from './reasons.js';
import {
  StartError,
  cast,
  isPromise,
  startTopLevel,
  startLink as startServerLinked,
  type CallResult,
  type GenServerImpl,
  type InitOk,
  type NoReplyResult,
} from './gen-server.js';
import { COUNT, RetryRestart, SupervisorError, WHICH, countChildren, request, stop, tallyChildren, validateSupervisorOptions, whichChildren, type ChildInfo } from './supervisor.js';
import {
  normalizeSpec,
  reportEvent,
  runStart,
  shouldRestart,
  shutdownChild,
  type ChildType,
  type NormalizedSpec,
  type Restart,
  type Shutdown,
  type StartedChild,
} from './child-spec.js';
import { Lifecycle } from './supervisor-lifecycle.js';

/** Options for `DynamicSupervisor.start` and `startLink`. */
export interface DynamicSupervisorOptions {
  /** Children allowed at once (running or waiting to be restarted). Default `Infinity`. */
  readonly maxChildren?: number;
  /** Restarts allowed within `maxSeconds` before the supervisor gives up. Default 3. */
  readonly maxRestarts?: number;
  /** Default 5. */
  readonly maxSeconds?: number;
  /** Registers the supervisor under this name. */
  readonly name?: string;
  /** Passed to every child's `start` as its arguments; Elixir prepends them to the child's own, which here its closure holds. */
  readonly extraArguments?: readonly unknown[];
}

/**
 * One child of a DynamicSupervisor. `id` is optional and only shown by
 * `whichChildren`; a `Supervisor` `ChildSpec` is accepted as it is.
 *
 * @example
 * const spec: DynamicChildSpec<Pid> = { start: () => spawnLink(connection), restart: 'temporary' };
 */
export interface DynamicChildSpec<P extends StartedChild = StartedChild> {
  readonly id?: string;
  /** Runs inside the supervisor with its `extraArguments`; link the child to it. */
  start(...extraArguments: unknown[]): P | Promise<P>;
  /** Default `'permanent'`. */
  readonly restart?: Restart;
  /** Default 5000 for workers, `'infinity'` for supervisors. */
  readonly shutdown?: Shutdown;
  /** Default `'worker'`. */
  readonly type?: ChildType;
}

type Request =
  | typeof WHICH
  | typeof COUNT
  | { readonly op: 'start'; readonly spec: NormalizedSpec }
  | { readonly op: 'terminate'; readonly pid: Pid };

interface InitArgs {
  readonly maxChildren: number;
  readonly maxRestarts: number;
  readonly maxSeconds: number;
  readonly extraArguments: readonly unknown[];
}

class State {
  readonly children = new Map<Pid, NormalizedSpec>();
  /** Children whose restart failed; a RetryRestart for each is in the mailbox. */
  readonly restarting = new Set<NormalizedSpec>();
  readonly noreply: NoReplyResult<State> = { noreply: true, state: this };
  readonly lifecycle: Lifecycle;

  constructor(readonly args: InitArgs) {
    this.lifecycle = new Lifecycle(args.maxRestarts, args.maxSeconds);
  }
}

function started(state: State, spec: NormalizedSpec, result: StartedChild | StartError): CallResult<State, StartedChild | StartError> {
  if (result instanceof Pid) state.children.set(result, spec);
  return { reply: result, state };
}

function startNewChild(state: State, spec: NormalizedSpec): CallResult<State, unknown> | Promise<CallResult<State, unknown>> {
  const { maxChildren } = state.args;
  if (state.children.size + state.restarting.size >= maxChildren) {
    const refused = new StartError(`DynamicSupervisor ${String(self())} already has its maxChildren (${maxChildren}) children; startChild refused`, 'max_children');
    return { reply: refused, state };
  }
  const result = runStart(spec, state.args.extraArguments);
  return isPromise(result) ? result.then((r) => started(state, spec, r)) : started(state, spec, result);
}

/** A cast: adopt a running process, or tell `refused` that the supervisor is full. */
class Adopt {
  constructor(
    readonly pid: Pid,
    readonly spec: NormalizedSpec,
    readonly refused: (pid: Pid) => void,
  ) {}
}

function adoptChildNow(state: State, req: Adopt): NoReplyResult<State> {
  if (state.children.size + state.restarting.size >= state.args.maxChildren) {
    req.refused(req.pid);
    return state.noreply;
  }
  // A process that ended before it was adopted (a connection closed at once) was never
  // a child: linking it would bring an EXIT 'noproc' and a child_terminated report for it.
  if (!isAlive(req.pid)) return state.noreply;
  // Linking from inside the supervisor makes it the child's parent.
  link(req.pid);
  state.children.set(req.pid, req.spec);
  return state.noreply;
}

function terminateByPid(state: State, pid: Pid): CallResult<State, unknown> | Promise<CallResult<State, unknown>> {
  const spec = state.children.get(pid);
  if (spec === undefined) {
    const refused = new SupervisorError(`terminateChild: ${String(pid)} is not a child of DynamicSupervisor ${String(self())} (not_found)`, 'not_found');
    return { reply: refused, state };
  }
  state.children.delete(pid);
  return shutdownChild(pid, spec).then(() => ({ reply: undefined, state }));
}

function restarted(state: State, spec: NormalizedSpec, result: StartedChild | StartError, reason: ExitReason): NoReplyResult<State> {
  if (result instanceof StartError) {
    reportEvent('start_error', spec, undefined, result.reason);
    state.restarting.add(spec);
    send(self(), new RetryRestart(spec, reason));
    return state.noreply;
  }
  if (result !== undefined) state.children.set(result, spec);
  reportEvent('child_restarted', spec, result, reason);
  state.lifecycle.restarted();
  return state.noreply;
}

function restart(state: State, spec: NormalizedSpec, reason: ExitReason): NoReplyResult<State> | Promise<NoReplyResult<State>> {
  if (!state.lifecycle.restart()) {
    reportEvent('reached_max_restart_intensity', spec, undefined, reason);
    return { stop: 'shutdown', state };
  }
  const result = runStart(spec, state.args.extraArguments);
  return isPromise(result) ? result.then((r) => restarted(state, spec, r, reason)) : restarted(state, spec, result, reason);
}

const dynamicSupervisorImpl = {
  name: 'DynamicSupervisor',

  init(args: InitArgs): InitOk<State> {
    const state = new State(args);
    state.lifecycle.started();
    return { ok: state };
  },

  handleCast(req: unknown, state: State): NoReplyResult<State> {
    return req instanceof Adopt ? adoptChildNow(state, req) : state.noreply;
  },

  handleCall(req: Request, _from: unknown, state: State): CallResult<State, unknown> | Promise<CallResult<State, unknown>> {
    switch (req.op) {
      case 'start':
        return startNewChild(state, req.spec);
      case 'terminate':
        return terminateByPid(state, req.pid);
      case 'which': {
        const rows: ChildInfo[] = [];
        for (const [pid, spec] of state.children) rows.push({ id: spec.id, pid, type: spec.type, restart: spec.restart });
        for (const spec of state.restarting) rows.push({ id: spec.id, pid: 'restarting', type: spec.type, restart: spec.restart });
        return { reply: rows, state };
      }
      case 'count':
        return { reply: tallyChildren([...state.children.values(), ...state.restarting], state.children.size), state };
    }
  },

  handleInfo(msg: unknown, state: State): NoReplyResult<State> | Promise<NoReplyResult<State>> {
    if (msg instanceof RetryRestart) {
      const spec = msg.child as NormalizedSpec;
      if (!state.restarting.delete(spec)) return state.noreply;
      return restart(state, spec, msg.reason);
    }
    if (!isExit(msg)) return state.noreply;
    const spec = state.children.get(msg.from);
    if (spec === undefined) return state.noreply;
    state.children.delete(msg.from);
    if (!isQuietReason(msg.reason)) reportEvent('child_terminated', spec, msg.from, msg.reason);
    if (!shouldRestart(spec.restart, msg.reason)) return state.noreply;
    return restart(state, spec, msg.reason);
  },

  async terminate(_reason: ExitReason, state: State): Promise<void> {
    state.lifecycle.shutdown();
    const stopping: Promise<void>[] = [];
    for (const [pid, spec] of state.children) stopping.push(shutdownChild(pid, spec));
    state.children.clear();
    state.restarting.clear();
    await Promise.all(stopping);
    state.lifecycle.terminated();
  },

  describe(state: State): Record<string, unknown> {
    return {
      strategy: 'one_for_one',
      children: state.children.size,
      maxChildren: state.args.maxChildren,
      restarts: state.lifecycle.restartsInWindow(),
      lifecycle: state.lifecycle.state,
    };
  },
} satisfies GenServerImpl<State, Request, unknown, never, unknown, InitArgs>;

const OPTION_KEYS: readonly string[] = ['maxChildren', 'maxRestarts', 'maxSeconds', 'name', 'extraArguments'];

function prepare(opts: DynamicSupervisorOptions | undefined, where: string): InitArgs {
  const o = validateSupervisorOptions(opts ?? {}, where, OPTION_KEYS);
  const maxChildren = o.maxChildren ?? Infinity;
  if (!(maxChildren === Infinity || (Number.isInteger(maxChildren) && (maxChildren as number) >= 0))) {
    throw new TypeError(`${where}: option 'maxChildren' must be a non-negative integer or Infinity, got ${formatTerm(maxChildren)}`);
  }
  const extraArguments = o.extraArguments ?? [];
  if (!Array.isArray(extraArguments)) throw new TypeError(`${where}: option 'extraArguments' must be an array, got ${formatTerm(extraArguments)}`);
  return {
    maxChildren: maxChildren as number,
    maxRestarts: opts?.maxRestarts ?? 3,
    maxSeconds: opts?.maxSeconds ?? 5,
    extraArguments: [...(extraArguments as unknown[])],
  };
}

function serverOptions(opts: DynamicSupervisorOptions | undefined): { name: string | undefined; trapExit: true; kind: string; timeout: number } {
  return { name: opts?.name, trapExit: true, kind: 'supervisor', timeout: Infinity };
}

/**
 * Starts an empty DynamicSupervisor (not linked to the caller). Resolves to its
 * pid. Throws `TypeError` at once for a bad option.
 *
 * @example
 * const connections = await DynamicSupervisor.start({ name: 'connections', maxChildren: 10_000 });
 */
export function start(opts?: DynamicSupervisorOptions): Promise<Pid> {
  return startTopLevel(dynamicSupervisorImpl, prepare(opts, 'DynamicSupervisor.start'), serverOptions(opts));
}

/**
 * Like `start`, linked to the calling process, which becomes its parent (an EXIT
 * from it shuts the children down and stops the supervisor). Throws outside a process.
 *
 * @example
 * { id: 'connections', type: 'supervisor', start: () => DynamicSupervisor.startLink({ maxChildren: 10_000 }) }
 */
export function startLink(opts?: DynamicSupervisorOptions): Promise<Pid> {
  return startServerLinked(dynamicSupervisorImpl, prepare(opts, 'DynamicSupervisor.startLink'), serverOptions(opts));
}

/**
 * Starts a child under the supervisor; its `start` runs inside the supervisor with
 * the `extraArguments` first. Resolves to the child's pid (`undefined` if its
 * start ignored it). Rejects with `StartError` whose `reason` is `'max_children'`
 * when the supervisor is full, or the child's failure. Throws `TypeError` for a
 * bad spec.
 *
 * @example
 * const pid = await DynamicSupervisor.startChild('connections', {
 *   start: () => spawnLink(handle),
 *   restart: 'temporary',
 * });
 */
export function startChild<P extends StartedChild>(sup: Pid | string, spec: DynamicChildSpec<P>): Promise<P> {
  return request<P>(sup, { op: 'start', spec: normalizeSpec(spec, 'DynamicSupervisor.startChild', false) });
}

/**
 * @internal validates a child spec once, for `adoptChild` calls that share it.
 */
export function prepareChildSpec(spec: DynamicChildSpec): NormalizedSpec {
  return normalizeSpec(spec, 'DynamicSupervisor.adoptChild', false);
}

/**
 * @internal makes a process that is already running a child of the supervisor (it
 * links it from inside), as if `startChild` had started it; `spec` should say
 * `restart: 'temporary'`, since its `start` is never called. A cast, not a call:
 * nothing waits; when the supervisor is at `maxChildren` it runs `refused(pid)`
 * (inside the supervisor) instead. One spec and one `refused` may serve every
 * adopted child. A process that has already exited when the supervisor gets to it
 * is skipped without a report.
 */
export function adoptChild(sup: Pid | string, pid: Pid, spec: NormalizedSpec, refused: (pid: Pid) => void): void {
  cast(sup, new Adopt(pid, spec, refused));
}

/**
 * Stops a child as its `shutdown` says and forgets it. Resolves once it has
 * exited. Rejects with `SupervisorError` `'not_found'` if `pid` is not a child.
 *
 * @example
 * await DynamicSupervisor.terminateChild(sup, pid);
 */
export function terminateChild(sup: Pid | string, pid: Pid): Promise<void> {
  if (!(pid instanceof Pid)) throw new TypeError(`DynamicSupervisor.terminateChild: pid must be a Pid, got ${formatTerm(pid)}`);
  return request<void>(sup, { op: 'terminate', pid });
}

/**
 * The DynamicSupervisor API in one namespace. `whichChildren`, `countChildren`
 * and `stop` are the Supervisor ones (rows have `id: undefined` unless the spec
 * gave one); `stop` shuts all children down concurrently.
 *
 * @example
 * const sup = await DynamicSupervisor.start({ maxChildren: 100 });
 * await DynamicSupervisor.startChild(sup, { start: () => spawnLink(work), restart: 'temporary' });
 * await DynamicSupervisor.countChildren(sup); // { specs: 1, active: 1, supervisors: 0, workers: 1 }
 */
export const DynamicSupervisor = Object.freeze({ start, startLink, startChild, terminateChild, whichChildren, countChildren, stop });
