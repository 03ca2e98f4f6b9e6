/**
 * The observer's view of the runtime: one pass over the process table per
 * interval, turned into what a page can show at any scale. Totals, counts by kind
 * and status, top-N lists and the supervision tree stay the same size whether 10
 * or 100 000 processes run; the full table is only ever read one page at a time.
 *
 * Rates come from counter deltas between two samples, so a process that lived
 * and died between them adds nothing to the totals.
 */
import { nodeName, processInfo, processes, type Pid } from '../runtime/index.js';
import { remoteRouter } from '../runtime/process-core.js';
import type { PageQuery, ProcessRow, SortKey, TreeGroup, TreeNode } from './protocol.js';
import { sampleTables, type TablesSummary } from './registries.js';
import { RuntimeStats, type RuntimeSample } from './runtime-stats.js';

/** One point of the charts. */
export interface HistoryPoint {
  /** `Date.now()` of the sample. */
  readonly t: number;
  readonly processes: number;
  readonly connections: number;
  /** Messages handled per second, all processes together. */
  readonly in: number;
  /** Messages sent per second, all processes together. */
  readonly out: number;
  /** Bytes of JavaScript heap in use. */
  readonly heapUsed: number;
  /** Resident set size in bytes. */
  readonly rss: number;
}

/** What one sample says about the whole node. */
export interface SampleSummary {
  readonly node: string;
  /** The cluster's nodes that are up, this one first then the others sorted; empty outside a cluster. */
  readonly nodes: readonly string[];
  /** `Date.now()` of the sample. */
  readonly at: number;
  readonly totals: {
    readonly processes: number;
    readonly connections: number;
    readonly messagesInPerSec: number;
    readonly messagesOutPerSec: number;
    /** Messages waiting in all mailboxes. */
    readonly queued: number;
    /** Bytes held by all processes, as `processInfo().heapSize` counts them. */
    readonly heapBytes: number;
  };
  readonly byKind: Readonly<Record<string, number>>;
  readonly byStatus: Readonly<Record<string, number>>;
  /** Connections counted by the name of the handler they run. */
  readonly byHandler: Readonly<Record<string, number>>;
  /** The busiest processes, at most `topN` each, only those with a non-zero value. */
  readonly top: { readonly mailbox: readonly ProcessRow[]; readonly rate: readonly ProcessRow[]; readonly heap: readonly ProcessRow[] };
  readonly tree: TreeNode;
  /** Memory, event-loop delay and GC of the whole process. */
  readonly runtime: RuntimeSample;
  /** The open Registry and PubSub instances with their busiest keys and members. */
  readonly tables: TablesSummary;
}

/** Options of `new Sampler(...)`. */
export interface SamplerOptions {
  /** Entries in each top-N list. Default 5. */
  readonly topN?: number;
  /** Samples kept for the charts. Default 120. */
  readonly historyLength?: number;
  /** More children of one kind under one parent than this are shown as a count. Default 10. */
  readonly groupAbove?: number;
  /** Most process nodes the tree shows; the rest are counted in groups. Default 200. */
  readonly treeBudget?: number;
}

/** A process as of the last sample, with its counters at that moment. */
class Entry implements ProcessRow {
  readonly pid: string;
  readonly serial: number;
  kind = '';
  status = '';
  name: string | null = null;
  handler: string | null = null;
  label: string | null = null;
  mailbox = 0;
  inRate = 0;
  outRate = 0;
  heap = 0;
  maxHeap = 0;
  links = 0;
  monitors = 0;
  parent: string | null = null;
  messagesIn = 0;
  messagesOut = 0;
  seen = 0;

  constructor(readonly ref: Pid) {
    this.pid = String(ref);
    this.serial = ref.serial;
  }

  toJSON(): ProcessRow {
    return {
      pid: this.pid,
      kind: this.kind,
      status: this.status,
      name: this.name,
      handler: this.handler,
      label: this.label,
      mailbox: this.mailbox,
      inRate: this.inRate,
      outRate: this.outRate,
      heap: this.heap,
      maxHeap: this.maxHeap,
      links: this.links,
      monitors: this.monitors,
      parent: this.parent,
    };
  }
}

