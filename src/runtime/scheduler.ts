/**
 * The scheduler: a run queue of processes with pending messages, drained in
 * batches from `setImmediate`.
 *
 * Each process runs a slice of at most `SLICE` messages, one at a time; a slice ends
 * early when a callback returns a promise (the process waits for it, its mailbox
 * too). The whole drain stops after `BUDGET_MS` and reschedules itself, so the event
 * loop reaches timers and sockets between batches however much work is queued: the
 * counterpart of BEAM reductions.
 *
 * Draining from `setImmediate` (the check phase, right after I/O polling) means every
 * socket read of one loop turn is queued before any process runs, so a connection
 * sees its reads as one batch and can answer them with one write.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { BUSY, DEAD, HEAP_OVER, HIBERNATED, SCHEDULED, type Proc, type ProcExtras, type ProcOwner } from './proc.js';
import { recheckHeap } from './heap.js';

/** Messages a process handles before the next process gets its turn. */
export const SLICE = 2000;
/** Milliseconds of work before the scheduler yields to the event loop. */
export const BUDGET_MS = 4;

/** The process whose synchronous code is running now. */
export let current: Proc | null = null;

/** Carries the current process across `await`s inside callbacks. */
const context = new AsyncLocalStorage<Proc>();

const runQueue: (Proc | undefined)[] = [];
let rqHead = 0;
let drainPending = false;

/** What happens to a process whose callback throws or rejects: the process core's crash handling. */
let handleThrow: (p: Proc, err: unknown) => void = (_p, err) => {
  throw err;
};

/**
 * @internal the process core installs its crash handling here (a report, then death), so
 * that the scheduler, which the core uses to run processes, does not import it back.
 */
export function onCrash(handler: (p: Proc, err: unknown) => void): void {
  handleThrow = handler;
}

/** The process running now, also after an `await` in one of its callbacks; null outside. */
export function currentProc(): Proc | null {
  return current ?? context.getStore() ?? null;
}

/**
 * Has any callback returned a promise yet? Until one has, no process code can run
 * outside a slice, so `senderProc` skips the async-context lookup: purely
 * synchronous programs pay nothing for it on every send.
 */
let asyncSeen = false;

/** The process sending now, as `send` needs it: `currentProc()`, cheaper while nothing is async. */
export function senderProc(): Proc | null {
  if (current !== null) return current;
  return asyncSeen ? (context.getStore() ?? null) : null;
}

/** Queues `p` to run. The caller has checked that it is neither queued nor busy. */
export function schedule(p: Proc): void {
  p.flags |= SCHEDULED;
  runQueue.push(p);
  if (!drainPending) {
    drainPending = true;
    setImmediate(drain);
  }
}

/**
 * Processes waiting in the run queue: a source of mass work (the idle wheel) lets
 * out its next batch once this is low, so that a socket read is never queued
 * behind all of it.
 *
 * @example
 * if (queuedRuns() < 64) releaseNextBatch();
 */
export function queuedRuns(): number {
  return runQueue.length - rqHead;
}

function drain(): void {
  drainPending = false;
  const start = performance.now();
  let sinceCheck = 0;
  // Each slice runs with its process as the async context, entered rather than run():
  // run() looks the context up twice more per slice, a cost every lone message paid.
  const outer = context.getStore();
  try {
    while (rqHead < runQueue.length) {
      const p = runQueue[rqHead] as Proc;
      runQueue[rqHead++] = undefined;
      if ((p.flags & DEAD) !== 0) continue;
      context.enterWith(p);
      sinceCheck += runSlice(p) + 16;
      if (sinceCheck >= 1024) {
        sinceCheck = 0;
        if (performance.now() - start >= BUDGET_MS) break;
      }
    }
  } finally {
    context.enterWith(outer as Proc);
  }
  if (rqHead === runQueue.length) {
    runQueue.length = 0;
    rqHead = 0;
  } else {
    if (rqHead >= 1024) {
      // splice moves the rest as a block; copyWithin would go element by element.
      runQueue.splice(0, rqHead);
      rqHead = 0;
    }
    drainPending = true;
    setImmediate(drain);
  }
}

