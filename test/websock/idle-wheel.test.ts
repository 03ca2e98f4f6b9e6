import { describe, expect, it } from 'vitest';
import { IdleWheel, RELEASE, type IdleWatched } from '../../src/websock/idle-wheel.js';

describe('IdleWheel', () => {
  it(`lets connections that time out on one tick out ${RELEASE} at a time, a batch per event-loop turn, so socket reads get in between`, async () => {
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
    const watched: IdleWatched[] = [];
    await new Promise<void>((resolve) => {
      for (let i = 0; i < count; i++) {
        let ticks = 0;
        const w: IdleWatched = {
          idleTick: (wh) => wh.expired(++ticks) && ticks === Math.ceil(80 / 10) + 1,
          idleOut: () => {
            turnsOf.push(turn);
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
    expect(perTurn.size).toBe(Math.ceil(count / RELEASE));
    // In order of their time-out, every one of them once.
    expect([...turnsOf].sort((a, b) => a - b)).toEqual(turnsOf);
  });
});
