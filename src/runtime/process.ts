/**
 * Processes: spawn, send, exit signals, links, monitors, names, flags and
 * introspection, with BEAM semantics.
 *
 * A process is a function run once per message, one message at a time, with a
 * FIFO mailbox. Code outside any process may `send`, `exit`, `spawn` and look
 * processes up; `self()`, `link`, `monitor` and `trapExit` need a process.
 */
import { Pid, Ref, intern, makeRef, nodeName, setLiveLookup } from './pid.js';
import { report } from './logger.js';
import {
  BUSY,
  DEAD,
  EXITING,
  HEAP_OVER,
  HIBERNATED,
  Proc,
  SCHEDULED,
  STARTING,
  TRAP_EXIT,
  type ExitHook,
  type ProcOwner,
  type Receive,
  type Watcher,
} from './proc.js';
import { currentProc, ownerReceive, runAs, schedule, senderProc } from './scheduler.js';
import type { DownMessage, ExitMessage, ExitReason } from './reasons.js';

/** Bytes each queued message counts for in `maxHeapSize` (a fixed, documented measure). */
export const QUEUED_MESSAGE_BYTES = 64;

/** `maxHeapSize` as a map, like the BEAM's `max_heap_size` flag. */
export interface MaxHeapSize {
  /** Bytes; 0 turns the limit off. Counted as documented on `processInfo().heapSize`. */
  readonly size: number;
  /** Kill the process (reason `'killed'`) when over. Default true. */
  readonly kill?: boolean;
  /** Emit a `max_heap_size` report when over. Default true. */
  readonly errorLogger?: boolean;
}

/** Options for `spawn`, `spawnLink` and `spawnMonitor`. */
export interface SpawnOptions {
  /** Registers the process under this name (see `register`). */
  readonly name?: string;
  /** Start trapping exits at once (see `trapExit`). */
  readonly trapExit?: boolean;
  /** Bytes, or a map with kill/log actions. See `processInfo().heapSize` for what counts. */
  readonly maxHeapSize?: number | MaxHeapSize;
  /**
   * Accepted for parity with the BEAM and shown by `processInfo`. V8 collects the whole
   * isolate, not one process, so it has no effect on garbage collection.
   */
  readonly fullsweepAfter?: number;
  /** Runs inside the new process before its first message; may be async (messages wait). */
  readonly init?: () => unknown;
  /** A label for `processInfo` and the observer: `'worker'`, `'supervisor'`, `'connection'`, ... */
  readonly kind?: string;
}

/** What `processInfo` returns for a live process. */
export interface ProcessInfo {
  readonly pid: Pid;
  /** `running` (its code runs now, or it awaits a callback), `runnable` (queued to run), `waiting` (no messages), `hibernated`. */
  readonly status: 'running' | 'runnable' | 'waiting' | 'hibernated';
  readonly kind: string;
  readonly registeredName: string | undefined;
  readonly messageQueueLen: number;
  readonly links: Pid[];
  /** Processes this one monitors. */
  readonly monitors: Pid[];
  /** Processes (or runtime watchers, shown as undefined-free pids only) monitoring this one. */
  readonly monitoredBy: Pid[];
  readonly trapExit: boolean;
  /**
   * Bytes held, the measure `maxHeapSize` is checked against: queued messages at
   * `QUEUED_MESSAGE_BYTES` each, plus bytes the process holds outside its mailbox
   * (for a connection: outbound bytes buffered and not yet written to the socket).
   */
  readonly heapSize: number;
  readonly maxHeapSize: { size: number; kill: boolean; errorLogger: boolean };
  readonly fullsweepAfter: number | undefined;
  /** Policy counters: messages handled and messages this process sent. */
  readonly counters: { readonly messagesIn: number; readonly messagesOut: number };
  readonly parent: Pid | undefined;
  /** Kind-specific details (a supervisor's strategy, a connection's peer address, ...). */
  readonly details: Record<string, unknown>;
}

/** Thrown to end the current process with a reason (by `exit(reason)`); not a crash. */
export class ExitSignal {
  constructor(readonly reason: ExitReason) {}
}

const table = new Map<number, Proc>();
const names = new Map<string, Proc>();
let serial = 0;

let root: Pid | undefined;
/** The pid that stands for code running outside any process, as the sender of its exit signals: `#PID<0.0>`. */
export function rootPid(): Pid {
  if (root === undefined || root.node !== nodeName()) root = new Pid(nodeName(), 0, undefined);
  return root;
}

setLiveLookup((s) => table.get(s)?.pid);