function runSlice(p: Proc): number {
  const previous = current;
  current = p;
  let n = 0;
  const receive = p.receive as (m: unknown) => unknown;
  while (n < SLICE && (p.flags & (BUSY | DEAD)) === 0) {
    const q = p.mq;
    if (q === null) break;
    const head = p.mqHead;
    if (head >= q.length) {
      if (!nextBlock(p)) break;
      continue;
    }
    const msg = q[head];
    q[head] = undefined;
    p.mqHead = head + 1;
    p.flags &= ~HIBERNATED;
    n++;
    let result: unknown;
    try {
      // A process's receive may be swapped (its init runs first), so it is read again after one.
      result = p.receive === receive ? receive(msg) : (p.receive as (m: unknown) => unknown)(msg);
    } catch (err) {
      p.lastMessage = msg;
      handleThrow(p, err);
      break;
    }
    if (result !== undefined && result !== null && typeof (result as PromiseLike<unknown>).then === 'function') {
      p.lastMessage = msg;
      // A callback may have ended its own process (a link took it down) before it returned.
      if ((p.flags & DEAD) === 0) {
        p.flags |= BUSY;
        busy++;
      }
      asyncSeen = true;
      (result as PromiseLike<unknown>).then(
        () => resume(p),
        (err: unknown) => {
          if ((p.flags & DEAD) === 0) context.run(p, handleThrow, p, err);
        },
      );
    }
  }
  // Counted per slice, not per message: the counters are for introspection.
  p.msgIn += n;
  if ((p.flags & DEAD) === 0) {
    const q = p.mq;
    // A handled head block is dropped now, not at the next slice: for the next block, or for nothing.
    if (q !== null && p.mqHead >= q.length && !nextBlock(p)) {
      p.mq = null;
      p.mqHead = 0;
    }
    if (p.owner !== null) runHook(p, p.owner);
    if ((p.flags & HEAP_OVER) !== 0) recheckHeap(p);
    if ((p.flags & (BUSY | DEAD)) === 0 && p.mq !== null) {
      runQueue.push(p);
      if (!drainPending) {
        drainPending = true;
        setImmediate(drain);
      }
    } else {
      p.flags &= ~SCHEDULED;
    }
  }
  current = previous;
  return n;
}

/** `p`'s head block is handled: the next block of a long backlog (`ProcExtras.mqMore`) becomes the head. False if none. */
function nextBlock(p: Proc): boolean {
  const e = p.extras;
  const more = e === null ? null : e.mqMore;
  if (more === null) return false;
  p.mq = more.shift() as unknown[];
  p.mqHead = 0;
  if (more.length === 0) (e as ProcExtras).mqMore = null;
  return true;
}

function resume(p: Proc): void {
  if ((p.flags & DEAD) !== 0) return;
  p.flags &= ~BUSY;
  busyEnded();
  if (p.owner !== null) context.run(p, runHook, p, p.owner);
  if ((p.flags & (SCHEDULED | BUSY | DEAD)) === 0 && p.mq !== null) schedule(p);
}

function runHook(p: Proc, owner: ProcOwner): void {
  const previous = current;
  current = p;
  try {
    owner.sliceEnd();
  } catch (err) {
    handleThrow(p, err);
  } finally {
    current = previous;
  }
}

/** The receive function of every owned process: the owner of the process running now handles the message. */
export function ownerReceive(msg: unknown): unknown {
  return ((current as Proc).owner as ProcOwner).receive(msg);
}

/** Runs `fn` as process `p` (so `self()` is `p`), e.g. to start it synchronously. */
export function runAs<A extends unknown[], R>(p: Proc, fn: (...args: A) => R, ...args: A): R {
  const previous = current;
  current = p;
  try {
    return context.run(p, fn, ...args);
  } finally {
    current = previous;
  }
}

/**
 * Live processes whose callback returned a promise that has not settled: their
 * mailbox waits, and `idle()` waits for them.
 */
let busy = 0;
/** `idle()` checks waiting for the busy processes to finish. */
let idleWaiters: (() => void)[] = [];

/**
 * @internal a busy process stopped being busy without resuming (it died); the
 * process core calls this as it marks a process dead.
 */
export function busyEnded(): void {
  busy--;
  if (busy === 0 && idleWaiters.length !== 0) {
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const check of waiters) setImmediate(check);
  }
}

/** Options for `idle`. */
export interface IdleOptions {
  /**
   * Wait for processes in an async callback too (default true). False resolves as
   * soon as the run queue is empty: to look at a process parked on an `await` that
   * only the test will release.
   */
  readonly waitForCallbacks?: boolean;
}

/**
 * Resolves once no process has anything left to do: the run queue is empty and no
 * live process is still in an async callback (its `await`s included), so a test
 * needs no `sleep` before it. A process awaiting something that never settles
 * keeps it waiting; pass `{ waitForCallbacks: false }` to look at such a process.
 *
 * @example
 * send(counter, 'inc');
 * await idle();
 * expect(count).toBe(1);
 */
export function idle(opts?: IdleOptions): Promise<void> {
  const waitForCallbacks = opts?.waitForCallbacks ?? true;
  return new Promise((resolve) => {
    const check = (): void => {
      if (drainPending || rqHead < runQueue.length) setImmediate(check);
      else if (busy !== 0 && waitForCallbacks) idleWaiters.push(check);
      else resolve();
    };
    setImmediate(check);
  });
}
