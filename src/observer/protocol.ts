/**
 * What the observer page and the observer socket say to each other, as JSON text
 * frames. The page asks (`ObserverRequest`); the socket answers and, once per
 * interval, pushes a `snapshot` carrying the summary, the page of the process
 * table the page is looking at, and the details of the process it selected.
 */
import type { ReportsSince } from './reports.js';
import type { HistoryPoint, SampleSummary } from './sampler.js';

/** Columns the process table sorts by. */
export type SortKey = 'pid' | 'kind' | 'name' | 'status' | 'mailbox' | 'rate' | 'in' | 'out' | 'heap' | 'links' | 'monitors';

/** Which page of the process table a page looks at. */
export interface PageQuery {
  /** 0-based. */
  readonly page: number;
  /** Rows per page, 1 to `MAX_PAGE_SIZE`. */
  readonly size: number;
  readonly sort: SortKey;
  readonly dir: 'asc' | 'desc';
  /** Only this `processInfo().kind`. */
  readonly kind?: string;
  /** Only this status. */
  readonly status?: string;
  /** Only connections running the handler of this name. */
  readonly handler?: string;
  /** Only children of this printed pid, or `'root'` for processes without a live parent. */
  readonly parent?: string;
  /** Case-insensitive substring of the pid, kind, registered name, handler name or label. */
  readonly text?: string;
}

/** One process in the table, as of the last sample. */
export interface ProcessRow {
  /** Printed, `#PID<0.42>`. */
  readonly pid: string;
  readonly kind: string;
  readonly status: string;
  readonly name: string | null;
  /** The name of the handler a connection runs (its class or its `name` field); null for other kinds. */
  readonly handler: string | null;
  /** What identifies it beside its name: a connection's request path. */
  readonly label: string | null;
  readonly mailbox: number;
  /** Messages handled per second. */
  readonly inRate: number;
  /** Messages sent per second. */
  readonly outRate: number;
  /** Bytes held, as `maxHeapSize` counts them. */
  readonly heap: number;
  /** Its `maxHeapSize` in bytes; 0 when unlimited. */
  readonly maxHeap: number;
  readonly links: number;
  readonly monitors: number;
  readonly parent: string | null;
}

/** Children of one kind too many to list: the page lists them through a `parent` + `kind` query. */
export interface TreeGroup {
  readonly kind: string;
  /** For connections: the handler they all run; absent when the processes name none. */
  readonly handler?: string;
  readonly count: number;
}

/** A process in the supervision tree; the root (`pid: null`) stands for the node. */
export interface TreeNode {
  readonly pid: string | null;
  readonly kind: string;
  readonly name: string | null;
  readonly handler: string | null;
  readonly label: string | null;
  readonly children: readonly TreeNode[];
  readonly groups: readonly TreeGroup[];
}

/** A page of the process table and the query it answers. */
export interface PageResult {
  readonly query: PageQuery;
  readonly total: number;
  readonly rows: readonly ProcessRow[];
}

/** One row of a supervisor's `whichChildren`. */
export interface ChildRow {
  readonly id: string | null;
  readonly pid: string | null;
  readonly type: string;
  readonly restart: string;
}

/** Everything `processInfo` says about one process, pids printed, lists capped. */
export interface ProcessDetails {
  readonly pid: string;
  readonly alive: true;
  readonly status: string;
  readonly kind: string;
  readonly registeredName: string | null;
  readonly messageQueueLen: number;
  readonly links: readonly string[];
  readonly linkCount: number;
  readonly monitors: readonly string[];
  readonly monitorCount: number;
  readonly monitoredBy: readonly string[];
  readonly monitoredByCount: number;
  readonly trapExit: boolean;
  readonly heapSize: number;
  readonly maxHeapSize: { readonly size: number; readonly kill: boolean; readonly errorLogger: boolean };
  readonly counters: { readonly messagesIn: number; readonly messagesOut: number };
  readonly rates: { readonly in: number; readonly out: number } | null;
  readonly parent: string | null;
  /** Kind-specific details, made JSON-safe. */
  readonly details: Readonly<Record<string, unknown>>;
  /** A supervisor's children (first rows only) or why they could not be read; absent for other kinds. */
  readonly children?: { readonly total: number; readonly rows: readonly ChildRow[] } | { readonly error: string };
}

/** The details of a process that is gone. */
export interface GoneDetails {
  readonly pid: string;
  readonly alive: false;
}

/** What the page may send. */
export type ObserverRequest =
  | { readonly op: 'query'; readonly query: PageQuery }
  | { readonly op: 'select'; readonly pid: string | null }
  | { readonly op: 'kill'; readonly pid: string; readonly reason: string };

