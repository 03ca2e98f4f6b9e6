/**
 * Introspection: `isAlive`, `processInfo`, `processes`, `processCount`, read by
 * tests, the observer and operators; nothing here changes a process.
 */
import type { Pid } from './pid.js';
import { BUSY, DEAD, HIBERNATED, SCHEDULED, TRAP_EXIT, type Proc } from './proc.js';
import { currentProc } from './scheduler.js';
import { liveCount, liveProcs, remoteRouter } from './process-core.js';
import { heapSize, maxHeapOf } from './heap.js';

/** What `processInfo` returns for a live process. */
export interface ProcessInfo {
  readonly pid: Pid;
  /** `running` (its code runs now, or it awaits a callback), `runnable` (queued to run), `waiting` (no messages), `hibernated`. */
  readonly status: 'running' | 'runnable' | 'waiting' | 'hibernated';
  readonly kind: string;
  readonly registeredName: string | undefined;
  readonly messageQueueLen: number;
  /** Linked processes: local ones, then those on other nodes of the cluster. */
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
 * The pids of all live local processes, oldest first.
 *
 * @example
 * processes().length === processCount(); // true
 */
export function processes(): Pid[] {
  const out: Pid[] = [];
  for (const p of liveProcs()) out.push(p.pid);
  return out;
}

/**
 * How many local processes are alive.
 *
 * @example
 * processCount(); // 3
 */
export function processCount(): number {
  return liveCount();
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
    links: allLinks(p),
    monitors: p.monitors === null ? [] : [...p.monitors.values()].map((t) => t.pid),
    monitoredBy,
    trapExit: (p.flags & TRAP_EXIT) !== 0,
    heapSize: heapSize(p),
    maxHeapSize: maxHeapOf(p),
    fullsweepAfter: p.fullsweepAfter(),
    counters: { messagesIn: p.msgIn, messagesOut: p.msgOut },
    parent: p.parentPid(),
    details,
  };
}

/** Local links, then links to other nodes' processes (kept by the cluster, not on the Proc). */
function allLinks(p: Proc): Pid[] {
  const local = p.linked().map((l) => l.pid);
  const remote = remoteRouter();
  return remote === null ? local : local.concat(remote.links(p.pid));
}

/** @internal sets what processInfo's `details` shows for this process. */
export function setDescribe(p: Proc, fn: () => Record<string, unknown>): void {
  p.ext().describe = fn;
}
