/**
 * `ObserverSocket`: the WebSock handler behind the observer page. Each page is a
 * connection process that ticks on its own timer (`sendAfter` to itself), reads
 * the shared `Sampler` and pushes one snapshot per tick; between ticks it answers
 * the page's requests: another page of the table, one process's details, an
 * exit signal (refused when read-only). While a page is open the sampler's
 * runtime panel measures event-loop delay and GC.
 */
import {
  Pid,
  Supervisor,
  exit,
  isAlive,
  processInfo,
  self,
  sendAfter,
  type ChildInfo,
} from '../runtime/index.js';
import { ok, push, stop, type CloseReason, type HandleResult, type InFrame, type WebSock } from '../websock/behaviour.js';
import {
  DEFAULT_QUERY,
  parseRequest,
  type ChildRow,
  type GoneDetails,
  type ObserverMessage,
  type PageQuery,
  type PageResult,
  type ProcessDetails,
} from './protocol.js';
import type { ReportLog } from './reports.js';
import { MAX_PAGE_SIZE, type Sampler } from './sampler.js';

/** What each observer connection is started with. */
export interface ObserverArgs {
  /** Shared by all pages of one mount, so they share one pass over the process table. */
  readonly sampler: Sampler;
  /** Milliseconds between snapshots. */
  readonly intervalMs: number;
  /** Refuse exit signals: the page only looks. */
  readonly readOnly: boolean;
  /** The runtime reports the pages stream; started by whoever owns it. */
  readonly reports: ReportLog;
  /**
   * Called from each page's `init` with its pid, once the page is open: how a
   * mount learns its pages on a server whose upgrade does not return the pid (Bun, Deno).
   */
  readonly opened?: (pid: Pid) => void;
}

/** One observer page's view. */
export interface ObserverState {
  readonly args: ObserverArgs;
  readonly query: PageQuery;
  readonly selected: Pid | undefined;
  /** The last report this page was sent. */
  readonly reportSeq: number;
}

const TICK = Symbol('observer tick');
/** @internal sent by `Observer.close()`: the page's connection closes with 1001 (going away), whoever supervises it. */
export const CLOSE_PAGE = Symbol('observer close');
/** Pids listed in details (links, monitors, children) beyond this are only counted. */
const LIST_CAP = 50;
/** A supervisor that does not answer `whichChildren` in this time is reported as such. */
const CHILDREN_TIMEOUT_MS = 1_000;
/** How deep `details` values are copied into JSON. */
const DETAILS_DEPTH = 4;

function message(m: ObserverMessage): ['text', string] {
  return ['text', JSON.stringify(m)];
}

function pageOf(state: ObserverState): PageResult {
  const { total, rows } = state.args.sampler.page(state.query);
  return { query: state.query, total, rows };
}

// Built as text around the summary's JSON, which the sampler serializes once for
// every page it serves; the shape is ObserverMessage's 'snapshot'. The page's
// state moves on to the last report sent.
function snapshot(state: ObserverState): { readonly frame: ['text', string]; readonly next: ObserverState } {
  const { sampler, reports } = state.args;
  const history = sampler.history();
  const point = history[history.length - 1] ?? null;
  const details = state.selected === undefined ? null : detailsOf(state.selected, sampler);
  const news = reports.since(state.reportSeq);
  const frame: ['text', string] = [
    'text',
    `{"type":"snapshot","summary":${sampler.summaryJson()},"point":${JSON.stringify(point)},"page":${JSON.stringify(pageOf(state))},"details":${JSON.stringify(details)},"reports":${JSON.stringify(news)}}`,
  ];
  return { frame, next: { ...state, reportSeq: news.last } };
}

function printed(pids: readonly Pid[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < pids.length && i < LIST_CAP; i++) out.push(String(pids[i]));
  return out;
}

/** Copies `value` into plain JSON: pids printed, depth and list lengths capped, functions and cycles named. */
function jsonSafe(value: unknown, depth: number): unknown {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (value === undefined) return null;
  if (typeof value === 'bigint' || typeof value === 'symbol') return value.toString();
  if (typeof value === 'function') return '[function]';
  if (value instanceof Pid) return String(value);
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (depth === 0) return '[...]';
  if (Array.isArray(value)) {
    const items = value.slice(0, LIST_CAP).map((v) => jsonSafe(v, depth - 1));
    if (value.length > LIST_CAP) items.push(`... ${value.length - LIST_CAP} more`);
    return items;
  }
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (n++ === LIST_CAP) break;
    out[k] = jsonSafe(v, depth - 1);
  }
  return out;
}

/**
 * What the details panel shows for `pid`, read now. Synchronous: a supervisor's
 * children are added by `withChildren`, which asks the supervisor.
 */
function detailsOf(pid: Pid, sampler: Sampler): ProcessDetails | GoneDetails {
  const info = processInfo(pid);
  if (info === undefined) return { pid: String(pid), alive: false };
  return {
    pid: String(pid),
    alive: true,
    status: info.status,
    kind: info.kind,
    registeredName: info.registeredName ?? null,
    messageQueueLen: info.messageQueueLen,
    links: printed(info.links),
    linkCount: info.links.length,
    monitors: printed(info.monitors),
    monitorCount: info.monitors.length,
    monitoredBy: printed(info.monitoredBy),
    monitoredByCount: info.monitoredBy.length,
    trapExit: info.trapExit,
    heapSize: info.heapSize,
    maxHeapSize: info.maxHeapSize,
    counters: info.counters,
    rates: sampler.rates(pid) ?? null,
    parent: info.parent === undefined ? null : String(info.parent),
    details: jsonSafe(info.details, DETAILS_DEPTH) as Record<string, unknown>,
  };
}