type RemoteRouter = {
  send(to: Pid | { name: string; node: string }, msg: unknown): void;
  exit(to: Pid, from: Pid, reason: ExitReason): void;
};
let remote: RemoteRouter | null = null;

/** @internal a cluster transport routes messages for remote pids through this. */
export function setRemoteRouter(router: RemoteRouter | null): void {
  remote = router;
}

function validateSpawnOptions(opts: SpawnOptions): void {
  const known = new Set(['name', 'trapExit', 'maxHeapSize', 'fullsweepAfter', 'init', 'kind']);
  for (const key of Object.keys(opts)) {
    if (!known.has(key)) throw new TypeError(`unknown spawn option '${key}' (expected one of ${[...known].join(', ')})`);
  }
  if (opts.name !== undefined && (typeof opts.name !== 'string' || opts.name === '')) {
    throw new TypeError(`spawn option 'name' must be a non-empty string, got ${String(opts.name)}`);
  }
  if (opts.trapExit !== undefined && typeof opts.trapExit !== 'boolean') {
    throw new TypeError(`spawn option 'trapExit' must be a boolean, got ${String(opts.trapExit)}`);
  }
  if (opts.init !== undefined && typeof opts.init !== 'function') {
    throw new TypeError(`spawn option 'init' must be a function`);
  }
  if (opts.kind !== undefined && typeof opts.kind !== 'string') {
    throw new TypeError(`spawn option 'kind' must be a string`);
  }
  if (opts.maxHeapSize !== undefined) normalizeMaxHeap(opts.maxHeapSize);
  if (opts.fullsweepAfter !== undefined && !(Number.isInteger(opts.fullsweepAfter) && opts.fullsweepAfter >= 0)) {
    throw new TypeError(`spawn option 'fullsweepAfter' must be a non-negative integer, got ${String(opts.fullsweepAfter)}`);
  }
}

function normalizeMaxHeap(value: number | MaxHeapSize): { size: number; kill: boolean; errorLogger: boolean } {
  const m = typeof value === 'number' ? { size: value } : value;
  if (typeof m !== 'object' || m === null || !Number.isInteger(m.size) || m.size < 0) {
    throw new TypeError(`'maxHeapSize' must be a non-negative integer of bytes or { size, kill?, errorLogger? }, got ${JSON.stringify(value)}`);
  }
  for (const key of Object.keys(m)) {
    if (key !== 'size' && key !== 'kill' && key !== 'errorLogger') throw new TypeError(`unknown 'maxHeapSize' key '${key}' (expected size, kill, errorLogger)`);
  }
  if (m.kill !== undefined && typeof m.kill !== 'boolean') throw new TypeError(`'maxHeapSize.kill' must be a boolean`);
  if (m.errorLogger !== undefined && typeof m.errorLogger !== 'boolean') throw new TypeError(`'maxHeapSize.errorLogger' must be a boolean`);
  return { size: m.size, kill: m.kill ?? true, errorLogger: m.errorLogger ?? true };
}

const START = Symbol('start');

function create<M>(receive: (msg: M) => unknown, opts: SpawnOptions | undefined): Proc {
  if (typeof receive !== 'function') throw new TypeError('spawn expects a function that handles one message');
  if (opts !== undefined) validateSpawnOptions(opts);
  const s = ++serial;
  const p = new Proc(undefined as unknown as Pid, receive as Receive, opts?.kind ?? 'worker');
  (p as { pid: Pid }).pid = Pid._local(s, p);
  if (opts !== undefined) {
    if (opts.trapExit === true) p.flags |= TRAP_EXIT;
    if (opts.maxHeapSize !== undefined) setMaxHeap(p, opts.maxHeapSize);
    if (opts.fullsweepAfter !== undefined) p.ext().fullsweepAfter = opts.fullsweepAfter;
    if (opts.name !== undefined) {
      if (names.has(opts.name)) throw new Error(`name '${opts.name}' is already registered to ${String(names.get(opts.name)?.pid)}`);
    }
  }
  table.set(s, p);
  if (opts?.name !== undefined) {
    names.set(opts.name, p);
    p.ext().name = opts.name;
  }
  const init = opts?.init;
  if (init !== undefined) {
    p.receive = ((msg: unknown) => {
      if (msg !== START) throw new Error('internal: first message was not the start marker');
      p.receive = receive as Receive;
      p.lastMessage = undefined;
      p.flags &= ~STARTING;
      p.msgIn--;
      return init();
    }) as Receive;
    p.flags |= STARTING;
    enqueue(p, START);
  }
  return p;
}

