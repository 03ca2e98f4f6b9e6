import { describe, expect, it } from 'vitest';
import { IdleWheel, RELEASE, RELEASE_PER_MS, type IdleWatched } from '../../src/websock/idle-wheel.js';

describe('IdleWheel', () => {
  it(`lets connections that time out on one tick out ${RELEASE} at once, then ${RELEASE_PER_MS} a millisecond, never more than ${RELEASE} in one event-loop turn`, async () => {
    const wheel = IdleWheel.for(80);
    const count = RELEASE * 3 + 7;
    // A chain of immediates counts event-loop turns; each time-out notes the turn it came in.
    let turn = 0;
    let counting = true;
    const countTurns = (): void => {
      turn++;
      if (counting) setImmediate(countTurns);
    };
    setImmediate(countTurns);
    const turnsOf: number[] = [];
    const timesOf: number[] = [];
    const watched: IdleWatched[] = [];
    await new Promise<void>((resolve) => {
      for (let i = 0; i < count; i++) {
        let ticks = 0;
        const w: IdleWatched = {
          idleTick: (wh) => wh.expired(++ticks) && ticks === Math.ceil(80 / 10) + 1,
          idleOut: () => {
            turnsOf.push(turn);
            timesOf.push(performance.now());
            if (turnsOf.length === count) resolve();
          },
        };
        watched.push(w);
        wheel.add(w);
      }
    });
    counting = false;
    for (const w of watched) wheel.delete(w);
    const perTurn = new Map<number, number>();
    for (const t of turnsOf) perTurn.set(t, (perTurn.get(t) ?? 0) + 1);
    expect(Math.max(...perTurn.values())).toBe(RELEASE);
    expect(perTurn.get(turnsOf[0] as number)).toBe(RELEASE);
    // The rest follow at the rate, at the soonest: later on a busy machine, never sooner (a timer may fire up to a millisecond early by its own rounding).
    const spanMs = (timesOf[count - 1] as number) - (timesOf[0] as number);
    expect(spanMs).toBeGreaterThanOrEqual((count - RELEASE) / RELEASE_PER_MS - 2);
    // In order of their time-out, every one of them once.
    expect([...turnsOf].sort((a, b) => a - b)).toEqual(turnsOf);
  });
});

describe('IdleWheel lifetime', () => {
  const quiet: IdleWatched = { idleTick: () => false, idleOut: () => undefined };

  it('keeps its wheel and interval when its last connection goes, and stops at the next tick with none', async () => {
    const wheel = IdleWheel.for(40);
    wheel.add(quiet);
    expect(wheel.running).toBe(true);
    wheel.delete(quiet);
    // A connection coming back before the next tick finds the same wheel, still running.
    expect(IdleWheel.for(40)).toBe(wheel);
    expect(wheel.running).toBe(true);
    const again: IdleWatched = { idleTick: () => false, idleOut: () => undefined };
    wheel.add(again);
    wheel.delete(again);
    // The tick (every 10 ms for a 40 ms timeout) that finds it empty stops it and forgets it.
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(wheel.running).toBe(false);
    const next = IdleWheel.for(40);
    expect(next).not.toBe(wheel);
    next.add(quiet);
    expect(next.running).toBe(true);
    next.delete(quiet);
  });
});
