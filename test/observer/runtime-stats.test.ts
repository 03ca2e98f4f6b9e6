import { spawnSync } from 'node:child_process';
import { setImmediate as turn, setTimeout as wait } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { RuntimeStats, type RuntimeSample } from '../../src/observer/runtime-stats.js';

/** Allocates short-lived garbage, a turn of the event loop at a time, until `stats` has seen a GC. */
async function untilCollected(stats: RuntimeStats): Promise<RuntimeSample> {
  for (;;) {
    let keep: number[][] = [];
    for (let i = 0; i < 2_000; i++) keep.push(new Array<number>(100).fill(i));
    keep = [];
    // GC entries are delivered after the collection, on a later turn.
    await turn();
    const sample = stats.read();
    if ((sample.gc?.totalCount ?? 0) > 0) return sample;
  }
}

describe('RuntimeStats', () => {
  it('reads memory whether watched or not, and nothing of delay or GC while unwatched', () => {
    const sample = new RuntimeStats().read();
    expect(sample.memory.heapUsed).toBeGreaterThan(0);
    expect(sample.memory.rss).toBeGreaterThanOrEqual(sample.memory.heapTotal);
    expect(sample.memory.external).toBeGreaterThanOrEqual(0);
    expect(sample.eventLoopDelay).toBeNull();
    expect(sample.gc).toBeNull();
    expect(sample.uptimeSec).toBeGreaterThanOrEqual(0);
  });

  it('measures event-loop delay per read while watched, a stall included', async () => {
    const stats = new RuntimeStats();
    stats.watch();
    try {
      // The histogram measures between its own ticks: let it tick before stalling.
      await wait(50);
      const until = Date.now() + 60;
      while (Date.now() < until);
      // The histogram samples on its own timer: give it a few ticks after the stall.
      await wait(100);
      const delay = stats.read().eventLoopDelay;
      expect(delay).not.toBeNull();
      expect(delay?.max).toBeGreaterThanOrEqual(50);
      expect(delay?.p50).toBeLessThanOrEqual(delay?.p99 ?? 0);
      expect(delay?.min).toBeLessThanOrEqual(delay?.mean ?? 0);
      // A read starts the histogram over: right after it, there is no sample yet.
      expect(stats.read().eventLoopDelay).toBeNull();
    } finally {
      stats.unwatch();
    }
  });

  it('counts garbage collections and their pauses while watched', async () => {
    const stats = new RuntimeStats();
    stats.watch();
    try {
      const sample = await untilCollected(stats);
      const gc = sample.gc as NonNullable<RuntimeSample['gc']>;
      expect(gc.totalPauseMs).toBeGreaterThan(0);
      expect(Object.values(gc.totalByKind).reduce((a, b) => a + b, 0)).toBe(gc.totalCount);
      expect(Object.keys(gc.totalByKind).every((k) => ['minor', 'major', 'incremental', 'weakcb'].includes(k))).toBe(true);
    } finally {
      stats.unwatch();
    }
  });

  it('runs from the first watch to the last unwatch, then measures nothing', () => {
    const stats = new RuntimeStats();
    stats.watch();
    stats.watch();
    stats.unwatch();
    expect(stats.watching).toBe(true);
    stats.unwatch();
    expect(stats.watching).toBe(false);
    stats.unwatch();
    expect(stats.watching).toBe(false);
    expect(stats.read()).toMatchObject({ eventLoopDelay: null, gc: null });
  });

  it('keeps no handle alive: a process that watches and never unwatches still exits', () => {
    const script = `
      import { RuntimeStats } from './src/observer/runtime-stats.ts';
      const stats = new RuntimeStats();
      stats.watch();
      console.log(stats.watching);
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    // Killed at the timeout (status null) if a handle kept it running.
    expect(child.status, child.stderr).toBe(0);
    expect(child.stdout.trim()).toBe('true');
  });
});