function setMaxHeap(p: Proc, value: number | MaxHeapSize): void {
  const m = normalizeMaxHeap(value);
  p.maxHeap = m.size;
  const e = p.ext();
  e.heapKill = m.kill;
  e.heapLog = m.errorLogger;
  p.flags &= ~HEAP_OVER;
}

/**
 * @internal starts a process run by `owner` (see `ProcOwner`) instead of a receive
 * function and closures.
 */
export function spawnOwned(owner: ProcOwner, opts?: SpawnOptions): Pid {
  const p = create(ownerReceive, opts);
  p.owner = owner;
  return p.pid;
}

/**
 * Starts a process that runs `receive` for each message it gets, one at a time. If
 * `receive` returns a promise, the next message waits until it settles. A throw or
 * a rejection ends the process with `{ error }` and one crash report.
 *
 * @example
 * const logger = spawn((msg: string) => console.log('got', msg));
 * send(logger, 'hello');
 */
export function spawn<M = unknown>(receive: (msg: M) => unknown, opts?: SpawnOptions): Pid {
  return create(receive, opts).pid;
}

/**
 * Like `spawn`, and links the new process to the caller before it runs, so that
 * an abnormal exit of either takes the other down (unless it traps exits).
 *
 * @example
 * trapExit(true);
 * const worker = spawnLink(handle);
 * // when worker crashes: handleInfo gets { type: 'EXIT', from: worker, reason }
 */
export function spawnLink<M = unknown>(receive: (msg: M) => unknown, opts?: SpawnOptions): Pid {
  const me = requireSelf('spawnLink');
  const p = create(receive, opts);
  addLink(me, p);
  p.ext().parent = me.pid;
  return p.pid;
}

/**
 * Like `spawn`, and monitors the new process: `{ type: 'DOWN', ref, pid, reason }`
 * arrives when it ends.
 *
 * @example
 * const { pid, ref } = spawnMonitor(work);
 */
export function spawnMonitor<M = unknown>(receive: (msg: M) => unknown, opts?: SpawnOptions): { pid: Pid; ref: Ref } {
  const me = requireSelf('spawnMonitor');
  const p = create(receive, opts);
  const ref = makeRef();
  addMonitor(me, p, ref);
  return { pid: p.pid, ref };
}

/**
 * The pid of the process running this code, also after an `await` in its callbacks.
 * Throws outside a process.
 *
 * @example
 * spawn(async () => { await sleep(1); send(parent, self()); });
 */
export function self(): Pid {
  const p = currentProc();
  if (p === null) throw new Error('self() called outside a process: only code run by a process (its callbacks) has a self');
  return p.pid;
}

/** @internal */
export function requireSelf(what: string): Proc {
  const p = currentProc();
  if (p === null) throw new Error(`${what}() must be called inside a process (from one of its callbacks)`);
  // A killed process's callback may still resume after an await; it must not act.
  if ((p.flags & (DEAD | EXITING)) === DEAD) throw new ExitSignal('killed');
  return p;
}

/** @internal the live process behind a pid, if local and alive. */
export function procOf(pid: Pid): Proc | undefined {
  return pid._proc as Proc | undefined;
}

/** @internal */
export function enqueue(p: Proc, msg: unknown): void {
  const q = p.mq;
  if (q === null) p.mq = [msg];
  else q.push(msg);
  if (p.maxHeap !== 0) checkHeap(p);
  if ((p.flags & (SCHEDULED | BUSY | DEAD)) === 0) schedule(p);
}

/**
 * Sends `msg` to a process by pid or registered name. Never throws: a message to a
 * dead process or an unknown name is dropped, as on the BEAM. Messages from one
 * sender arrive in the order they were sent.
 *
 * @example
 * send(pid, { type: 'broadcast', text: 'hi' });
 * send('logger', 'hello'); // a registered name
 */
export function send(dest: Pid | string, msg: unknown): void {
  const sender = senderProc();
  if (sender !== null) {
    // Code of a dead process that resumed after an await: its messages are not sent.
    if ((sender.flags & (DEAD | EXITING)) === DEAD) return;
    sender.msgOut++;
  }
  deliver(dest, msg);
}

function deliver(dest: Pid | string, msg: unknown): void {
  let p: Proc | undefined;
  if (dest instanceof Pid) {
    p = dest._proc as Proc | undefined;
    if (p === undefined) {
      if (remote !== null && dest.node !== nodeName()) remote.send(dest, msg);
      return;
    }
  } else {
    p = names.get(dest);
    if (p === undefined) return;
  }
  if ((p.flags & DEAD) !== 0) return;
  enqueue(p, msg);
}

