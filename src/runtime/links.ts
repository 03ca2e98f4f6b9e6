/**
 * Links and exit signals: `link`, `unlink`, `spawnLink`, `exit` and `trapExit`,
 * with BEAM semantics. What an exiting process sends its links is part of death,
 * in the process core (`exitSignal`); this room makes and breaks links and sends
 * signals on request.
 */
import { Pid, nodeName } from './pid.js';
import { DEAD, EXITING, TRAP_EXIT, type Proc } from './proc.js';
import { currentProc } from './scheduler.js';
import { ExitSignal, createProc, enqueue, exitSignal, kill, remoteRouter, requireSelf, rootPid, type SpawnOptions } from './process-core.js';
import { formatTerm, type ExitMessage, type ExitReason } from './reasons.js';

function requirePid(call: string, pid: unknown): asserts pid is Pid {
  if (!(pid instanceof Pid)) throw new TypeError(`${call} expects a Pid, got ${typeof pid === 'string' ? `'${pid}'` : formatTerm(pid)}`);
}

function addLink(a: Proc, b: Proc): void {
  if (a === b) return;
  a.linkTo(b);
  b.linkTo(a);
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
  const p = createProc(receive, opts);
  addLink(me, p);
  p.ext().parent = me.pid;
  return p.pid;
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
  requirePid('exit(pid, reason)', pidOrReason);
  const target = pidOrReason._proc as Proc | undefined;
  const reason = maybeReason as ExitReason;
  const caller = currentProc();
  if (caller !== null && (caller.flags & (DEAD | EXITING)) === DEAD) return;
  if (target === undefined) {
    const remote = remoteRouter();
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

/**
 * Links the caller and `pid` both ways. If `pid` is not alive, the caller gets an
 * exit signal with reason `'noproc'` (an EXIT message when trapping, else it exits).
 * Throws `TypeError` for anything but a `Pid` (a name too: link to `whereis(name)`).
 *
 * @example
 * link(worker);
 */
export function link(pid: Pid): void {
  requirePid('link(pid)', pid);
  const me = requireSelf('link');
  const target = pid._proc as Proc | undefined;
  const remote = remoteRouter();
  if (target === undefined && remote !== null && pid.node !== nodeName()) {
    remote.link(me.pid, pid);
    return;
  }
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
 * Removes the link between the caller and `pid`, if any. Throws `TypeError` for
 * anything but a `Pid`.
 *
 * @example
 * unlink(worker);
 */
export function unlink(pid: Pid): void {
  requirePid('unlink(pid)', pid);
  const me = requireSelf('unlink');
  const target = pid._proc as Proc | undefined;
  if (target !== undefined) {
    me.unlinkFrom(target);
    target.unlinkFrom(me);
  } else if (pid.node !== nodeName()) {
    remoteRouter()?.unlink(me.pid, pid);
  }
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
