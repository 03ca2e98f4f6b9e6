/**
 * GenServer: a process that holds state and answers calls, casts and plain
 * messages through callbacks, with the semantics of Elixir's GenServer.
 *
 * The server is an ordinary process (kind `'gen_server'`) whose receive function
 * dispatches three internal envelopes (call, cast, stop) and hands everything else
 * to `handleInfo`. A call does not block the event loop: the caller gets a promise,
 * the envelope carries a `From` that settles it, and a runtime watcher on the
 * server rejects it if the server exits first. Calls therefore work from plain code
 * outside any process as well as from inside one.
 *
 * Callback results are plain objects (`{ reply, state }`, `{ noreply: true, state }`,
 * `{ stop, state }`), typed as unions; object literals read well enough that there
 * are no helper constructors.
 */
import { Pid, Ref, makeRef, nodeName } from './pid.js';
import { ExitSignal, offExit, onExit, procOf, remoteRouter, requireSelf, rootPid, send, spawn, type RemoteName, type SpawnOptions } from './process-core.js';
import { exit, spawnLink } from './links.js';
import { unwatch, watch } from './monitors.js';
import { globalHolder, whereis, type GlobalName } from './names.js';
import { hibernate } from './policies.js';
import { isAlive, setDescribe } from './introspection.js';
import type { Proc } from './proc.js';
import { currentProc } from './scheduler.js';
import { formatReason, formatTerm, isErrorReason, isExit, type ExitReason } from './reasons.js';
import { rejectUnknownOptions } from './options.js';

/** `init` succeeded: the server runs with this state. */
export interface InitOk<State> {
  readonly ok: State;
  readonly hibernate?: boolean;
}

/** `init` (or a handler) asks the server to stop with this reason. */
export interface InitStop {
  readonly stop: ExitReason;
}

/** `init` declines to start: the process exits `'normal'` and `start` resolves to `undefined`. */
export interface InitIgnore {
  readonly ignore: true;
}

/** What `init` returns. */
export type InitResult<State> = InitOk<State> | InitStop | InitIgnore;

/** Keep running with `state`; `hibernate: true` releases buffers until the next message. */
export interface NoReply<State> {
  readonly noreply: true;
  readonly state: State;
  readonly hibernate?: boolean;
}

/** Stop with `reason` after running `terminate(reason, state)`. */
export interface Stop<State> {
  readonly stop: ExitReason;
  readonly state: State;
}

/** Answer the caller with `reply` and keep running with `state`. */
export interface Reply<State, CallReply> {
  readonly reply: CallReply;
  readonly state: State;
  readonly hibernate?: boolean;
}

/** Stop, and answer the caller with `reply` once `terminate` has run. */
export interface StopWithReply<State, CallReply> extends Stop<State> {
  readonly reply: CallReply;
}

/** What `handleCall` returns. With `noreply`, answer later with `reply(from, value)`. */
export type CallResult<State, CallReply> =
  | Reply<State, CallReply>
  | NoReply<State>
  | Stop<State>
  | StopWithReply<State, CallReply>;

/** What `handleCast` and `handleInfo` return. */
export type NoReplyResult<State> = NoReply<State> | Stop<State>;

/** A callback's return: the value, or a promise of it. */
export type MaybePromise<T> = T | PromiseLike<T>;

/**
 * The callbacks of a GenServer. Only `init` is required. A missing `handleInfo`
 * ignores plain messages; a missing `handleCall` or `handleCast` crashes the server
 * when a call or cast arrives, with an error that says so.
 *
 * Declare an impl with `satisfies GenServerImpl<...>` rather than a type annotation:
 * the literal type of `init`'s result then tells `start` whether it can resolve to
 * `undefined` (see `Started`).
 *
 * @example
 * const counter = {
 *   name: 'Counter',
 *   init: (start: number) => ({ ok: start }),
 *   handleCall: (req: 'get', _from: From, n: number) => ({ reply: n, state: n }),
 *   handleCast: (by: number, n: number) => ({ noreply: true, state: n + by }),
 * } satisfies GenServerImpl<number, 'get', number, number, unknown, number>;
 */