/**
 * `exit(reason)`: ends the calling process with `reason` (not logged as a crash).
 * `exit(pid, reason)`: sends an exit signal, with BEAM semantics:
 * - `'kill'` cannot be trapped; the target dies with `'killed'`.
 * - `'normal'` is ignored by a target that does not trap exits (unless the target
 *   is the caller itself, which then exits normally).
 * - any other reason kills a target that does not trap exits, and reaches one that
 *   does as `{ type: 'EXIT', from, reason }`.
 *
 * @example
 * exit(pid, 'shutdown');
 * exit(pid, 'kill');      // untrappable
 * exit({ shutdown: 'restart' }); // inside a process: end it
 */
export function exit(reason: ExitReason): never;
export function exit(pid: Pid, reason: ExitReason): void;
export function exit(pidOrReason: Pid | ExitReason, maybeReason?: ExitReason): void {
  if (arguments.length < 2) {
    requireSelf('exit');
    throw new ExitSignal(pidOrReason as ExitReason);
  }
  if (!(pidOrReason instanceof Pid)) throw new TypeError(`exit(pid, reason) expects a Pid, got ${String(pidOrReason)}`);
  const target = pidOrReason._proc as Proc | undefined;
  const reason = maybeReason as ExitReason;
  const caller = currentProc();
  if (caller !== null && (caller.flags & (DEAD | EXITING)) === DEAD) return;
  if (target === undefined) {
    if (remote !== null && pidOrReason.node !== nodeName()) remote.exit(pidOrReason, caller?.pid ?? rootPid(), reason);
    return;
  }
  if (reason === 'kill') {
    kill(target, 'killed');
  } else if (reason === 'normal' && target === caller && (target.flags & TRAP_EXIT) === 0) {
    kill(target, 'normal');
  } else {
    exitSignal(target, caller?.pid ?? rootPid(), reason);
  }
  if (caller === target && caller !== null && (caller.flags & DEAD) !== 0) throw new ExitSignal(reason);
}

/** @internal an exit signal from a link or `exit/2`. */
export function exitSignal(target: Proc, from: Pid, reason: ExitReason): void {
  if ((target.flags & DEAD) !== 0) return;
  if ((target.flags & TRAP_EXIT) !== 0) {
    const m: ExitMessage = { type: 'EXIT', from, reason };
    enqueue(target, m);
  } else if (reason !== 'normal') {
    kill(target, reason);
  }
}

/**
 * Delivers exit signals from a remote process (a cluster transport calls this).
 * @internal
 */
export function remoteExitSignal(to: Pid, from: Pid, reason: ExitReason): void {
  const target = to._proc as Proc | undefined;
  if (target === undefined) return;
  if (reason === 'kill') kill(target, 'killed');
  else exitSignal(target, from, reason);
}

// Deaths are processed from a queue, not recursively, so that a long chain of
// linked processes cannot overflow the stack.
const deaths: [Proc, ExitReason][] = [];
let dying = false;

/** @internal ends `p` with `reason` now: runs exit hooks, tells links and monitors. */
export function kill(p: Proc, reason: ExitReason): void {
  if ((p.flags & DEAD) !== 0) return;
  deaths.push([p, reason]);
  if (dying) {
    // Mark at once so callers see it dead, even though its links are told later.
    markDead(p);
    return;
  }
  dying = true;
  try {
    for (let i = 0; i < deaths.length; i++) {
      const [q, r] = deaths[i] as [Proc, ExitReason];
      die(q, r);
    }
  } finally {
    deaths.length = 0;
    dying = false;
  }
}

function markDead(p: Proc): void {
  if ((p.flags & DEAD) !== 0) return;
  p.flags = (p.flags | DEAD) & ~(SCHEDULED | BUSY);
  table.delete(p.pid.serial);
  p.pid._proc = undefined;
  intern(p.pid);
}

