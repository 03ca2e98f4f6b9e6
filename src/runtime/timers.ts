/**
 * Timers: `sendAfter`, `cancelTimer`, `readTimer`, as `Process.send_after/3` and
 * friends. A timer to a pid is cancelled when that process exits (through an exit
 * hook, registered once per process on its first timer).
 */
import { Pid, makeRef, nodeName, type Ref } from './pid.js';
import { DEAD, type Proc } from './proc.js';
import { currentProc } from './scheduler.js';
import { badDestination, deliver, onExit } from './process-core.js';

interface TimerEntry {
  handle: NodeJS.Timeout;
  deadline: number;
  owner: Proc | null;
}
const timers = new Map<Ref, TimerEntry>();

/**
 * Sends `msg` to `dest` after `ms` milliseconds; returns a timer ref. A timer to a
 * pid is cancelled if that process exits first; a name is resolved when it fires,
 * and the message dropped if no process holds it then (as `Process.send_after/3`).
 * Throws `TypeError` for a `dest` that is neither a pid nor a name.
 *
 * @example
 * const t = sendAfter(self(), 'tick', 1000);
 */
export function sendAfter(dest: Pid | string, msg: unknown, ms: number): Ref {
  if (!(Number.isFinite(ms) && ms >= 0)) throw new TypeError(`sendAfter: ms must be a non-negative number, got ${String(ms)}`);
  if (!(dest instanceof Pid) && !(typeof dest === 'string' && dest !== '')) throw badDestination('sendAfter', dest);
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
  if (owner !== null) {
    if (owner.timers === null) {
      owner.timers = new Set();
      onExit(owner, cancelOwnTimers);
    }
    owner.timers.add(ref);
  }
  return ref;
}

/** The exit hook of every process that had a timer; it runs as that process. */
function cancelOwnTimers(): void {
  const p = currentProc() as Proc;
  if (p.timers === null) return;
  for (const ref of p.timers) stopTimer(ref);
  p.timers = null;
}

function stopTimer(ref: Ref): number | false {
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
  const left = stopTimer(ref);
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