export interface GenServerImpl<State, Call = never, CallReply = unknown, Cast = never, Info = unknown, Args = undefined> {
  /** Shown by `processInfo(pid).details.module` and in error messages. Default `'GenServer'`. */
  readonly name?: string;
  /** Runs inside the new process before `start` resolves; may be async (messages wait). */
  init(args: Args): MaybePromise<InitResult<State>>;
  handleCall?(request: Call, from: From, state: State): MaybePromise<CallResult<State, CallReply>>;
  handleCast?(msg: Cast, state: State): MaybePromise<NoReplyResult<State>>;
  /** Every message that is not a call, cast or stop, including EXIT messages from non-parents and DOWN messages. */
  handleInfo?(msg: Info, state: State): MaybePromise<NoReplyResult<State>>;
  /**
   * Runs when a callback returns stop, when a callback throws (with `{ error }`), on
   * `stop(pid)`, and on an EXIT from the parent while trapping exits. It does not
   * run when the process is killed or dies from a link without trapping.
   */
  terminate?(reason: ExitReason, state: State): unknown;
  /** Extra details for `processInfo(pid).details`, like Elixir's `format_status`. */
  describe?(state: State): Record<string, unknown>;
}

/** Any GenServer impl: the constraint of `start` and `startLink`. */
export type AnyGenServerImpl = GenServerImpl<unknown, never, unknown, never, never, never>;

/** What `start` and `startLink` resolve to: `Pid`, or `Pid | undefined` when the impl's `init` may return `{ ignore: true }`. */
export type Started<I extends AnyGenServerImpl> = InitIgnore extends Awaited<ReturnType<I['init']>> ? Pid | undefined : Pid;

/** The arguments `init` takes. */
export type InitArgs<I extends AnyGenServerImpl> = Parameters<I['init']>[0];

/** Options for `start` and `startLink`. */
export interface GenServerOptions {
  /** Registers the server under this name, so `call('name', ...)` finds it. */
  readonly name?: string;
  /** Milliseconds `init` may take (default 5000, `Infinity` waits forever); then the process is killed and start rejects. */
  readonly timeout?: number;
  /** Trap exits from the start (see `trapExit`). */
  readonly trapExit?: boolean;
  /** As in `spawn`. */
  readonly maxHeapSize?: SpawnOptions['maxHeapSize'];
  /** As in `spawn`. */
  readonly fullsweepAfter?: number;
  /** The `processInfo(pid).kind` label. Default `'gen_server'`. */
  readonly kind?: string;
}

const OPTION_KEYS: readonly string[] = ['name', 'timeout', 'trapExit', 'maxHeapSize', 'fullsweepAfter', 'kind'];
const DEFAULT_INIT_TIMEOUT = 5000;
const DEFAULT_CALL_TIMEOUT = 5000;

/**
 * A call, cast or stop that failed. `reason` is `'timeout'`, `'noproc'` (the server
 * was not alive or the name not registered), `'calling_self'`, or the exit reason of
 * a server that ended before it replied.
 */
export class CallError extends Error {
  readonly reason: ExitReason;
  /** @internal */
  constructor(message: string, reason: ExitReason) {
    super(message, isErrorReason(reason) ? { cause: reason.error } : undefined);
    this.name = 'CallError';
    this.reason = reason;
  }
}

/**
 * A process that did not start. `reason` is the exit reason of a failed `init`
 * (`{ error }` when it threw, the reason of `{ stop }`), `'timeout'`, or
 * `{ alreadyStarted: pid }` when the name was taken; supervisors use it too
 * (`'max_children'`, a child's start failure).
 */
export class StartError extends Error {
  readonly reason: ExitReason;
  /** @internal */
  constructor(message: string, reason: ExitReason) {
    super(message, isErrorReason(reason) ? { cause: reason.error } : undefined);
    this.name = 'StartError';
    this.reason = reason;
  }
}

type Settle = (ok: boolean, value: unknown) => void;

/**
 * Who is waiting for a call's reply: the caller's pid (`rootPid()` for code outside
 * any process) and a unique ref. Pass it to `reply` to answer later.
 */
export class From {
  readonly pid: Pid;
  readonly ref: Ref;
  #settle: Settle | null;

  /** @internal `call` creates these. */
  constructor(pid: Pid, ref: Ref, settle: Settle) {
    this.pid = pid;
    this.ref = ref;
    this.#settle = settle;
  }

  /** @internal settles the caller's promise once; later settles and cancelled calls do nothing. */
  static settle(from: From, ok: boolean, value: unknown): void {
    const settle = from.#settle;
    if (settle === null) return;
    from.#settle = null;
    settle(ok, value);
  }