// Each process enters `deaths` at most once (kill returns early once it is marked), so die runs once.
function die(p: Proc, reason: ExitReason): void {
  markDead(p);
  const ext = p.extras;
  if (ext !== null && ext.name !== undefined && names.get(ext.name) === p) names.delete(ext.name);
  p.mq = null;
  p.mqHead = 0;
  if (p.timers !== null) {
    for (const ref of p.timers) cancelTimerInternal(ref);
    p.timers = null;
  }
  // The owner and the hooks (a connection's terminate) may still send, as a BEAM
  // process's terminate can.
  p.flags |= EXITING;
  const owner = p.owner;
  if (owner !== null) {
    try {
      runAs(p, exitOwner, owner, reason);
    } catch {
      // A failing owner must not stop the hooks or the exit itself.
    }
  }
  if (p.exitHooks !== null) {
    const hooks = p.exitHooks;
    p.exitHooks = null;
    for (const hook of hooks) {
      try {
        runAs(p, hook, reason);
      } catch {
        // A failing cleanup hook must not stop the others or the exit itself.
      }
    }
  }
  p.flags &= ~EXITING;
  if (p.monitors !== null) {
    for (const [ref, target] of p.monitors) target.monitoredBy?.delete(ref);
    p.monitors = null;
  }
  const linkReason = reason;
  if (p.links !== null) {
    const links = p.links;
    p.links = null;
    if (links instanceof Proc) {
      removeLink(links, p);
      exitSignal(links, p.pid, linkReason);
    } else {
      for (const l of links) {
        removeLink(l, p);
        exitSignal(l, p.pid, linkReason);
      }
    }
  }
  if (p.monitoredBy !== null) {
    const watchers = p.monitoredBy;
    p.monitoredBy = null;
    for (const [ref, w] of watchers) {
      if (typeof w === 'function') {
        try {
          w(p.pid, reason);
        } catch {
          // Runtime watchers are internal; one failing must not stop the others.
        }
      } else if ((w.flags & DEAD) === 0) {
        w.monitors?.delete(ref);
        const m: DownMessage = { type: 'DOWN', ref, pid: p.pid, reason };
        enqueue(w, m);
      }
    }
  }
  p.owner = null;
}

function exitOwner(owner: ProcOwner, reason: ExitReason): void {
  owner.exited(reason);
}

/** @internal called by the scheduler when a callback throws or rejects. */
export function handleThrow(p: Proc, err: unknown): void {
  if ((p.flags & DEAD) !== 0) return;
  if (err instanceof ExitSignal) {
    kill(p, err.reason);
    return;
  }
  const reason = { error: err };
  report({
    kind: 'crash',
    pid: p.pid,
    name: p.extras?.name,
    reason,
    lastMessage: typeof p.lastMessage === 'symbol' ? undefined : p.lastMessage,
    stack: err instanceof Error ? err.stack : undefined,
  });
  kill(p, reason);
}

function addLink(a: Proc, b: Proc): void {
  if (a === b) return;
  addLinkTo(a, b);
  addLinkTo(b, a);
}

function addLinkTo(a: Proc, b: Proc): void {
  const l = a.links;
  if (l === null) a.links = b;
  else if (l instanceof Proc) {
    if (l !== b) a.links = new Set([l, b]);
  } else l.add(b);
}

function removeLink(a: Proc, b: Proc): void {
  const l = a.links;
  if (l === b) a.links = null;
  else if (l instanceof Set) l.delete(b);
}

function linksOf(p: Proc): Proc[] {
  const l = p.links;
  return l === null ? [] : l instanceof Proc ? [l] : [...l];
}

function addMonitor(owner: Proc, target: Proc, ref: Ref): void {
  (target.monitoredBy ??= new Map()).set(ref, owner);
  (owner.monitors ??= new Map()).set(ref, target);
}

/**
 * Links the caller and `pid` both ways. If `pid` is not alive, the caller gets an
 * exit signal with reason `'noproc'` (an EXIT message when trapping, else it exits).
 *
 * @example
 * link(worker);
 */
export function link(pid: Pid): void {
  const me = requireSelf('link');
  const target = pid._proc as Proc | undefined;
  if (target === undefined || (target.flags & DEAD) !== 0) {
    if ((me.flags & TRAP_EXIT) !== 0) {
      const m: ExitMessage = { type: 'EXIT', from: pid, reason: 'noproc' };
      enqueue(me, m);
      return;
    }
    kill(me, 'noproc');
    throw new ExitSignal('noproc');
  }
  addLink(me, target);
}

/**
 * Removes the link between the caller and `pid`, if any.
 *
 * @example
 * unlink(worker);
 */
export function unlink(pid: Pid): void {
  const me = requireSelf('unlink');
  const target = pid._proc as Proc | undefined;
  if (target !== undefined) {
    removeLink(me, target);
    removeLink(target, me);
  }
}

/**
 * Monitors `pid`: `{ type: 'DOWN', ref, pid, reason }` arrives exactly once when it
 * ends, at once with `'noproc'` if it is not alive.
 *
 * @example
 * const ref = monitor(pid);
 * // handleInfo: if (isDown(msg) && msg.ref === ref) ...
 */
