/**
 * The process core: the process table, spawning, mailboxes and `send`, and death
 * (exit signals, and what a process's end tells its links and monitors).
 *
 * A process is a function run once per message, one message at a time, with a
 * FIFO mailbox. Code outside any process may `send`, `exit`, `spawn` and look
 * processes up; `self()` needs a process. Links, monitors, names, timers, policies
 * and introspection are rooms of their own built on this one; the facts they keep
 * live on the `Proc` record, so that death can clear them without knowing the rooms.
 */
import { Pid, type Ref, intern, nodeName, setLiveLookup } from './pid.js';
import { report } from './logger.js';
import { BUSY, DEAD, EXITING, MAILBOX_BLOCK, SCHEDULED, STARTING, TRAP_EXIT, Proc, type ExitHook, type ProcOwner, type Receive } from './proc.js';
import { busyEnded, currentProc, onCrash, ownerReceive, runAs, schedule, senderProc } from './scheduler.js';
import { overHeap, setMaxHeap, normalizeMaxHeap, type MaxHeapSize } from './heap.js';
import { claimName, globalHolder, nameHolder, releaseName, type GlobalName } from './names.js';
import { rejectUnknownOptions } from './options.js';
import { formatTerm, type DownMessage, type ExitMessage, type ExitReason } from './reasons.js';

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

/** Thrown to end the current process with a reason (by `exit(reason)`); not a crash. */
export class ExitSignal {
  constructor(readonly reason: ExitReason) {}
}

const table = new Map<number, Proc>();
let serial = 0;

let root: Pid | undefined;
/**
 * The pid that stands for code running outside any process, as the sender of its
 * exit signals and the caller of its calls: `#PID<0.0>`.
 *
 * @example
 * exit(pid, 'shutdown'); // the EXIT message says from: rootPid()
 */
export function rootPid(): Pid {
  if (root === undefined || root.node !== nodeName()) root = new Pid(nodeName(), 0, undefined);
  return root;
}

setLiveLookup((s) => table.get(s)?.pid);

/** @internal the live local processes, oldest first. */
export function liveProcs(): IterableIterator<Proc> {
  return table.values();
}

/** @internal how many local processes are alive. */
export function liveCount(): number {
  return table.size;
}

// ---------------------------------------------------------------------------
// Remote routing: a cluster transport plugs in here. Messages and exit signals
// for pids of other nodes go out through the router; signals coming in are
// delivered with `send` and `remoteExitSignal`.

/** A name registered on a given node, as Erlang's `{Name, Node}`. */
export interface RemoteName {
  readonly name: string;
  readonly node: string;
}

/** @internal what a cluster transport provides to reach processes of other nodes. */
export type RemoteRouter = {
  send(to: Pid | RemoteName, msg: unknown): void;
  exit(to: Pid, from: Pid, reason: ExitReason): void;
  /** `owner` monitors `target` (another node's) under `ref`: a DOWN comes back. */
  monitor(owner: Pid, target: Pid, ref: Ref): void;
  /** Cancels a monitor of another node's process; true if it was active. */
  demonitor(ref: Ref): boolean;
  link(local: Pid, remote: Pid): void;
  unlink(local: Pid, remote: Pid): void;
  /** Runtime code watches another node's process: `fn` runs once when it ends (or its node goes). */
  watch(target: Pid, fn: (pid: Pid, reason: ExitReason) => void): Ref;
  unwatch(ref: Ref): void;
  /** Answers a call from a process of another node (`to`), by the call's ref. */
  reply(to: Pid, ref: Ref, ok: boolean, value: unknown): void;
  /** The other nodes that are up, sorted: the observer lists them without importing the cluster. */
  nodes(): string[];
  /** The other nodes' processes linked to the local process `local`, for `processInfo().links`. */
  links(local: Pid): Pid[];
  /** The pid registered under `name` on another node, or undefined (nobody holds it, or the node is not up). */
  whereis(name: string, node: string): Promise<Pid | undefined>;
};
let remote: RemoteRouter | null = null;

/** @internal a cluster transport routes messages for remote pids through this. */
export function setRemoteRouter(router: RemoteRouter | null): void {
  remote = router;
}