  /** @internal the caller is gone: nothing will be settled any more. */
  static cancel(from: From): void {
    from.#settle = null;
  }

  toString(): string {
    return `{${String(this.pid)}, ${String(this.ref)}}`;
  }
}

/** A call as it crosses to another node: plain data the cluster codec carries. */
interface WireCall {
  readonly $genCall: Ref;
  readonly from: Pid;
  readonly request: unknown;
}

function isWireCall(msg: unknown): msg is WireCall {
  return typeof msg === 'object' && msg !== null && (msg as Partial<WireCall>).$genCall instanceof Ref && (msg as Partial<WireCall>).from instanceof Pid;
}

// Calls waiting for a reply from another node, by ref: the reply comes back through the cluster.
const remoteCalls = new Map<Ref, From>();

/** @internal the cluster hands in the reply to a call this node made to another node. */
export function remoteReply(ref: Ref, ok: boolean, value: unknown): void {
  const from = remoteCalls.get(ref);
  if (from === undefined) return;
  remoteCalls.delete(ref);
  From.settle(from, ok, ok ? value : new CallError(`call failed on the other node: ${String(value)}`, { error: value }));
}

class CallMsg {
  constructor(
    readonly from: From,
    readonly request: unknown,
  ) {}
  toString(): string {
    return `{call, ${formatTerm(this.request)}}`;
  }
}

class CastMsg {
  constructor(readonly msg: unknown) {}
  toString(): string {
    return `{cast, ${formatTerm(this.msg)}}`;
  }
}

class StopMsg {
  constructor(readonly reason: ExitReason) {}
  toString(): string {
    return `{stop, ${formatReason(this.reason)}}`;
  }
}