export function monitor(pid: Pid): Ref {
  const me = requireSelf('monitor');
  const ref = makeRef();
  const target = pid._proc as Proc | undefined;
  if (target === undefined || (target.flags & DEAD) !== 0) {
    const m: DownMessage = { type: 'DOWN', ref, pid, reason: 'noproc' };
    enqueue(me, m);
  } else {
    addMonitor(me, target, ref);
  }
  return ref;
}

/**
 * Removes a monitor. With `flush`, also removes its DOWN message if it already
 * arrived. Returns true if the monitor was still active.
 *
 * @example
 * demonitor(ref, { flush: true });
 */
export function demonitor(ref: Ref, opts?: { flush?: boolean }): boolean {
  const me = requireSelf('demonitor');
  const target = me.monitors?.get(ref);
  let active = false;
  if (target !== undefined) {
    me.monitors?.delete(ref);
    target.monitoredBy?.delete(ref);
    active = true;
  }
  if (opts?.flush === true && me.mq !== null) {
    const q = me.mq;
    const kept: unknown[] = [];
    for (let i = me.mqHead; i < q.length; i++) {
      const m = q[i] as Partial<DownMessage> | undefined;
      if (!(typeof m === 'object' && m !== null && m.type === 'DOWN' && m.ref === ref)) kept.push(m);
    }
    me.mq = kept.length === 0 ? null : kept;
    me.mqHead = 0;
  }
  return active;
}

/** @internal a monitor owned by runtime code (a pending call, a registry): `fn` runs once when `pid` ends. Returns undefined if it is already dead. */
export function watch(pid: Pid, fn: Watcher): Ref | undefined {
  const target = pid._proc as Proc | undefined;
  if (target === undefined || (target.flags & DEAD) !== 0) return undefined;
  const ref = makeRef();
  (target.monitoredBy ??= new Map()).set(ref, fn);
  return ref;
}

/** @internal */
export function unwatch(pid: Pid, ref: Ref): void {
  (pid._proc as Proc | undefined)?.monitoredBy?.delete(ref);
}

/** @internal runs `hook` while `p` is torn down (before links and monitors hear of it). */
export function onExit(p: Proc, hook: ExitHook): void {
  (p.exitHooks ??= []).push(hook);
}

/** @internal */
export function offExit(p: Proc, hook: ExitHook): void {
  const hooks = p.exitHooks;
  if (hooks === null) return;
  const i = hooks.indexOf(hook);
  if (i >= 0) hooks.splice(i, 1);
}

/**
 * Makes the calling process trap exits (true) or not; returns the previous value.
 * A trapping process receives `{ type: 'EXIT', from, reason }` messages instead of
 * dying from its links' exits (except `exit(pid, 'kill')`).
 *
 * @example
 * trapExit(true);
 */
export function trapExit(on: boolean): boolean {
  const me = requireSelf('trapExit');
  const old = (me.flags & TRAP_EXIT) !== 0;
  if (on) me.flags |= TRAP_EXIT;
  else me.flags &= ~TRAP_EXIT;
  return old;
}

/** Process flags settable with `flag`. */
export interface ProcessFlags {
  trapExit: boolean;
  maxHeapSize: number | MaxHeapSize;
  fullsweepAfter: number;
}

/**
 * Sets a flag of the calling process and returns its previous value, like
 * `Process.flag/2`.
 *
 * @example
 * flag('maxHeapSize', { size: 1_000_000, kill: true, errorLogger: true });
 */
export function flag<K extends keyof ProcessFlags>(name: K, value: ProcessFlags[K]): ProcessFlags[K] {
  const me = requireSelf('flag');
  switch (name) {
    case 'trapExit':
      if (typeof value !== 'boolean') throw new TypeError(`flag 'trapExit' takes a boolean`);
      return trapExit(value) as ProcessFlags[K];
    case 'maxHeapSize': {
      const old = { size: me.maxHeap, kill: me.extras?.heapKill ?? true, errorLogger: me.extras?.heapLog ?? true };
      setMaxHeap(me, value as number | MaxHeapSize);
      checkHeap(me);
      return old as ProcessFlags[K];
    }
    case 'fullsweepAfter': {
      if (!(Number.isInteger(value) && (value as number) >= 0)) throw new TypeError(`flag 'fullsweepAfter' takes a non-negative integer`);
      const old = me.extras?.fullsweepAfter ?? 65535;
      me.ext().fullsweepAfter = value as number;
      return old as ProcessFlags[K];
    }
    default:
      throw new TypeError(`unknown process flag '${String(name)}' (expected trapExit, maxHeapSize, fullsweepAfter)`);
  }
}