/** The largest `page.size` a query may ask for. */
export const MAX_PAGE_SIZE = 100;

/** Rates are shown to one decimal; more digits would only be noise. */
function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!(Number.isInteger(v) && v > 0)) throw new TypeError(`Sampler option '${name}' must be a positive integer, got ${String(value)}`);
  return v;
}

const SORT_VALUE: Readonly<Record<SortKey, (e: Entry) => number | string>> = {
  pid: (e) => e.serial,
  kind: (e) => e.kind,
  name: (e) => e.name ?? e.handler ?? e.label ?? '',
  status: (e) => e.status,
  mailbox: (e) => e.mailbox,
  rate: (e) => e.inRate + e.outRate,
  in: (e) => e.inRate,
  out: (e) => e.outRate,
  heap: (e) => e.heap,
  links: (e) => e.links,
  monitors: (e) => e.monitors,
};

/**
 * Samples the local process table and answers the observer's questions about it
 * from the last sample. One sampler can serve any number of observer pages.
 *
 * @example
 * const sampler = new Sampler();
 * sampler.sample();
 * sampler.summary().totals.processes; // 42
 * sampler.page({ page: 0, size: 50, sort: 'mailbox', dir: 'desc' }).rows.length; // at most 50
 */
export class Sampler {
  /** Its runtime panel: observer pages `watch()` it while they are open. */
  readonly runtime = new RuntimeStats();
  readonly #entries = new Map<Pid, Entry>();
  /** The same entries by printed pid: rows name their parent that way. */
  readonly #byPrinted = new Map<string, Entry>();
  readonly #history: HistoryPoint[] = [];
  readonly #topN: number;
  readonly #historyLength: number;
  readonly #groupAbove: number;
  readonly #treeBudget: number;
  #generation = 0;
  /** `performance.now()` of the last sample; undefined before the first. */
  #sampledAt: number | undefined;
  #summary: SampleSummary | undefined;
  #summaryJson = '';

  /** Throws TypeError for an option that is not a positive integer. */
  constructor(opts: SamplerOptions = {}) {
    this.#topN = positive('topN', opts.topN, 5);
    this.#historyLength = positive('historyLength', opts.historyLength, 120);
    this.#groupAbove = positive('groupAbove', opts.groupAbove, 10);
    this.#treeBudget = positive('treeBudget', opts.treeBudget, 200);
  }

