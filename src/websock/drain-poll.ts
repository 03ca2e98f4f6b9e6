/**
 * The poll that resumes connections paused by backpressure. A server's drain event
 * (ws's socket `drain`, Bun's `drain` handler) resumes one sooner; the poll covers
 * what no event reports: Deno has none, and ws's bytes waiting for compression
 * drain without one. One timer for all, running only while some connection is
 * paused and never keeping the process alive.
 */

/** What the poll tells, each tick, to look at its unwritten bytes again: a connection. */
export interface DrainWatched {
  drained(): void;
}

/** Milliseconds between looks: a paused connection reads again at most this long after its output drained. */
export const DRAIN_POLL_MS = 10;

/**
 * The connections paused by their unwritten output; one per process, `drainPoll`.
 *
 * @example
 * drainPoll.add(conn);    // conn.drained() every 10 ms from now on
 * drainPoll.delete(conn); // the last one out stops the timer
 */
export class DrainPoll {
  private readonly watched = new Set<DrainWatched>();
  private timer: ReturnType<typeof setInterval> | undefined;

  add(w: DrainWatched): void {
    this.watched.add(w);
    if (this.timer === undefined) {
      this.timer = setInterval(() => {
        for (const x of this.watched) x.drained();
      }, DRAIN_POLL_MS);
      this.timer.unref();
    }
  }

  delete(w: DrainWatched): void {
    if (this.watched.delete(w) && this.watched.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

/**
 * The process's one drain poll.
 *
 * @example
 * drainPoll.add(conn);
 */
export const drainPoll: DrainPoll = new DrainPoll();
