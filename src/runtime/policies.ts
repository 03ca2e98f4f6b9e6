/**
 * Process policies: the flags a process sets on itself (`flag`, like
 * `Process.flag/2`), `hibernate`, and the bytes a process holds outside its
 * mailbox, which count against its `maxHeapSize` (see heap.ts for the measure).
 */
import { HEAP_OVER, HIBERNATED, type Proc } from './proc.js';
import { enforceHeap, requireSelf } from './process-core.js';
import { maxHeapOf, recheckHeap, setMaxHeap, type MaxHeapSize } from './heap.js';
import { trapExit } from './links.js';
import { unknownOption } from './options.js';

/** Process flags settable with `flag`. */
export interface ProcessFlags {
  trapExit: boolean;
  maxHeapSize: number | MaxHeapSize;
  fullsweepAfter: number;
}

const FLAG_NAMES: readonly string[] = ['trapExit', 'maxHeapSize', 'fullsweepAfter'];

/**
 * Sets a flag of the calling process and returns its previous value, like
 * `Process.flag/2`.
 *
 * @example
 * flag('maxHeapSize', { size: 1_000_000, kill: true, errorLogger: true });
 */
export function flag<K extends keyof ProcessFlags>(name: K, value: ProcessFlags[K]): ProcessFlags[K] {
  const me = requireSelf('flag');
  switch (name) {
    case 'trapExit':
      if (typeof value !== 'boolean') throw new TypeError(`flag 'trapExit' takes a boolean`);
      return trapExit(value) as ProcessFlags[K];
    case 'maxHeapSize': {
      const old = maxHeapOf(me);
      setMaxHeap(me, value as number | MaxHeapSize);
      enforceHeap(me);
      return old as ProcessFlags[K];
    }
    case 'fullsweepAfter': {
      if (!(Number.isInteger(value) && (value as number) >= 0)) throw new TypeError(`flag 'fullsweepAfter' takes a non-negative integer`);
      const old = me.fullsweepAfter() ?? 65535;
      me.ext().fullsweepAfter = value as number;
      return old as ProcessFlags[K];
    }
    default:
      throw unknownOption(String(name), FLAG_NAMES, 'process flags');
  }
}

/** @internal a connection reports the bytes it holds outside its mailbox. */
export function setHeld(p: Proc, bytes: number): void {
  p.held = bytes;
  if (p.maxHeap !== 0) {
    if ((p.flags & HEAP_OVER) !== 0) recheckHeap(p);
    enforceHeap(p);
  }
}

/**
 * Releases the calling process's buffers until its next message: its empty mailbox
 * array, and whatever its owner frees on hibernation (a connection: its read and
 * write buffers). V8 has no per-process heap to compact, so this frees memory for
 * the next garbage collection rather than compacting at once.
 *
 * @example
 * hibernate();
 */
export function hibernate(): void {
  const me = requireSelf('hibernate');
  if (me.mq !== null && me.mqHead >= me.mq.length && (me.extras?.mqMore ?? null) === null) {
    me.mq = null;
    me.mqHead = 0;
  }
  me.flags |= HIBERNATED;
  if (me.owner !== null) me.owner.hibernated();
  const hook = me.extras?.onHibernate;
  if (hook) hook();
}

/** @internal what `hibernate()` also releases for this process. */
export function setOnHibernate(p: Proc, fn: () => void): void {
  p.ext().onHibernate = fn;
}
