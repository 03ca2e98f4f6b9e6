/**
 * Structured reports the runtime emits (crashes, heap-limit overflows, supervisor
 * events) and the pluggable logger that receives them.
 */
import { channel } from 'node:diagnostics_channel';
import type { Pid } from './pid.js';
import { formatReason, formatTerm, type ExitReason } from './reasons.js';

/** A process ended because a callback threw or its promise rejected. */
export interface CrashReport {
  readonly kind: 'crash';
  readonly pid: Pid;
  readonly name: string | undefined;
  readonly reason: ExitReason;
  /** The message being handled when it crashed (`undefined` during init). */
  readonly lastMessage: unknown;
  readonly stack: string | undefined;
}

/** A process held more than its `maxHeapSize` allows. */
export interface HeapReport {
  readonly kind: 'max_heap_size';
  readonly pid: Pid;
  readonly name: string | undefined;
  /** Bytes held, as `processInfo(pid).heapSize` counts them. */
  readonly heapSize: number;
  readonly limit: number;
  readonly killed: boolean;
}

/** A supervisor restarted a child, gave up on one, or exceeded its restart intensity. */
export interface SupervisorReport {
  readonly kind: 'supervisor';
  readonly supervisor: Pid;
  readonly event: 'child_terminated' | 'child_restarted' | 'start_error' | 'shutdown' | 'reached_max_restart_intensity';
  readonly childId: string | undefined;
  readonly pid: Pid | undefined;
  readonly reason: ExitReason | undefined;
}

/**
 * A cluster event worth a line in the log: a node lost with messages still unacknowledged
 * (`nodedown`, with `lost`), an outbox over its bound (`outbox_overflow`), bytes on a
 * beamsock subject that are not a beamsock frame (`bad_frame`), a message that could not be
 * decoded (`bad_message`), two live nodes with one name (`name_conflict`), a `runOnCores`
 * worker that exited unasked and is restarted (`worker_exit`, `node` its node name).
 */
export interface ClusterReport {
  readonly kind: 'cluster';
  readonly event: 'nodedown' | 'outbox_overflow' | 'bad_frame' | 'bad_message' | 'name_conflict' | 'worker_exit';
  /** The other node concerned, when known. */
  readonly node: string | undefined;
  /** Messages given up on (counted in the node's `stats().lost`). */
  readonly lost: number;
  readonly detail: string;
}

/**
 * A server refused an upgrade request (`status` 4xx or 503, with the reason the
 * client got) or failed on one (500, with what application code threw).
 */
export interface UpgradeReport {
  readonly kind: 'upgrade';
  /** The server's name: 'ws', 'bun'... */
  readonly server: string;
  readonly path: string | undefined;
  readonly status: number;
  readonly reason: string;
  /** What an application function threw, for a 500; else undefined. */
  readonly error: unknown;
}

/** Everything the runtime reports, the servers' refused upgrades and cluster events. */
export type Report = CrashReport | HeapReport | SupervisorReport | UpgradeReport | ClusterReport;

/** Receives every report. Must not throw; a throwing logger is ignored. */
export type Logger = (report: Report) => void;

/** Writes one line per report to stderr, with the stack for crashes. */
export const consoleLogger: Logger = (report) => {
  process.stderr.write(`${formatReport(report)}\n`);
};

let current: Logger = consoleLogger;

/**
 * Every report is also published here, whatever logger is set, so a reader such
 * as the observer sees them without taking the logger's place.
 */
const reportChannel = channel('beamsock:report');

/**
 * Replaces the logger; returns the previous one so a test can restore it.
 *
 * @example
 * const reports: Report[] = [];
 * const previous = setLogger((r) => reports.push(r));
 * // ... later
 * setLogger(previous);
 */
export function setLogger(logger: Logger): Logger {
  const previous = current;
  current = logger;
  return previous;
}

/** @internal */
export function report(r: Report): void {
  if (reportChannel.hasSubscribers) reportChannel.publish(r);
  try {
    current(r);
  } catch {
    // A broken logger must not take the runtime down with it.
  }
}

/** One readable line (plus a stack for crashes) for a report. */
export function formatReport(r: Report): string {
  const who = (pid: Pid, name: string | undefined): string => (name === undefined ? String(pid) : `${String(pid)} (${name})`);
  switch (r.kind) {
    case 'crash': {
      const last = r.lastMessage === undefined ? '' : `\n  last message: ${formatTerm(r.lastMessage)}`;
      const stack = r.stack === undefined ? '' : `\n  ${r.stack.split('\n').join('\n  ')}`;
      return `[beamsock] process ${who(r.pid, r.name)} crashed: ${formatReason(r.reason)}${last}${stack}`;
    }
    case 'max_heap_size':
      return `[beamsock] process ${who(r.pid, r.name)} holds ${r.heapSize} bytes, over its maxHeapSize of ${r.limit}${r.killed ? '; killed' : ''}`;
    case 'supervisor': {
      const child = r.childId === undefined ? '' : ` child ${r.childId}`;
      const pid = r.pid === undefined ? '' : ` ${String(r.pid)}`;
      const reason = r.reason === undefined ? '' : `: ${formatReason(r.reason)}`;
      return `[beamsock] supervisor ${String(r.supervisor)} ${r.event}${child}${pid}${reason}`;
    }
    case 'cluster': {
      const node = r.node === undefined ? '' : ` node ${r.node}`;
      const lost = r.lost === 0 ? '' : ` (${r.lost} messages lost)`;
      return `[beamsock] cluster ${r.event}${node}: ${r.detail}${lost}`;
    }
    case 'upgrade': {
      const what = `[beamsock] ${r.server} upgrade of ${r.path ?? '/'}`;
      if (r.error === undefined) return `${what} refused with ${r.status}: ${r.reason}`;
      return `${what} failed with ${r.status}: ${r.error instanceof Error ? (r.error.stack ?? r.error.message) : formatTerm(r.error)}`;
    }
  }
}