/** @internal true for a promise or any thenable a callback may return. */
export function isPromise(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

function badReturn(label: string, callback: string, value: unknown, expected: string): Error {
  return new Error(`${label} ${callback} returned ${formatTerm(value)}; expected ${expected}`);
}

const CALL = 0;
const CAST = 1;
const INFO = 2;
type Kind = typeof CALL | typeof CAST | typeof INFO;

/** The running server: its impl, state, and parent. One per GenServer process. */
class Server {
  state: unknown = undefined;
  pid: Pid | undefined = undefined;
  started: ((running: boolean) => void) | undefined = undefined;
  readonly label: string;

  /**
   * EXIT from this pid, while trapping, stops the server: the startLink caller; for
   * start, the server itself (as in OTP, so no EXIT ever is), or rootPid() for a
   * top-level supervisor.
   */
  parent: Pid | undefined;

  constructor(
    readonly impl: AnyGenServerImpl,
    parent: Pid | undefined,
  ) {
    this.parent = parent;
    this.label = impl.name ?? 'GenServer';
  }

  init(args: unknown): unknown {
    const result: unknown = this.impl.init(args as never);
    return isPromise(result) ? result.then((r) => this.afterInit(r)) : this.afterInit(result);
  }

  private afterInit(r: unknown): void {
    const res = r as Partial<InitOk<unknown> & InitStop & InitIgnore> | null;
    if (typeof res === 'object' && res !== null) {
      if ('ok' in res) {
        this.state = res.ok;
        this.started?.(true);
        if (res.hibernate === true) hibernate();
        return;
      }
      if ('stop' in res) throw new ExitSignal(res.stop as ExitReason);
      if (res.ignore === true) {
        this.started?.(false);
        throw new ExitSignal('normal');
      }
    }
    throw badReturn(this.label, 'init', r, '{ ok: state }, { stop: reason } or { ignore: true }');
  }

  /** The process's receive function. */
  handle(msg: unknown): unknown {
    const impl = this.impl as GenServerImpl<unknown, unknown, unknown, unknown, unknown, unknown>;
    // Outside the try: their ExitSignal must reach the core, not crash().
    if (msg instanceof StopMsg) return this.stop(msg.reason, undefined, undefined);
    if (isExit(msg) && msg.from === this.parent) return this.stop(msg.reason, undefined, undefined);
    let result: unknown;
    let kind: Kind;
    let from: From | undefined;
    if (isWireCall(msg)) {
      const { $genCall: ref, from: caller } = msg;
      msg = new CallMsg(new From(caller, ref, (ok, value) => remoteRouter()?.reply(caller, ref, ok, value)), msg.request);
    }
    try {
      if (msg instanceof CallMsg) {
        if (impl.handleCall === undefined) {
          throw new Error(`${this.label} received a call (${formatTerm(msg.request)}) but does not implement handleCall`);
        }
        kind = CALL;
        from = msg.from;
        result = impl.handleCall(msg.request, msg.from, this.state);
      } else if (msg instanceof CastMsg) {
        if (impl.handleCast === undefined) {
          throw new Error(`${this.label} received a cast (${formatTerm(msg.msg)}) but does not implement handleCast`);
        }
        kind = CAST;
        result = impl.handleCast(msg.msg, this.state);
      } else {
        if (impl.handleInfo === undefined) return undefined;
        kind = INFO;
        result = impl.handleInfo(msg, this.state);
      }
    } catch (err) {
      return this.crash(err);
    }
    if (isPromise(result)) {
      return result.then(
        (r) => this.apply(r, kind, from),
        (err: unknown) => this.crash(err),
      );
    }
    return this.apply(result, kind, from);
  }

  private apply(r: unknown, kind: Kind, from: From | undefined): unknown {
    // A server killed while its callback awaited runs nothing more, as on the BEAM.
    if (!isAlive(this.pid as Pid)) return undefined;
    const res = r as Partial<StopWithReply<unknown, unknown> & NoReply<unknown>> | null;
    if (typeof res === 'object' && res !== null) {
      if ('stop' in res) {
        this.state = res.state;
        const answer = kind === CALL && 'reply' in res;
        return this.stop(res.stop as ExitReason, answer ? from : undefined, res.reply);
      }
      if (kind === CALL && 'reply' in res) {
        this.state = res.state;
        From.settle(from as From, true, res.reply);
      } else if (res.noreply === true) {
        this.state = res.state;
      } else {
        return this.crash(this.badResult(kind, r));
      }
      if (res.hibernate === true) hibernate();
      return undefined;
    }
    return this.crash(this.badResult(kind, r));
  }

  private badResult(kind: Kind, r: unknown): Error {
    if (kind === CALL) {
      return badReturn(this.label, 'handleCall', r, '{ reply, state }, { noreply: true, state } or { stop, state }');
    }
    return badReturn(this.label, kind === CAST ? 'handleCast' : 'handleInfo', r, '{ noreply: true, state } or { stop, state }');
  }

  /** Runs terminate, answers a pending stop-with-reply (after terminate, as OTP does), then exits with `reason`. */
  private stop(reason: ExitReason, from: From | undefined, value: unknown): unknown {
    return this.terminate(reason, () => {
      if (from !== undefined) From.settle(from, true, value);
      throw new ExitSignal(reason);
    });
  }

  /** A callback threw: terminate sees `{ error }` (or the `exit(reason)` reason), then the throw goes on to the core, which reports the crash. */
  private crash(err: unknown): unknown {
    if (!isAlive(this.pid as Pid)) return undefined;
    const reason = err instanceof ExitSignal ? err.reason : { error: err };
    return this.terminate(reason, () => {
      throw err;
    });
  }

  private terminate(reason: ExitReason, then: () => never): unknown {
    const terminate = this.impl.terminate;
    if (terminate === undefined) return then();
    const done = terminate.call(this.impl, reason, this.state);
    return isPromise(done) ? done.then(then) : then();
  }

  describe(): Record<string, unknown> {
    const extra = this.impl.describe?.(this.state);
    return extra === undefined ? { module: this.label } : { module: this.label, ...extra };
  }
}

function validateOptions(opts: GenServerOptions | undefined, where: string): void {
  if (opts === undefined) return;
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`${where}: options must be an object, got ${String(opts)}`);
  rejectUnknownOptions(opts, OPTION_KEYS, `${where} options`);
  const t = opts.timeout;
  if (t !== undefined && !(typeof t === 'number' && t >= 0 && !Number.isNaN(t))) {
    throw new TypeError(`${where}: option 'timeout' must be a non-negative number of milliseconds or Infinity, got ${String(t)}`);
  }
}

/** Who a server's parent is: the caller it is linked to, itself (unlinked), or the root (a top-level supervisor). */
type Parent = 'caller' | 'self' | 'root';

