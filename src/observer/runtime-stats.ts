/**
 * The observer's runtime panel: memory, event-loop delay and garbage collection
 * of the whole JavaScript process. Memory is read on demand; the event-loop delay
 * histogram and the GC observer run only while someone watches (an observer page
 * is open), so a mounted observer that nobody looks at costs nothing, and neither
 * holds a handle that keeps Node alive. Bun has no GC performance entries: there
 * `gc` stays null.
 */
import { PerformanceObserver, constants, monitorEventLoopDelay, type IntervalHistogram, type PerformanceEntry } from 'node:perf_hooks';

/** Bytes, as `process.memoryUsage()` reports them. */
export interface MemorySample {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

/** Event-loop delay in milliseconds over one interval. */
export interface DelaySample {
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** Garbage collections: during the last interval, and since the first `watch()`. */
export interface GcSample {
  /** Collections during the last interval. */
  readonly count: number;
  /** Milliseconds spent in them. */
  readonly pauseMs: number;
  /** Since the first `watch()`, per kind: `minor`, `major`, `incremental`, `weakcb`. */
  readonly totalByKind: Readonly<Record<string, number>>;
  readonly totalCount: number;
  readonly totalPauseMs: number;
}

/** One reading of the runtime panel. */
export interface RuntimeSample {
  readonly memory: MemorySample;
  /** Null while nobody watches, before the first delay sample, or where unsupported. */
  readonly eventLoopDelay: DelaySample | null;
  /** Null while nobody watches, or where the runtime has no GC entries (Bun). */
  readonly gc: GcSample | null;
  /** Seconds since the process started. */
  readonly uptimeSec: number;
}

/** The delay histogram samples this often, in ms: fine enough to see a stall of one tick. */
const RESOLUTION_MS = 10;

const GC_KINDS: ReadonlyMap<number, string> = new Map([
  [constants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
]);

// The static is newer than the type definitions installed here.
const gcObservable = (PerformanceObserver as unknown as { readonly supportedEntryTypes?: readonly string[] }).supportedEntryTypes?.includes('gc') === true;

function ms(nanoseconds: number): number {
  return Math.round(nanoseconds / 1e4) / 100;
}

function delayOf(h: IntervalHistogram): DelaySample | null {
  // Bun's histogram has no count; a histogram that saw no sample reports NaN or huge minimums.
  if (h.count === 0 || !Number.isFinite(h.mean) || h.mean === 0) return null;
  return { min: ms(h.min), mean: ms(h.mean), p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
}

/**
 * Reads memory, event-loop delay and GC for the observer. `watch()` and
 * `unwatch()` are counted: the delay histogram and the GC observer run from the
 * first `watch()` to the last `unwatch()`.
 *
 * @example
 * const stats = new RuntimeStats();
 * stats.watch();
 * setTimeout(() => {
 *   stats.read().eventLoopDelay?.p99; // 10.4 (ms)
 *   stats.unwatch();
 * }, 1000);
 */
export class RuntimeStats {
  #watchers = 0;
  #histogram: IntervalHistogram | undefined;
  #gcObserver: PerformanceObserver | undefined;
  #gcCount = 0;
  #gcPause = 0;
  readonly #gcTotalByKind: Record<string, number> = {};
  #gcTotalCount = 0;
  #gcTotalPause = 0;

  /** True between the first `watch()` and the last `unwatch()`. */
  get watching(): boolean {
    return this.#watchers > 0;
  }

  /**
   * Starts measuring delay and GC unless already measuring.
   *
   * @example
   * stats.watch(); // an observer page opened
   */
  watch(): void {
    if (this.#watchers++ > 0) return;
    try {
      this.#histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
      this.#histogram.enable();
    } catch {
      // A runtime without the histogram shows no delay; the rest of the panel still works.
      this.#histogram = undefined;
    }
    if (gcObservable) {
      this.#gcObserver = new PerformanceObserver((list) => this.#collected(list.getEntries()));
      this.#gcObserver.observe({ entryTypes: ['gc'] });
    }
  }

  /**
   * Stops measuring once the last watcher is gone.
   *
   * @example
   * stats.unwatch(); // the observer page closed
   */
  unwatch(): void {
    if (this.#watchers === 0 || --this.#watchers > 0) return;
    this.#histogram?.disable();
    this.#histogram = undefined;
    this.#gcObserver?.disconnect();
    this.#gcObserver = undefined;
    this.#gcCount = 0;
    this.#gcPause = 0;
  }

  /**
   * Memory now; delay and GC since the previous `read()` (the histogram starts
   * over), with GC totals since the first `watch()`.
   *
   * @example
   * stats.read().memory.heapUsed; // 48234496
   */
  read(): RuntimeSample {
    const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
    const h = this.#histogram;
    const eventLoopDelay = h === undefined ? null : delayOf(h);
    h?.reset();
    let gc: GcSample | null = null;
    if (this.#gcObserver !== undefined) {
      gc = {
        count: this.#gcCount,
        pauseMs: Math.round(this.#gcPause * 100) / 100,
        totalByKind: { ...this.#gcTotalByKind },
        totalCount: this.#gcTotalCount,
        totalPauseMs: Math.round(this.#gcTotalPause * 100) / 100,
      };
      this.#gcCount = 0;
      this.#gcPause = 0;
    }
    return { memory: { rss, heapUsed, heapTotal, external, arrayBuffers }, eventLoopDelay, gc, uptimeSec: Math.round(process.uptime()) };
  }

  #collected(entries: readonly PerformanceEntry[]): void {
    for (const e of entries) {
      const kind = GC_KINDS.get((e as { readonly detail?: { readonly kind?: number } }).detail?.kind ?? -1) ?? 'other';
      this.#gcCount++;
      this.#gcPause += e.duration;
      this.#gcTotalCount++;
      this.#gcTotalPause += e.duration;
      this.#gcTotalByKind[kind] = (this.#gcTotalByKind[kind] ?? 0) + 1;
    }
  }
}