  /**
   * Reads every local process once and recomputes everything. `now` is a
   * `performance.now()` reading (tests pass their own); rates are per second of
   * the time since the previous sample, 0 on the first.
   *
   * @example
   * sampler.sample();
   */
  sample(now: number = performance.now()): void {
    const gen = ++this.#generation;
    const elapsed = this.#sampledAt === undefined ? 0 : (now - this.#sampledAt) / 1000;
    this.#sampledAt = now;
    const byKind: Record<string, number> = {};
    const byStatus: Record<string, number> = {};
    const byHandler: Record<string, number> = {};
    let inDelta = 0;
    let outDelta = 0;
    let queued = 0;
    let heapBytes = 0;
    const entries = this.#entries;
    for (const pid of processes()) {
      const info = processInfo(pid);
      if (info === undefined) continue;
      let e = entries.get(pid);
      const fresh = e === undefined;
      if (e === undefined) {
        e = new Entry(pid);
        entries.set(pid, e);
        this.#byPrinted.set(e.pid, e);
      }
      const { messagesIn, messagesOut } = info.counters;
      // A process first seen now had no counts at the previous sample.
      const din = fresh ? messagesIn : messagesIn - e.messagesIn;
      const dout = fresh ? messagesOut : messagesOut - e.messagesOut;
      e.messagesIn = messagesIn;
      e.messagesOut = messagesOut;
      e.inRate = elapsed > 0 ? round1(din / elapsed) : 0;
      e.outRate = elapsed > 0 ? round1(dout / elapsed) : 0;
      inDelta += din;
      outDelta += dout;
      e.kind = info.kind;
      e.status = info.status;
      e.name = info.registeredName ?? null;
      const { path, handler } = info.details;
      e.label = typeof path === 'string' ? path : null;
      // A connection's details name its handler: the adapter's handlerName(handler).
      e.handler = typeof handler === 'string' ? handler : null;
      e.mailbox = info.messageQueueLen;
      e.heap = info.heapSize;
      e.maxHeap = info.maxHeapSize.size;
      e.links = info.links.length;
      e.monitors = info.monitors.length;
      e.parent = info.parent === undefined ? null : String(info.parent);
      e.seen = gen;
      queued += e.mailbox;
      heapBytes += e.heap;
      byKind[e.kind] = (byKind[e.kind] ?? 0) + 1;
      byStatus[e.status] = (byStatus[e.status] ?? 0) + 1;
      if (e.handler !== null) byHandler[e.handler] = (byHandler[e.handler] ?? 0) + 1;
    }
    for (const [pid, e] of entries) {
      if (e.seen === gen) continue;
      entries.delete(pid);
      this.#byPrinted.delete(e.pid);
    }

    const at = Date.now();
    const connections = byKind.connection ?? 0;
    const inPerSec = elapsed > 0 ? round1(inDelta / elapsed) : 0;
    const outPerSec = elapsed > 0 ? round1(outDelta / elapsed) : 0;
    const runtime = this.runtime.read();
    const { heapUsed, rss } = runtime.memory;
    this.#history.push({ t: at, processes: entries.size, connections, in: inPerSec, out: outPerSec, heapUsed, rss });
    if (this.#history.length > this.#historyLength) this.#history.shift();
    this.#summary = {
      node: nodeName(),
      nodes: clusterNodes(),
      at,
      totals: { processes: entries.size, connections, messagesInPerSec: inPerSec, messagesOutPerSec: outPerSec, queued, heapBytes },
      byKind,
      byStatus,
      byHandler,
      top: {
        mailbox: this.#top((e) => e.mailbox),
        rate: this.#top((e) => e.inRate + e.outRate),
        heap: this.#top((e) => e.heap),
      },
      tree: this.#tree(),
      runtime,
      tables: sampleTables(),
    };
    this.#summaryJson = JSON.stringify(this.#summary);
  }