function startServer(impl: AnyGenServerImpl, args: unknown, opts: GenServerOptions | undefined, parentIs: Parent): Promise<Pid | undefined> {
  const linked = parentIs === 'caller';
  const where = linked ? 'GenServer.startLink' : 'GenServer.start';
  if (typeof impl !== 'object' || impl === null || typeof impl.init !== 'function') {
    throw new TypeError(`${where}: the impl must be an object with an init function, got ${formatTerm(impl)}`);
  }
  validateOptions(opts, where);
  const server = new Server(impl, linked ? requireSelf(where).pid : parentIs === 'root' ? rootPid() : undefined);
  const name = opts?.name;
  const holder = name === undefined ? undefined : whereis(name);
  if (holder !== undefined) {
    return Promise.reject(new StartError(`${server.label} could not start: the name '${String(name)}' is already registered to ${String(holder)}`, { alreadyStarted: holder }));
  }
  const spawnOpts: SpawnOptions = {
    kind: opts?.kind ?? 'gen_server',
    name,
    trapExit: opts?.trapExit,
    maxHeapSize: opts?.maxHeapSize,
    fullsweepAfter: opts?.fullsweepAfter,
    init: () => server.init(args),
  };
  const receive = (msg: unknown): unknown => server.handle(msg);
  // Spawned outside the promise executor so that a bad spawn option throws to the caller.
  const pid = linked ? spawnLink(receive, spawnOpts) : spawn(receive, spawnOpts);
  server.pid = pid;
  server.parent ??= pid;
  setDescribe(procOf(pid) as Proc, () => server.describe());
  const timeout = opts?.timeout ?? DEFAULT_INIT_TIMEOUT;
  return new Promise<Pid | undefined>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      unwatch(pid, watchRef);
      server.started = undefined;
    };
    const watchRef = watch(pid, (_pid, reason) => {
      done();
      reject(new StartError(`${server.label} ${String(pid)} failed to start: ${formatReason(reason)}`, reason));
    }) as Ref;
    server.started = (running) => {
      done();
      resolve(running ? pid : undefined);
    };
    if (timeout !== Infinity) {
      timer = setTimeout(() => {
        done();
        reject(new StartError(`${server.label} ${String(pid)} failed to start: init did not finish within ${timeout} ms`, 'timeout'));
        exit(pid, 'kill');
      }, timeout);
    }
  });
}

/**
 * Starts a GenServer (not linked to the caller; callable from anywhere). Resolves
 * to its pid once `init` has finished, or to `undefined` if `init` returned
 * `{ ignore: true }`. Rejects with `StartError` if `init` throws, returns a stop,
 * times out, or the name is taken; the process then exits with that reason.
 * Throws `TypeError` at once for a bad impl or option. As in OTP, an unlinked
 * server is its own parent: while it traps exits, `exit(pid, reason)` from anyone
 * reaches `handleInfo` as an EXIT message; stop it with `stop(pid)`.
 *
 * @example
 * const pid = await GenServer.start(counter, 0, { name: 'counter' });
 * await call(pid, 'get'); // 0
 */
export function start<I extends AnyGenServerImpl>(impl: I, args: InitArgs<I>, opts?: GenServerOptions): Promise<Started<I>> {
  return startServer(impl, args, opts, 'self') as Promise<Started<I>>;
}

/**
 * @internal `start` for a top-level supervisor: code outside any process is its
 * parent, so `exit(sup, 'shutdown')` from plain code shuts it down, children first,
 * as an application's master would.
 */
export function startTopLevel(impl: AnyGenServerImpl, args: unknown, opts: GenServerOptions): Promise<Pid> {
  return startServer(impl, args, opts, 'root') as Promise<Pid>;
}

/**
 * Like `start`, and links the server to the calling process, which becomes its
 * parent: while the server traps exits, an EXIT from the parent runs `terminate`
 * and stops it with the parent's reason. Throws if called outside a process. If
 * `init` fails, the server exits with that reason, which reaches the caller
 * through the link too.
 *
 * @example
 * // inside a process (a supervisor's child start function):
 * const pid = await GenServer.startLink(counter, 0);
 */
export function startLink<I extends AnyGenServerImpl>(impl: I, args: InitArgs<I>, opts?: GenServerOptions): Promise<Started<I>> {
  return startServer(impl, args, opts, 'caller') as Promise<Started<I>>;
}

/**
 * Where `call` may go: a pid, a local name, a name on a node, or a global name.
 *
 * @example
 * const dest: CallDest = { name: 'counter', node: 'b' };
 * await GenServer.call(dest, 'get');
 */