function childRow(c: ChildInfo): ChildRow {
  return { id: c.id ?? null, pid: c.pid === undefined ? null : String(c.pid), type: c.type, restart: c.restart };
}

async function withChildren(details: ProcessDetails | GoneDetails, pid: Pid): Promise<ProcessDetails | GoneDetails> {
  if (!details.alive || details.kind !== 'supervisor') return details;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer to whichChildren within ${CHILDREN_TIMEOUT_MS} ms`)), CHILDREN_TIMEOUT_MS);
  });
  try {
    const children = await Promise.race([Supervisor.whichChildren(pid), late]);
    return { ...details, children: { total: children.length, rows: children.slice(0, LIST_CAP).map(childRow) } };
  } catch (err) {
    return { ...details, children: { error: err instanceof Error ? err.message : String(err) } };
  } finally {
    clearTimeout(timer);
  }
}

function parsePid(text: string): Pid {
  try {
    return Pid.parse(text);
  } catch {
    throw new TypeError(`not a printed pid: ${JSON.stringify(text)} (expected the form #PID<0.42>)`);
  }
}

function refuse(err: unknown, state: ObserverState): HandleResult<ObserverState> {
  if (!(err instanceof TypeError)) throw err;
  return push(message({ type: 'error', message: err.message }), state);
}

async function answer(text: string, state: ObserverState): Promise<HandleResult<ObserverState>> {
  const req = parseRequest(text, MAX_PAGE_SIZE);
  switch (req.op) {
    case 'query': {
      const next = { ...state, query: req.query };
      return push(message({ type: 'page', page: pageOf(next) }), next);
    }
    case 'select': {
      if (req.pid === null) return ok({ ...state, selected: undefined });
      const pid = parsePid(req.pid);
      const details = await withChildren(detailsOf(pid, state.args.sampler), pid);
      return push(message({ type: 'details', details }), { ...state, selected: pid });
    }
    case 'kill': {
      if (state.args.readOnly) throw new TypeError(`the observer is read-only: exit signals are refused (mounted with readOnly: true); ${req.pid} was not signalled`);
      const pid = parsePid(req.pid);
      exit(pid, req.reason);
      return push(message({ type: 'exit_sent', pid: req.pid, reason: req.reason, alive: isAlive(pid) }), state);
    }
  }
}

/**
 * The observer page's WebSocket handler. Host it yourself when `mountObserver`
 * does not fit your server (a router of your own): every connection needs the same
 * `ObserverArgs`, one `Sampler` and one started `ReportLog` for all of them.
 *
 * @example
 * const reports = new ReportLog(100);
 * reports.start();
 * const args: ObserverArgs = { sampler: new Sampler(), intervalMs: 1000, readOnly: true, reports };
 * server.on('upgrade', (req, socket, head) => upgrade(req, socket, head, ObserverSocket, args));
 */
// A class instance, so that the adapters name its connections after the class
// ('ObserverPage') and the observer lists its own pages by that name.
export const ObserverSocket: WebSock<ObserverState, ObserverArgs> = new (class ObserverPage implements WebSock<ObserverState, ObserverArgs> {
  init(args: ObserverArgs): HandleResult<ObserverState> {
    args.sampler.refresh(args.intervalMs * 0.9);
    sendAfter(self(), TICK, args.intervalMs);
    const reports = args.reports.since(0);
    const state: ObserverState = { args, query: DEFAULT_QUERY, selected: undefined, reportSeq: reports.last };
    const hello = message({
      type: 'hello',
      node: args.sampler.summary().node,
      intervalMs: args.intervalMs,
      maxPageSize: MAX_PAGE_SIZE,
      query: DEFAULT_QUERY,
      history: args.sampler.history(),
      readOnly: args.readOnly,
      reports,
    });
    const { frame, next } = snapshot(state);
    // Last, so that an init that threw leaves nothing watching: terminate would not undo it.
    args.sampler.runtime.watch();
    args.opened?.(self());
    return push([hello, frame], next);
  }

  async handleIn([data]: InFrame, state: ObserverState): Promise<HandleResult<ObserverState>> {
    if (typeof data !== 'string') return push(message({ type: 'error', message: 'requests are JSON text frames, got a binary frame' }), state);
    try {
      return await answer(data, state);
    } catch (err) {
      return refuse(err, state);
    }
  }

  handleInfo(msg: unknown, state: ObserverState): HandleResult<ObserverState> {
    if (msg === CLOSE_PAGE) return stop('normal', { code: 1001, reason: 'observer closed' }, state);
    if (msg !== TICK) return ok(state);
    const { sampler, intervalMs } = state.args;
    // Pages ticking out of phase reuse a sample younger than most of an interval.
    sampler.refresh(intervalMs * 0.9);
    sendAfter(self(), TICK, intervalMs);
    const { frame, next } = snapshot(state);
    return push(frame, next);
  }

  terminate(_reason: CloseReason, state: ObserverState): void {
    // However the page ended (closed, killed, crashed), it no longer watches.
    state.args.sampler.runtime.unwatch();
  }
})();
