/**
 * The observer's crash log: the runtime's reports (crashes, heap-limit kills,
 * supervisor events), read from the `beamsock:report` diagnostics channel, which
 * the runtime publishes to beside calling the logger, so whoever set a logger
 * with `setLogger` keeps getting every report. The most recent are kept in a
 * ring buffer of fixed size; pages read what is new since the last they saw.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { formatReason, formatReport, type Report } from '../runtime/index.js';

/** One report, as the page shows it. */
export interface ReportRow {
  /** 1 for the first report this log kept, then one more per report. */
  readonly seq: number;
  /** `Date.now()` when it was reported. */
  readonly at: number;
  readonly kind: Report['kind'];
  /** The process it is about (for a supervisor event, the supervisor), printed. */
  readonly pid: string;
  /** Its registered name, for a supervisor event the child's id, for a cluster event the other node. */
  readonly name: string | null;
  /** One line: the exit reason, heap figures, or the supervisor event. */
  readonly summary: string;
  /** The full text the console logger writes, stack included, cut at `TEXT_LIMIT`. */
  readonly text: string;
}

/** What a page gets: the reports after the last one it saw, and how many it missed. */
export interface ReportsSince {
  readonly reports: readonly ReportRow[];
  /** Reports after `seq` that no longer fit in the buffer (or in one message). */
  readonly dropped: number;
  /** The newest `seq`: what the page passes next time. */
  readonly last: number;
}

const CHANNEL = 'beamsock:report';
/** A stack is cut here: a snapshot stays small even in a crash storm. */
export const TEXT_LIMIT = 2_000;
/** Reports sent in one message; older ones are counted as dropped. */
export const REPORTS_PER_MESSAGE = 50;

function summaryOf(r: Report): string {
  switch (r.kind) {
    case 'crash':
      return formatReason(r.reason);
    case 'max_heap_size':
      return `holds ${r.heapSize} bytes, over its maxHeapSize of ${r.limit}${r.killed ? '; killed' : ''}`;
    case 'supervisor':
      return `${r.event}${r.pid === undefined ? '' : ` ${String(r.pid)}`}${r.reason === undefined ? '' : `: ${formatReason(r.reason)}`}`;
    case 'cluster':
      return `${r.event}: ${r.detail}${r.lost === 0 ? '' : ` (${r.lost} lost)`}`;
    case 'upgrade':
      return `${r.status} ${r.reason}`;
    case 'backpressure':
      return `holds ${r.bytes} ${r.held} bytes for a peer that does not read, over its maxBufferedAmount of ${r.limit}; closed with ${r.code}`;
  }
}

/** The pid a report is about, printed; cluster and upgrade reports are about no process. */
function pidOf(r: Report): string {
  if (r.kind === 'cluster' || r.kind === 'upgrade') return '';
  return String(r.kind === 'supervisor' ? r.supervisor : r.pid);
}

function rowOf(r: Report, seq: number): ReportRow {
  const text = formatReport(r).replace(/^\[beamsock\] /, '');
  return {
    seq,
    at: Date.now(),
    kind: r.kind,
    pid: pidOf(r),
    name: (r.kind === 'supervisor' ? r.childId : r.kind === 'cluster' ? r.node : r.kind === 'upgrade' ? `${r.server} ${r.path ?? '/'}` : r.kind === 'backpressure' ? r.server : r.name) ?? null,
    summary: summaryOf(r),
    text: text.length > TEXT_LIMIT ? `${text.slice(0, TEXT_LIMIT)}...` : text,
  };
}

/**
 * Keeps the last `capacity` runtime reports from `start()` to `stop()`.
 *
 * @example
 * const log = new ReportLog(100);
 * log.start();
 * const { reports, last } = log.since(0);
 */
export class ReportLog {
  readonly #ring: (ReportRow | undefined)[];
  #seq = 0;
  #listening = false;
  readonly #onReport = (message: unknown): void => {
    const seq = ++this.#seq;
    this.#ring[seq % this.#ring.length] = rowOf(message as Report, seq);
  };

  /** Throws RangeError unless `capacity` is a positive integer. */
  constructor(readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity > 0)) throw new RangeError(`ReportLog capacity must be a positive integer, got ${String(capacity)}`);
    this.#ring = new Array<ReportRow | undefined>(capacity);
  }

  /**
   * Starts keeping reports; again after `stop()`, it goes on numbering where it left off.
   *
   * @example
   * log.start();
   */
  start(): void {
    if (this.#listening) return;
    this.#listening = true;
    subscribe(CHANNEL, this.#onReport);
  }

  /**
   * Stops keeping reports; those kept stay readable.
   *
   * @example
   * log.stop();
   */
  stop(): void {
    if (!this.#listening) return;
    this.#listening = false;
    unsubscribe(CHANNEL, this.#onReport);
  }

  /**
   * The reports after `seq`, oldest first, at most `REPORTS_PER_MESSAGE` (the
   * newest ones); `dropped` counts those after `seq` not returned.
   *
   * @example
   * let seen = 0;
   * const next = log.since(seen);
   * seen = next.last;
   */
  since(seq: number): ReportsSince {
    const last = this.#seq;
    const first = Math.max(seq + 1, last - Math.min(this.#ring.length, REPORTS_PER_MESSAGE) + 1, 1);
    const reports: ReportRow[] = [];
    for (let s = first; s <= last; s++) reports.push(this.#ring[s % this.#ring.length] as ReportRow);
    return { reports, dropped: Math.max(0, first - Math.max(seq + 1, 1)), last };
  }
}