export type CallDest = Pid | string | RemoteName | GlobalName;

function resolveDest(dest: CallDest): Pid | undefined {
  if (dest instanceof Pid) return dest;
  if (typeof dest === 'string') return whereis(dest);
  if ('global' in dest) return globalHolder(dest.global);
  return whereis(dest.name);
}

function destLabel(dest: CallDest, pid: Pid | undefined): string {
  if (dest instanceof Pid) return String(dest);
  const name = typeof dest === 'string' ? `'${dest}'` : 'global' in dest ? `global '${dest.global}'` : `'${dest.name}' on ${dest.node}`;
  return pid === undefined ? name : `${name} (${String(pid)})`;
}

function noprocError(op: string, dest: CallDest): CallError {
  const why = dest instanceof Pid ? 'the process is not alive' : 'no process is registered under that name';
  return new CallError(`${op} ${destLabel(dest, undefined)} failed: noproc (${why})`, 'noproc');
}

function checkTimeout(where: string, ms: number): void {
  if (!(typeof ms === 'number' && ms >= 0 && !Number.isNaN(ms))) {
    throw new TypeError(`${where}: timeoutMs must be a non-negative number or Infinity, got ${String(ms)}`);
  }
}

/**
 * Sends `request` to a GenServer and waits for its reply. Works inside a process
 * (its mailbox waits meanwhile, like a blocking call on the BEAM) and from plain
 * code. Rejects with `CallError`: `'timeout'` after `timeoutMs` (default 5000;
 * `Infinity` waits forever), `'noproc'` at once if the server is not alive or the
 * name is not registered, `'calling_self'` from the server itself, or the server's
 * exit reason if it exits before replying. A reply after the timeout is dropped.
 * Throws `TypeError` for a bad `timeoutMs`. In a cluster, `{ name, node }` calls the
 * name registered on that node (looked up there first: one more round trip, within
 * `timeoutMs`) and `{ global: name }` the holder of a global name.
 *
 * @example
 * const n = await call<number>(counter, 'get');
 * await call('counter', 'get', 100); // a registered name, 100 ms timeout
 * await call({ name: 'counter', node: 'chat-2' }, 'get'); // a name on another node
 */
export function call<R = unknown>(dest: CallDest, request: unknown, timeoutMs: number = DEFAULT_CALL_TIMEOUT): Promise<R> {
  checkTimeout('call', timeoutMs);
  if (typeof dest === 'object' && !(dest instanceof Pid) && 'node' in dest && dest.node !== nodeName()) {
    const router = remoteRouter();
    if (router === null) return Promise.reject(noprocError('call to', dest));
    const started = Date.now();
    return new Promise<Pid | undefined>((resolve, reject) => {
      const timer = timeoutMs === Infinity ? undefined : setTimeout(() => reject(new CallError(`call to ${destLabel(dest, undefined)} timed out after ${timeoutMs} ms`, 'timeout')), timeoutMs);
      void router.whereis(dest.name, dest.node).then((pid) => {
        clearTimeout(timer);
        resolve(pid);
      });
    }).then((pid) => {
      if (pid === undefined) throw noprocError('call to', dest);
      return call<R>(pid, request, Math.max(0, timeoutMs - (Date.now() - started)));
    });
  }
  const pid = resolveDest(dest);
  if (pid === undefined) return Promise.reject(noprocError('call to', dest));
  const caller = currentProc();
  if (caller !== null && caller.pid === pid) {
    return Promise.reject(new CallError(`call to ${destLabel(dest, pid)} failed: calling_self (a process cannot wait for its own reply)`, 'calling_self'));
  }
  const remoteCall = pid.node !== nodeName();
  return new Promise<R>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let onCallerExit: (() => void) | undefined;
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      if (remoteCall) remoteCalls.delete(from.ref);
      if (watchRef !== undefined) unwatch(pid, watchRef);
      if (onCallerExit !== undefined && caller !== null) offExit(caller, onCallerExit);
    };
    const from = new From(caller?.pid ?? rootPid(), makeRef(), (ok, value) => {
      cleanup();
      if (ok) resolve(value as R);
      else reject(value);
    });
    const watchRef = watch(pid, (_pid, reason) => {
      From.settle(from, false, new CallError(`call to ${destLabel(dest, pid)} failed: the process exited with ${formatReason(reason)}`, reason));
    });
    if (watchRef === undefined) {
      From.settle(from, false, noprocError('call to', dest));
      return;
    }
    if (timeoutMs !== Infinity) {
      timer = setTimeout(() => {
        From.settle(from, false, new CallError(`call to ${destLabel(dest, pid)} timed out after ${timeoutMs} ms`, 'timeout'));
      }, timeoutMs);
    }
    if (caller !== null) {
      // A caller that dies stops waiting: its timer and watcher go with it, and its code after the await never runs.
      onCallerExit = () => {
        From.cancel(from);
        cleanup();
      };
      onExit(caller, onCallerExit);
    }
    if (remoteCall) {
      remoteCalls.set(from.ref, from);
      const wire: WireCall = { $genCall: from.ref, from: from.pid, request };
      send(pid, wire);
    } else {
      send(pid, new CallMsg(from, request));
    }
  });
}