/** What the socket sends. `snapshot` comes once per interval; the others answer a request. */
export type ObserverMessage =
  | {
      readonly type: 'hello';
      readonly node: string;
      readonly intervalMs: number;
      readonly maxPageSize: number;
      readonly query: PageQuery;
      readonly history: readonly HistoryPoint[];
      /** True when the socket refuses exit signals: the page hides its button. */
      readonly readOnly: boolean;
      /** The recent runtime reports, oldest first. */
      readonly reports: ReportsSince;
    }
  | {
      readonly type: 'snapshot';
      readonly summary: SampleSummary;
      readonly point: HistoryPoint | null;
      readonly page: PageResult;
      readonly details: ProcessDetails | GoneDetails | null;
      /** Runtime reports since the previous message that carried some. */
      readonly reports: ReportsSince;
    }
  | { readonly type: 'page'; readonly page: PageResult }
  | { readonly type: 'details'; readonly details: ProcessDetails | GoneDetails }
  | { readonly type: 'exit_sent'; readonly pid: string; readonly reason: string; readonly alive: boolean }
  | { readonly type: 'error'; readonly message: string };

/** The query a new page starts with. */
export const DEFAULT_QUERY: PageQuery = Object.freeze({ page: 0, size: 50, sort: 'pid', dir: 'asc' });

const SORT_KEYS: readonly SortKey[] = ['pid', 'kind', 'name', 'status', 'mailbox', 'rate', 'in', 'out', 'heap', 'links', 'monitors'];
const QUERY_KEYS: readonly string[] = ['page', 'size', 'sort', 'dir', 'kind', 'status', 'handler', 'parent', 'text'];
const MAX_TEXT = 200;

function fail(what: string, value: unknown): never {
  throw new TypeError(`${what}, got ${JSON.stringify(value) ?? String(value)}`);
}

function optionalText(q: Record<string, unknown>, key: string): string | undefined {
  const v = q[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || v.length > MAX_TEXT) fail(`query.${key} must be a string of at most ${MAX_TEXT} characters`, v);
  return v;
}

/**
 * Checks a query from the page; missing fields take `DEFAULT_QUERY`'s values.
 * Throws TypeError naming the bad field.
 *
 * @example
 * parseQuery({ sort: 'mailbox', dir: 'desc' }, 100); // { page: 0, size: 50, sort: 'mailbox', dir: 'desc' }
 */
export function parseQuery(raw: unknown, maxPageSize: number): PageQuery {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('query must be an object', raw);
  const q = raw as Record<string, unknown>;
  for (const key of Object.keys(q)) if (!QUERY_KEYS.includes(key)) fail(`query has unknown field '${key}' (expected ${QUERY_KEYS.join(', ')})`, q[key]);
  const page = q.page ?? DEFAULT_QUERY.page;
  if (!(Number.isSafeInteger(page) && (page as number) >= 0)) fail('query.page must be a non-negative integer', page);
  const size = q.size ?? DEFAULT_QUERY.size;
  if (!(Number.isInteger(size) && (size as number) >= 1 && (size as number) <= maxPageSize)) fail(`query.size must be an integer from 1 to ${maxPageSize}`, size);
  const sort = q.sort ?? DEFAULT_QUERY.sort;
  if (!SORT_KEYS.includes(sort as SortKey)) fail(`query.sort must be one of ${SORT_KEYS.join(', ')}`, sort);
  const dir = q.dir ?? DEFAULT_QUERY.dir;
  if (dir !== 'asc' && dir !== 'desc') fail("query.dir must be 'asc' or 'desc'", dir);
  const kind = optionalText(q, 'kind');
  const status = optionalText(q, 'status');
  const handler = optionalText(q, 'handler');
  const parent = optionalText(q, 'parent');
  const text = optionalText(q, 'text');
  return {
    page: page as number,
    size: size as number,
    sort: sort as SortKey,
    dir,
    ...(kind !== undefined ? { kind } : {}),
    ...(status !== undefined ? { status } : {}),
    ...(handler !== undefined ? { handler } : {}),
    ...(parent !== undefined ? { parent } : {}),
    ...(text !== undefined ? { text } : {}),
  };
}

/**
 * Parses one text frame from the page. Throws TypeError saying what was wrong
 * (not JSON, unknown `op`, a bad field).
 *
 * @example
 * parseRequest('{"op":"kill","pid":"#PID<0.42>","reason":"kill"}', 100);
 */
export function parseRequest(text: string, maxPageSize: number): ObserverRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    fail('a request must be JSON', text.length > 80 ? `${text.slice(0, 80)}...` : text);
  }
  if (typeof raw !== 'object' || raw === null) fail('a request must be a JSON object', raw);
  const r = raw as Record<string, unknown>;
  switch (r.op) {
    case 'query':
      return { op: 'query', query: parseQuery(r.query, maxPageSize) };
    case 'select':
      if (r.pid !== null && typeof r.pid !== 'string') fail('select.pid must be a printed pid or null', r.pid);
      return { op: 'select', pid: r.pid };
    case 'kill': {
      if (typeof r.pid !== 'string') fail('kill.pid must be a printed pid such as "#PID<0.42>"', r.pid);
      const reason = r.reason ?? 'kill';
      if (typeof reason !== 'string' || reason === '' || reason.length > MAX_TEXT) fail(`kill.reason must be a non-empty string of at most ${MAX_TEXT} characters`, reason);
      return { op: 'kill', pid: r.pid, reason };
    }
    default:
      return fail("request.op must be 'query', 'select' or 'kill'", r.op);
  }
}
