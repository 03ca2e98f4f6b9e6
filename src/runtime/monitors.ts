/**
 * Monitors: `monitor`, `demonitor`, `spawnMonitor`, and the runtime's own watchers
 * (`watch`: a pending call, a supervisor waiting for a child to stop). A monitor is
 * one-way and stackable; the DOWN message itself is sent by the process core when
 * the monitored process dies.
 */
import { Pid, makeRef, nodeName, type Ref } from './pid.js';
import { DEAD, type Proc, type Watcher } from './proc.js';
import { createProc, downMessage, enqueue, remoteRouter, requireSelf, rootPid, type SpawnOptions } from './process-core.js';
import { nameHolder } from './names.js';
import { formatTerm, type DownMessage } from './reasons.js';

function addMonitor(owner: Proc, target: Proc, ref: Ref): void {
  (target.monitoredBy ??= new Map()).set(ref, owner);
  (owner.monitors ??= new Map()).set(ref, target);
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
  const p = createProc(receive, opts);
  const ref = makeRef();
  addMonitor(me, p, ref);
  return { pid: p.pid, ref };
}

/**
 * Monitors a process: `{ type: 'DOWN', ref, pid, reason }` arrives exactly once
 * when it ends, at once with `'noproc'` if it is not alive. Given a registered
 * name (Erlang's `monitor(process, Name)`), it monitors the process holding the
 * name now, and the DOWN also carries `name`; for a name nobody holds, the DOWN
 * `'noproc'` comes at once with `pid: rootPid()`. Throws `TypeError` for anything
 * but a `Pid` or a non-empty string.
 *
 * @example
 * const ref = monitor(pid);
 * // handleInfo: if (isDown(msg) && msg.ref === ref) ...
 * monitor('logger'); // DOWN: { type: 'DOWN', ref, pid, reason, name: 'logger' }
 */
export function monitor(target: Pid | string): Ref {
  if (!(target instanceof Pid) && !(typeof target === 'string' && target !== '')) {
    throw new TypeError(`monitor(pid) expects a Pid or a registered name, got ${formatTerm(target)}`);
  }
  const me = requireSelf('monitor');
  const ref = makeRef();
  if (typeof target === 'string') {
    const holder = nameHolder(target);
    (me.ext().monitorNames ??= new Map()).set(ref, target);
    if (holder === undefined || (holder.flags & DEAD) !== 0) enqueue(me, downMessage(me, ref, holder?.pid ?? rootPid(), 'noproc'));
    else addMonitor(me, holder, ref);
    return ref;
  }
  const p = target._proc as Proc | undefined;
  const remote = remoteRouter();
  if (p === undefined && remote !== null && target.node !== nodeName()) {
    remote.monitor(me.pid, target, ref);
    return ref;
  }
  if (p === undefined || (p.flags & DEAD) !== 0) {
    const m: DownMessage = { type: 'DOWN', ref, pid: target, reason: 'noproc' };
    enqueue(me, m);
  } else {
    addMonitor(me, p, ref);
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
  } else if (ref.node === nodeName()) {
    active = remoteRouter()?.demonitor(ref) ?? false;
  }
  me.extras?.monitorNames?.delete(ref);
  if (opts?.flush === true && me.mq !== null) {
    const kept: unknown[] = [];
    const keep = (m: unknown): void => {
      const down = m as Partial<DownMessage> | undefined;
      if (!(typeof down === 'object' && down !== null && down.type === 'DOWN' && down.ref === ref)) kept.push(m);
    };
    const q = me.mq;
    for (let i = me.mqHead; i < q.length; i++) keep(q[i]);
    for (const block of me.extras?.mqMore ?? []) for (const m of block) keep(m);
    // The pending messages, now in one array; a later backlog opens blocks after it.
    me.mq = kept.length === 0 ? null : kept;
    me.mqHead = 0;
    if (me.extras !== null) me.extras.mqMore = null;
  }
  return active;
}

/** @internal a monitor owned by runtime code (a pending call, a registry): `fn` runs once when `pid` ends. Returns undefined if it is already dead. */
export function watch(pid: Pid, fn: Watcher): Ref | undefined {
  const target = pid._proc as Proc | undefined;
  const remote = remoteRouter();
  if (target === undefined && remote !== null && pid.node !== nodeName()) return remote.watch(pid, fn);
  if (target === undefined || (target.flags & DEAD) !== 0) return undefined;
  const ref = makeRef();
  (target.monitoredBy ??= new Map()).set(ref, fn);
  return ref;
}

/** @internal */
export function unwatch(pid: Pid, ref: Ref): void {
  const target = pid._proc as Proc | undefined;
  if (target === undefined && pid.node !== nodeName()) remoteRouter()?.unwatch(ref);
  else target?.monitoredBy?.delete(ref);
}