/** @internal bytes counted against maxHeapSize. */
export function heapSize(p: Proc): number {
  return p.queueLength * QUEUED_MESSAGE_BYTES + p.held;
}

function checkHeap(p: Proc): void {
  if (p.maxHeap === 0 || (p.flags & HEAP_OVER) !== 0) return;
  const size = heapSize(p);
  if (size <= p.maxHeap) return;
  p.flags |= HEAP_OVER;
  const kill_ = p.extras?.heapKill ?? true;
  if (p.extras?.heapLog ?? true) {
    report({ kind: 'max_heap_size', pid: p.pid, name: p.extras?.name, heapSize: size, limit: p.maxHeap, killed: kill_ });
  }
  if (kill_) kill(p, 'killed');
}

/** @internal clears the over-limit mark once the process is back under it, so a later overflow reports again. */
export function recheckHeap(p: Proc): void {
  if (heapSize(p) <= p.maxHeap) p.flags &= ~HEAP_OVER;
}

/** @internal a connection reports the bytes it holds outside its mailbox. */
export function setHeld(p: Proc, bytes: number): void {
  p.held = bytes;
  if (p.maxHeap !== 0) {
    if ((p.flags & HEAP_OVER) !== 0) recheckHeap(p);
    checkHeap(p);
  }
}

/**
 * Releases the calling process's buffers until its next message: its empty mailbox
 * array, and whatever its owner frees on hibernation (a connection: its read and
 * write buffers). V8 has no per-process heap to compact, so this frees memory for
 * the next garbage collection rather than compacting at once.
 *
 * @example
 * hibernate();
 */
export function hibernate(): void {
  const me = requireSelf('hibernate');
  if (me.mq !== null && me.mqHead >= me.mq.length) {
    me.mq = null;
    me.mqHead = 0;
  }
  me.flags |= HIBERNATED;
  if (me.owner !== null) me.owner.hibernated();
  const hook = me.extras?.onHibernate;
  if (hook) hook();
}

/**
 * True while the process is alive (local pids only; a remote pid is false).
 *
 * @example
 * exit(pid, 'kill');
 * isAlive(pid); // false
 */
export function isAlive(pid: Pid): boolean {
  const p = pid._proc as Proc | undefined;
  return p !== undefined && (p.flags & DEAD) === 0;
}

/**
 * Registers `pid` under `name`, so `send(name, msg)` and `whereis(name)` find it.
 * Throws if the name is taken, the process already has a name, or it is not alive.
 * The name is released when the process exits.
 *
 * @example
 * register('logger', pid);
 * send('logger', 'hello');
 */
export function register(name: string, pid: Pid): void {
  if (typeof name !== 'string' || name === '') throw new TypeError('register(name, pid): name must be a non-empty string');
  const p = pid._proc as Proc | undefined;
  if (p === undefined || (p.flags & DEAD) !== 0) throw new Error(`register('${name}', ${String(pid)}): noproc, the process is not alive`);
  const holder = names.get(name);
  if (holder !== undefined) throw new Error(`register('${name}', ${String(pid)}): name is already registered to ${String(holder.pid)}`);
  if (p.extras?.name !== undefined) throw new Error(`register('${name}', ${String(pid)}): the process is already registered as '${p.extras.name}'`);
  names.set(name, p);
  p.ext().name = name;
}

/**
 * Removes a registered name. Returns false if it was not registered.
 *
 * @example
 * unregister('logger');
 */
export function unregister(name: string): boolean {
  const p = names.get(name);
  if (p === undefined) return false;
  names.delete(name);
  if (p.extras !== null) p.extras.name = undefined;
  return true;
}

/**
 * The pid registered under `name`, or undefined.
 *
 * @example
 * const pid = whereis('logger');
 */
export function whereis(name: string): Pid | undefined {
  return names.get(name)?.pid;
}

/** All registered names. */
export function registered(): string[] {
  return [...names.keys()];
}

/** The pids of all live local processes, oldest first. */
export function processes(): Pid[] {
  const out: Pid[] = [];
  for (const p of table.values()) out.push(p.pid);
  return out;
}

/** How many local processes are alive. */
export function processCount(): number {
  return table.size;
}

/**
 * A snapshot of a live process, or undefined if it is not alive.
 *
 * @example
 * processInfo(pid)?.messageQueueLen;
 */
