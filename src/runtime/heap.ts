/**
 * The measure `maxHeapSize` is checked against, and the check. V8 has no heap per
 * process, so a process's "heap" is a deterministic, documented count: its queued
 * messages at `QUEUED_MESSAGE_BYTES` each, plus the bytes it holds outside its
 * mailbox (a connection: outbound bytes not yet written to its socket).
 *
 * The check reports; killing is left to the process core, which owns death.
 */
import { report } from './logger.js';
import { HEAP_OVER, type Proc } from './proc.js';
import { rejectUnknownOptions } from './options.js';

/** Bytes each queued message counts for in `maxHeapSize` (a fixed, documented measure). */
export const QUEUED_MESSAGE_BYTES = 64;

/** `maxHeapSize` as a map, like the BEAM's `max_heap_size` flag. */
export interface MaxHeapSize {
  /** Bytes; 0 turns the limit off. Counted as documented on `processInfo().heapSize`. */
  readonly size: number;
  /** Kill the process (reason `'killed'`) when over. Default true. */
  readonly kill?: boolean;
  /** Emit a `max_heap_size` report when over. Default true. */
  readonly errorLogger?: boolean;
}

const MAX_HEAP_KEYS: readonly string[] = ['size', 'kill', 'errorLogger'];

/** @internal validates a `maxHeapSize` value and fills in its defaults; throws TypeError naming what is wrong. */
export function normalizeMaxHeap(value: number | MaxHeapSize): { size: number; kill: boolean; errorLogger: boolean } {
  const m = typeof value === 'number' ? { size: value } : value;
  if (typeof m !== 'object' || m === null || !Number.isInteger(m.size) || m.size < 0) {
    throw new TypeError(`'maxHeapSize' must be a non-negative integer of bytes or { size, kill?, errorLogger? }, got ${JSON.stringify(value)}`);
  }
  rejectUnknownOptions(m, MAX_HEAP_KEYS, 'maxHeapSize');
  if (m.kill !== undefined && typeof m.kill !== 'boolean') throw new TypeError(`'maxHeapSize.kill' must be a boolean`);
  if (m.errorLogger !== undefined && typeof m.errorLogger !== 'boolean') throw new TypeError(`'maxHeapSize.errorLogger' must be a boolean`);
  return { size: m.size, kill: m.kill ?? true, errorLogger: m.errorLogger ?? true };
}

/** @internal sets `p`'s limit; the next check reports again. */
export function setMaxHeap(p: Proc, value: number | MaxHeapSize): void {
  const m = normalizeMaxHeap(value);
  p.maxHeap = m.size;
  const e = p.ext();
  e.heapKill = m.kill;
  e.heapLog = m.errorLogger;
  p.flags &= ~HEAP_OVER;
}

/** @internal `p`'s limit as `processInfo` and `flag` show it. */
export function maxHeapOf(p: Proc): { size: number; kill: boolean; errorLogger: boolean } {
  return { size: p.maxHeap, kill: p.extras?.heapKill ?? true, errorLogger: p.extras?.heapLog ?? true };
}

/** @internal bytes counted against maxHeapSize. */
export function heapSize(p: Proc): number {
  return p.queueLength * QUEUED_MESSAGE_BYTES + p.held;
}

/**
 * @internal checks `p` against its limit: the first time it is over, reports (if
 * asked to) and returns true when it must be killed.
 */
export function overHeap(p: Proc): boolean {
  if (p.maxHeap === 0 || (p.flags & HEAP_OVER) !== 0) return false;
  const size = heapSize(p);
  if (size <= p.maxHeap) return false;
  p.flags |= HEAP_OVER;
  const kill = p.extras?.heapKill ?? true;
  if (p.extras?.heapLog ?? true) {
    report({ kind: 'max_heap_size', pid: p.pid, name: p.extras?.name, heapSize: size, limit: p.maxHeap, killed: kill });
  }
  return kill;
}

/** @internal clears the over-limit mark once the process is back under it, so a later overflow reports again. */
export function recheckHeap(p: Proc): void {
  if (heapSize(p) <= p.maxHeap) p.flags &= ~HEAP_OVER;
}
