/**
 * The idle timeout of connections: one timer for every connection with the same
 * timeout, instead of one per connection. It ticks every eighth of the timeout
 * (at least every 10 ms) and each connection counts ticks, which inbound data
 * resets, like Cowboy's idle ticks: no clock is read per message, and a
 * connection idles out between its timeout and two ticks after it. A wheel's
 * interval runs only while it has connections, and never keeps the process alive.
 *
 * Connections that idle out on the same tick (thousands, after a deploy or a
 * network blip) are let out `RELEASE` at a time, each batch once the scheduler
 * has run the last, and past the first batch `RELEASE_PER_MS` a millisecond:
 * closing them all in one go would queue every close ahead of the next socket
 * read, and their peers' answers would come back together, so a busy connection
 * would wait for all of them. 10,000 idling out together close over 2.5 s.
 *
 * When its last connection goes, a wheel stops at its next tick rather than at
 * once, so that a server whose connections come and go one at a time (its count
 * often at 0) keeps one wheel and one interval instead of making both again for
 * each connection; the interval is unref'd either way.
 */
import { queuedRuns } from '../runtime/scheduler.js';

/** Timed-out connections let out per event-loop turn at most. */
export const RELEASE = 64;
/**
 * Timed-out connections let out per millisecond once the first `RELEASE` are out
 * (see `release`): 4,000 closes a second, about a third of a core on this project's
 * machine (a close costs 90-120 µs of CPU, its answer included).
 */
export const RELEASE_PER_MS = 4;

/**
 * What a wheel ticks: a connection, which counts the ticks since its last inbound data.
 *
 * @example
 * const watched: IdleWatched = { idleTick: (wheel) => wheel.expired(++ticks), idleOut: () => close() };
 */
export interface IdleWatched {
  /** One tick: true when this tick makes it idle past the timeout (the wheel then calls `idleOut`, maybe a few turns later). */
  idleTick(wheel: IdleWheel): boolean;
  /** Its turn to time out came (it checks again whether data came in the meantime). */
  idleOut(): void;
}

/**
 * The wheel of one idle timeout, shared by every connection with that timeout.
 *
 * @example
 * const wheel = IdleWheel.for(60_000);
 * wheel.add(conn);            // conn.idleTick(wheel) every 7.5 s from now on
 * if (wheel.expired(ticks)) close();
 * wheel.delete(conn);         // the next tick with none left stops the timer
 */
export class IdleWheel {
  private static readonly wheels = new Map<number, IdleWheel>();
  private readonly watched = new Set<IdleWatched>();
  private timer: NodeJS.Timeout | undefined;
  private readonly interval: number;
  /** Ticks that cover the timeout; one more, since data may have come just after a tick. */
  private readonly limit: number;
  /** Timed out, not yet let out: from `dueAt` on. */
  private due: (IdleWatched | undefined)[] = [];
  private dueAt = 0;
  private releasing = false;
  /** Connections that may be let out now: `RELEASE_PER_MS` more every millisecond, up to `RELEASE`. */
  private allowance = RELEASE;
  private allowanceAt = 0;

  private constructor(private readonly timeout: number) {
    this.interval = Math.max(10, Math.floor(timeout / 8));
    this.limit = Math.ceil(timeout / this.interval) + 1;
  }

  /** The wheel for `timeout` ms (a positive, finite number). */
  static for(timeout: number): IdleWheel {
    let w = IdleWheel.wheels.get(timeout);
    if (w === undefined) {
      w = new IdleWheel(timeout);
      IdleWheel.wheels.set(timeout, w);
    }
    return w;
  }

  /** True when `ticks` ticks without inbound data cover this wheel's timeout. */
  expired(ticks: number): boolean {
    return ticks >= this.limit;
  }

  add(watched: IdleWatched): void {
    this.watched.add(watched);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), this.interval);
      this.timer.unref();
    }
  }

  delete(watched: IdleWatched): void {
    this.watched.delete(watched);
  }

  /** True while its interval runs: from its first connection until a tick finds it has none. */
  get running(): boolean {
    return this.timer !== undefined;
  }

  private tick(): void {
    if (this.watched.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      IdleWheel.wheels.delete(this.timeout);
      return;
    }
    for (const w of this.watched) if (w.idleTick(this)) this.due.push(w);
    if (!this.releasing && this.dueAt < this.due.length) this.release();
  }

  /**
   * Lets out the timed-out connections the allowance covers (at most `RELEASE`),
   * if the scheduler has caught up; again next turn while any are left, or once
   * the allowance has grown back. Each close sends a close frame whose answer
   * comes back a round trip later, and libuv hands every socket ready then to one
   * event-loop turn: letting closes out at a steady rate keeps those answers
   * from arriving all together.
   */
  private readonly release = (): void => {
    this.releasing = false;
    const now = performance.now();
    this.allowance = Math.min(RELEASE, this.allowance + (now - this.allowanceAt) * RELEASE_PER_MS);
    this.allowanceAt = now;
    if (this.allowance >= 1 && queuedRuns() < RELEASE) {
      const due = this.due;
      const end = Math.min(this.dueAt + Math.floor(this.allowance), due.length);
      this.allowance -= end - this.dueAt;
      for (let i = this.dueAt; i < end; i++) {
        const w = due[i] as IdleWatched;
        due[i] = undefined;
        w.idleOut();
      }
      this.dueAt = end;
      if (end === due.length) {
        this.due = [];
        this.dueAt = 0;
        return;
      }
    }
    this.releasing = true;
    if (this.allowance >= 1) setImmediate(this.release);
    else setTimeout(this.release, Math.ceil((1 - this.allowance) / RELEASE_PER_MS)).unref();
  };
}