  /**
   * Samples unless the last sample is younger than `maxAgeMs`, so that several
   * pages ticking out of phase share one pass over the process table.
   *
   * @example
   * sampler.refresh(900);
   */
  refresh(maxAgeMs: number, now: number = performance.now()): void {
    if (this.#sampledAt === undefined || now - this.#sampledAt >= maxAgeMs) this.sample(now);
  }

  /**
   * The last sample's summary. Throws if nothing was sampled yet: call `sample()` first.
   *
   * @example
   * sampler.summary().byKind.connection; // 10000
   */
  summary(): SampleSummary {
    if (this.#summary === undefined) throw new Error('Sampler.summary() before the first sample: call sample() or refresh() first');
    return this.#summary;
  }

  /** The last summary as JSON, serialized once per sample however many pages read it. */
  summaryJson(): string {
    this.summary();
    return this.#summaryJson;
  }

  /** The chart points, oldest first, at most `historyLength`. */
  history(): readonly HistoryPoint[] {
    return this.#history;
  }

  /**
   * One page of the process table as of the last sample: filtered, sorted, at
   * most `MAX_PAGE_SIZE` rows. A page past the end comes back empty with the
   * real `total`, so a client can step back.
   *
   * @example
   * const { rows, total } = sampler.page({ page: 0, size: 50, sort: 'heap', dir: 'desc', kind: 'connection' });
   */
  page(query: PageQuery): { readonly total: number; readonly rows: ProcessRow[] } {
    const size = Math.min(query.size, MAX_PAGE_SIZE);
    const matches = this.#filter(query);
    const value = SORT_VALUE[query.sort];
    const sign = query.dir === 'asc' ? 1 : -1;
    matches.sort((a, b) => {
      const va = value(a);
      const vb = value(b);
      // Ties keep pid order, so a page does not reshuffle between samples.
      return va < vb ? -sign : va > vb ? sign : a.serial - b.serial;
    });
    const start = query.page * size;
    return { total: matches.length, rows: matches.slice(start, start + size).map((e) => e.toJSON()) };
  }

  /**
   * The last sample's message rates of one process, or undefined if it was not
   * alive then.
   *
   * @example
   * sampler.rates(pid); // { in: 12.5, out: 3 }
   */
  rates(pid: Pid): { readonly in: number; readonly out: number } | undefined {
    const e = this.#entries.get(pid);
    return e === undefined ? undefined : { in: e.inRate, out: e.outRate };
  }

  #filter(q: PageQuery): Entry[] {
    const text = q.text === undefined || q.text === '' ? undefined : q.text.toLowerCase();
    const parent = q.parent === 'root' ? null : q.parent;
    const out: Entry[] = [];
    for (const e of this.#entries.values()) {
      if (q.kind !== undefined && e.kind !== q.kind) continue;
      if (q.status !== undefined && e.status !== q.status) continue;
      if (q.handler !== undefined && e.handler !== q.handler) continue;
      if (parent !== undefined && (parent === null ? this.#parentOf(e) !== undefined : e.parent !== parent)) continue;
      if (text !== undefined && !matchesText(e, text)) continue;
      out.push(e);
    }
    return out;
  }

  /** The parent entry, if the parent was alive at the last sample. */
  #parentOf(e: Entry): Entry | undefined {
    return e.parent === null ? undefined : this.#byPrinted.get(e.parent);
  }

  #top(value: (e: Entry) => number): ProcessRow[] {
    // A small sorted array beats sorting the whole table for a handful of winners.
    const best: Entry[] = [];
    const n = this.#topN;
    for (const e of this.#entries.values()) {
      const v = value(e);
      if (v <= 0) continue;
      if (best.length === n && v <= value(best[n - 1] as Entry)) continue;
      let i = best.length;
      while (i > 0 && value(best[i - 1] as Entry) < v) i--;
      best.splice(i, 0, e);
      if (best.length > n) best.pop();
    }
    return best.map((e) => e.toJSON());
  }

  #tree(): TreeNode {
    const children = new Map<Entry | null, Entry[]>();
    for (const e of this.#entries.values()) {
      const parent = this.#parentOf(e) ?? null;
      let list = children.get(parent);
      if (list === undefined) children.set(parent, (list = []));
      list.push(e);
    }
    let budget = this.#treeBudget;
    const groupAbove = this.#groupAbove;
    const build = (owner: Entry | null): { children: TreeNode[]; groups: TreeGroup[] } => {
      const kids = children.get(owner) ?? [];
      // Connections of different handlers are different families.
      const families = new Map<string, Entry[]>();
      for (const k of kids) {
        const family = k.handler === null ? k.kind : `${k.kind}\u0000${k.handler}`;
        let list = families.get(family);
        if (list === undefined) families.set(family, (list = []));
        list.push(k);
      }
      const nodes: TreeNode[] = [];
      const groups: TreeGroup[] = [];
      for (const list of families.values()) {
        const { kind, handler } = list[0] as Entry;
        if (list.length > groupAbove || list.length > budget) {
          groups.push(handler === null ? { kind, count: list.length } : { kind, handler, count: list.length });
          continue;
        }
        budget -= list.length;
        for (const k of list) nodes.push({ pid: k.pid, kind: k.kind, name: k.name, handler: k.handler, label: k.label, ...build(k) });
      }
      return { children: nodes, groups };
    };
    return { pid: null, kind: 'node', name: nodeName(), handler: null, label: null, ...build(null) };
  }
}

function matchesText(e: Entry, text: string): boolean {
  return (
    e.pid.toLowerCase().includes(text) ||
    e.kind.toLowerCase().includes(text) ||
    (e.name !== null && e.name.toLowerCase().includes(text)) ||
    (e.handler !== null && e.handler.toLowerCase().includes(text)) ||
    (e.label !== null && e.label.toLowerCase().includes(text))
  );
}

function clusterNodes(): string[] {
  const router = remoteRouter();
  return router === null ? [] : [nodeName(), ...router.nodes()];
}