/**
 * Sends `msg` to a GenServer's `handleCast` without waiting. A cast to a dead
 * process or a name nobody holds is dropped, as in Elixir; only a `dest` that is
 * neither a pid nor a string throws (`TypeError`).
 *
 * @example
 * cast(counter, 5);
 */
export function cast(dest: Pid | string, msg: unknown): void {
  // As Elixir's cast: a name nobody holds is no error here, unlike send.
  if (typeof dest === 'string' && whereis(dest) === undefined) return;
  send(dest, new CastMsg(msg));
}

/**
 * Answers a call whose `handleCall` returned `{ noreply: true, state }`. Replying
 * twice, or after the caller timed out or exited, does nothing. Throws `TypeError`
 * if `from` is not the `From` a `handleCall` received.
 *
 * @example
 * handleCall: (req, from, s) => ({ noreply: true, state: { ...s, waiting: from } }),
 * handleInfo: (msg, s) => { reply(s.waiting, msg); return { noreply: true, state: s }; },
 */
export function reply(from: From, value: unknown): void {
  if (!(from instanceof From)) throw new TypeError(`reply(from, value): from must be the From a handleCall received, got ${formatTerm(from)}`);
  From.settle(from, true, value);
}

/**
 * Stops a GenServer: it runs `terminate(reason, state)` and exits with `reason`.
 * Resolves once it has exited. Rejects with `CallError`: `'noproc'` if it is not
 * alive, `'calling_self'` from the server itself, `'timeout'` if it has not exited
 * within `timeoutMs` (default `Infinity`; the server is then killed), or the exit
 * reason if it exited with another one (say `terminate` threw).
 *
 * @example
 * await stop(counter);             // reason 'normal'
 * await stop(counter, 'shutdown', 1000);
 */
export function stop(dest: Pid | string, reason: ExitReason = 'normal', timeoutMs = Infinity): Promise<void> {
  checkTimeout('stop', timeoutMs);
  const pid = resolveDest(dest);
  if (pid === undefined) return Promise.reject(noprocError('stop of', dest));
  if (currentProc()?.pid === pid) {
    return Promise.reject(new CallError(`stop of ${destLabel(dest, pid)} failed: calling_self (a process cannot wait for its own exit)`, 'calling_self'));
  }
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const watchRef = watch(pid, (_pid, exitReason) => {
      if (timer !== undefined) clearTimeout(timer);
      if (exitReason === reason) resolve();
      else reject(new CallError(`stop of ${destLabel(dest, pid)} failed: the process exited with ${formatReason(exitReason)}`, exitReason));
    });
    if (watchRef === undefined) {
      reject(noprocError('stop of', dest));
      return;
    }
    if (timeoutMs !== Infinity) {
      timer = setTimeout(() => {
        unwatch(pid, watchRef);
        reject(new CallError(`stop of ${destLabel(dest, pid)} timed out after ${timeoutMs} ms; the process was killed`, 'timeout'));
        exit(pid, 'kill');
      }, timeoutMs);
    }
    send(pid, new StopMsg(reason));
  });
}

/**
 * The GenServer API in one namespace: `GenServer.start`, `startLink`, `call`,
 * `cast`, `reply`, `stop`.
 *
 * @example
 * const pid = await GenServer.start(counter, 0);
 * GenServer.cast(pid, 1);
 * await GenServer.call(pid, 'get'); // 1
 */
export const GenServer = Object.freeze({ start, startLink, call, cast, reply, stop });