/** @internal the installed router, if any. */
export function remoteRouter(): RemoteRouter | null {
  return remote;
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

// ---------------------------------------------------------------------------
// Spawning.

const SPAWN_OPTION_KEYS: readonly string[] = ['name', 'trapExit', 'maxHeapSize', 'fullsweepAfter', 'init', 'kind'];

function validateSpawnOptions(opts: SpawnOptions): void {
  rejectUnknownOptions(opts, SPAWN_OPTION_KEYS, 'spawn options');
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

const START = Symbol('start');

/** @internal creates a process: spawn, spawnLink and spawnMonitor all start here. */
export function createProc<M>(receive: (msg: M) => unknown, opts: SpawnOptions | undefined): Proc {
  if (typeof receive !== 'function') throw new TypeError('spawn expects a function that handles one message');
  if (opts !== undefined) validateSpawnOptions(opts);
  return makeProc(receive as Receive, opts);
}

/** A process from options already checked. */
function makeProc(receive: Receive, opts: SpawnOptions | undefined): Proc {
  const s = ++serial;
  const p = new Proc(undefined as unknown as Pid, receive, opts?.kind ?? 'worker');
  (p as { pid: Pid }).pid = Pid._local(s, p);
  if (opts !== undefined) {
    if (opts.trapExit === true) p.flags |= TRAP_EXIT;
    if (opts.maxHeapSize !== undefined) setMaxHeap(p, opts.maxHeapSize);
    if (opts.fullsweepAfter !== undefined) p.ext().fullsweepAfter = opts.fullsweepAfter;
    if (opts.name !== undefined) claimName(opts.name, p);
  }
  table.set(s, p);
  const init = opts?.init;
  if (init !== undefined) {
    p.receive = ((msg: unknown) => {
      started(p, msg);
      p.receive = receive;
      return init();
    }) as Receive;
    starting(p);
  }
  return p;
}

/** Queues the start marker: the process runs its init as its first turn, before any message. */
function starting(p: Proc): void {
  p.flags |= STARTING;
  enqueue(p, START);
}

/** The start marker was taken from the mailbox: it was no message. */
function started(p: Proc, msg: unknown): void {
  if (msg !== START) throw new Error('internal: first message was not the start marker');
  p.lastMessage = undefined;
  p.flags &= ~STARTING;
  p.msgIn--;
}

/**
 * @internal starts a process run by `owner` (see `ProcOwner`) instead of a receive
 * function and closures; if the owner has a `start`, the process runs it first, as
 * an `init`. `opts` come from the runtime's own code (often one shared object, such
 * as a server's connection options) and are not checked again: each upgrade spawns one.
 */
export function spawnOwned(owner: ProcOwner, opts?: SpawnOptions): Pid {
  const p = makeProc(owner.start === undefined ? ownerReceive : (ownerStart as Receive), opts);
  p.owner = owner;
  if (owner.start !== undefined) starting(p);
  return p.pid;
}

/** The first receive of an owned process with a `start`: one shared function instead of an init closure per process. */
function ownerStart(msg: unknown): unknown {
  const p = currentProc() as Proc;
  started(p, msg);
  p.receive = ownerReceive;
  return (p.owner as ProcOwner & { start(): unknown }).start();
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
  return createProc(receive, opts).pid;
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

// ---------------------------------------------------------------------------
// Mailboxes.

/** @internal */
export function enqueue(p: Proc, msg: unknown): void {
  const q = p.mq;
  if (q === null) p.mq = [msg];
  // Only the last block of a mailbox may be short: a short head block is the last.
  else if (q.length < MAILBOX_BLOCK) q.push(msg);
  else enqueueBlock(p, msg);
  if (p.maxHeap !== 0) enforceHeap(p);
  if ((p.flags & (SCHEDULED | BUSY | DEAD)) === 0) schedule(p);
}

/** A backlog past its head block: `msg` goes to the last block, or opens one (see `ProcExtras.mqMore`). */
function enqueueBlock(p: Proc, msg: unknown): void {
  const e = p.ext();
  const more = e.mqMore;
  if (more === null) {
    e.mqMore = [[msg]];
    return;
  }
  const last = more[more.length - 1] as unknown[];
  if (last.length < MAILBOX_BLOCK) last.push(msg);
  else more.push([msg]);
}

/** @internal kills `p` with `'killed'` if it is over its `maxHeapSize` and that says kill. */
export function enforceHeap(p: Proc): void {
  if (overHeap(p)) kill(p, 'killed');
}

/**
 * Sends `msg` to a process by pid or registered name. Messages from one sender
 * arrive in the order they were sent. To a pid it never throws: a message to a
 * dead process is dropped, as on the BEAM. To a name, as Elixir's `send/2` does,
 * it throws when no process is registered under it (a typo or a process not
 * started yet should not go unnoticed); a `TypeError` for anything but a pid, a
 * string or `{ name, node }`. `{ name, node }` reaches the name registered on that
 * node of the cluster, and is dropped when nobody holds it, as Erlang's
 * `{Name, Node} ! Msg`. `{ global: name }` reaches the holder of a cluster-wide name
 * (`registerGlobal`), and throws like a local name when nobody holds it. A message for another node that its codec cannot carry
 * throws `TypeError` at this call (see the README's Cluster section).
 *
 * @example
 * send(pid, { type: 'broadcast', text: 'hi' });
 * send('logger', 'hello'); // a registered name
 * if (whereis('cache') !== undefined) send('cache', 'flush'); // a name that may be gone
 * send({ name: 'logger', node: 'chat-2' }, 'hello'); // a name on another node
 * send({ global: 'leader' }, 'hello'); // a name held anywhere in the cluster
 */
export function send(dest: Pid | string | RemoteName | GlobalName, msg: unknown): void {
  const sender = senderProc();
  if (sender !== null) {
    // Code of a dead process that resumed after an await: its messages are not sent.
    if ((sender.flags & (DEAD | EXITING)) === DEAD) return;
    sender.msgOut++;
  }
  if (!deliver(dest, msg)) {
    if (sender !== null) sender.msgOut--;
    throw badDestination('send', dest);
  }
}

/**
 * @internal `send` without a sender (timers fire in their creator's async context,
 * after it may be gone). False when `dest` is no pid and no registered name.
 */
export function deliver(dest: Pid | string | RemoteName | GlobalName, msg: unknown): boolean {
  let p: Proc | undefined;
  if (dest instanceof Pid) {
    p = dest._proc as Proc | undefined;
    if (p === undefined) {
      if (remote !== null && dest.node !== nodeName()) remote.send(dest, msg);
      return true;
    }
  } else if (typeof dest === 'string') {
    p = nameHolder(dest);
    if (p === undefined) return false;
  } else if (typeof dest === 'object' && dest !== null && typeof (dest as GlobalName).global === 'string') {
    const pid = globalHolder((dest as GlobalName).global);
    return pid !== undefined && deliver(pid, msg);
  } else if (typeof dest === 'object' && dest !== null && typeof (dest as RemoteName).name === 'string' && typeof (dest as RemoteName).node === 'string') {
    dest = dest as RemoteName;
    // {name, node}, as Erlang's {Name, Node} ! Msg: dropped when nobody holds the name.
    if (dest.node !== nodeName()) {
      remote?.send(dest, msg);
      return true;
    }
    p = nameHolder(dest.name);
    if (p === undefined) return true;
  } else {
    return false;
  }
  if ((p.flags & DEAD) === 0) enqueue(p, msg);
  return true;
}

/** @internal the error for a destination that is not a pid or a registered name. */
export function badDestination(what: string, dest: unknown): Error {
  const global = typeof dest === 'object' && dest !== null ? (dest as Partial<GlobalName>).global : undefined;
  if (typeof global === 'string') {
    return new Error(`${what}: no process is registered globally under '${global}' (badarg); check whereisGlobal('${global}') first, or use the pid`);
  }
  if (typeof dest !== 'string' || dest === '') return new TypeError(`${what}: the destination must be a Pid or a registered name, got ${formatTerm(dest)}`);
  return new Error(`${what}: no process is registered under '${dest}' (badarg); check whereis('${dest}') first, or use the pid`);
}

// ---------------------------------------------------------------------------
// Death.

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
  if ((p.flags & BUSY) !== 0) busyEnded();
  p.flags = (p.flags | DEAD) & ~(SCHEDULED | BUSY);
  table.delete(p.pid.serial);
  p.pid._proc = undefined;
  intern(p.pid);
}

// Each process enters `deaths` at most once (kill returns early once it is marked), so die runs once.
function die(p: Proc, reason: ExitReason): void {
  markDead(p);
  releaseName(p);
  p.mq = null;
  p.mqHead = 0;
  if (p.extras !== null) p.extras.mqMore = null;
  // The owner and the hooks (a connection's terminate, a timer's cancellation) may
  // still send, as a BEAM process's terminate can.
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
  if (p.links !== null) {
    const links = p.links;
    p.links = null;
    if (links instanceof Proc) {
      links.unlinkFrom(p);
      exitSignal(links, p.pid, reason);
    } else {
      for (const l of links) {
        l.unlinkFrom(p);
        exitSignal(l, p.pid, reason);
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
        enqueue(w, downMessage(w, ref, p.pid, reason));
      }
    }
  }
  p.owner = null;
}

/** @internal the DOWN `watcher` gets for its monitor `ref`, naming the name it monitored by, if any. */
export function downMessage(watcher: Proc, ref: Ref, pid: Pid, reason: ExitReason): DownMessage {
  const names = watcher.extras?.monitorNames;
  const name = names?.get(ref);
  if (name === undefined) return { type: 'DOWN', ref, pid, reason };
  names?.delete(ref);
  return { type: 'DOWN', ref, pid, reason, name };
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

onCrash(handleThrow);

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