export function processInfo(pid: Pid): ProcessInfo | undefined {
  const p = pid._proc as Proc | undefined;
  if (p === undefined || (p.flags & DEAD) !== 0) return undefined;
  const running = currentProc() === p || (p.flags & BUSY) !== 0;
  const status = running ? 'running' : (p.flags & SCHEDULED) !== 0 ? 'runnable' : (p.flags & HIBERNATED) !== 0 ? 'hibernated' : 'waiting';
  const monitoredBy: Pid[] = [];
  if (p.monitoredBy !== null) for (const w of p.monitoredBy.values()) if (typeof w !== 'function') monitoredBy.push(w.pid);
  let details: Record<string, unknown> = {};
  try {
    if (p.owner !== null) details = p.owner.describe();
    else if (p.extras?.describe) details = p.extras.describe();
  } catch {
    details = {};
  }
  return {
    pid: p.pid,
    status,
    kind: p.kind,
    registeredName: p.extras?.name,
    messageQueueLen: p.queueLength,
    links: linksOf(p).map((l) => l.pid),
    monitors: p.monitors === null ? [] : [...p.monitors.values()].map((t) => t.pid),
    monitoredBy,
    trapExit: (p.flags & TRAP_EXIT) !== 0,
    heapSize: heapSize(p),
    maxHeapSize: { size: p.maxHeap, kill: p.extras?.heapKill ?? true, errorLogger: p.extras?.heapLog ?? true },
    fullsweepAfter: p.extras?.fullsweepAfter,
    counters: { messagesIn: p.msgIn, messagesOut: p.msgOut },
    parent: p.extras?.parent,
    details,
  };
}

// Timers live here because a process's exit cancels its timers.

interface TimerEntry {
  handle: NodeJS.Timeout;
  deadline: number;
  owner: Proc | null;
}
const timers = new Map<Ref, TimerEntry>();

/**
 * Sends `msg` to `dest` after `ms` milliseconds; returns a timer ref. A timer to a
 * pid is cancelled if that process exits first; a name is resolved when it fires.
 *
 * @example
 * const t = sendAfter(self(), 'tick', 1000);
 */
export function sendAfter(dest: Pid | string, msg: unknown, ms: number): Ref {
  if (!(Number.isFinite(ms) && ms >= 0)) throw new TypeError(`sendAfter: ms must be a non-negative number, got ${String(ms)}`);
  const ref = makeRef();
  const caller = currentProc();
  if (caller !== null && (caller.flags & DEAD) !== 0) return ref;
  const owner = dest instanceof Pid ? ((dest._proc as Proc | undefined) ?? null) : null;
  if (dest instanceof Pid && owner === null && dest.node === nodeName()) return ref;
  const handle = setTimeout(() => {
    timers.delete(ref);
    owner?.timers?.delete(ref);
    // Not send(): the timer runs in its creator's async context, and the creator may be gone.
    deliver(dest, msg);
  }, ms);
  timers.set(ref, { handle, deadline: performance.now() + ms, owner });
  if (owner !== null) (owner.timers ??= new Set()).add(ref);
  return ref;
}

function cancelTimerInternal(ref: Ref): number | false {
  const t = timers.get(ref);
  if (t === undefined) return false;
  clearTimeout(t.handle);
  timers.delete(ref);
  return Math.max(0, Math.round(t.deadline - performance.now()));
}

/**
 * Cancels a timer. Returns the milliseconds that were left, or false if it already
 * fired or was cancelled.
 *
 * @example
 * cancelTimer(t); // 734
 */
export function cancelTimer(ref: Ref): number | false {
  const t = timers.get(ref);
  const left = cancelTimerInternal(ref);
  t?.owner?.timers?.delete(ref);
  return left;
}

/**
 * Milliseconds left on a timer, or false if it already fired or was cancelled.
 *
 * @example
 * readTimer(t); // 512
 */
export function readTimer(ref: Ref): number | false {
  const t = timers.get(ref);
  if (t === undefined) return false;
  return Math.max(0, Math.round(t.deadline - performance.now()));
}

/** @internal how many timers are pending (tests check that dead processes leave none). */
export function pendingTimerCount(): number {
  return timers.size;
}

/** @internal sets what processInfo's `details` shows for this process. */
export function setDescribe(p: Proc, fn: () => Record<string, unknown>): void {
  p.ext().describe = fn;
}

/** @internal what `hibernate()` also releases for this process. */
export function setOnHibernate(p: Proc, fn: () => void): void {
  p.ext().onHibernate = fn;
}

export { Proc };
