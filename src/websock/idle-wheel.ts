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
 * has run the last: closing them all in one go would queue every close ahead of
 * the next socket read, and a busy connection would wait for all of them.
 */
import { queuedRuns } from '../runtime/scheduler.js';

/** Timed-out connections let out per event-loop turn. */
export const RELEASE = 64;

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
 * wheel.delete(conn);         // the last one out stops the timer
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
    if (this.watched.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
      IdleWheel.wheels.delete(this.timeout);
    }
  }

  private tick(): void {
    for (const w of this.watched) if (w.idleTick(this)) this.due.push(w);
    if (!this.releasing && this.dueAt < this.due.length) this.release();
  }

  /** Lets out the next `RELEASE` timed-out connections, if the scheduler has caught up; again next turn while any are left. */
  private readonly release = (): void => {
    this.releasing = false;
    if (queuedRuns() < RELEASE) {
      const due = this.due;
      const end = Math.min(this.dueAt + RELEASE, due.length);
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
    setImmediate(this.release);
  };
}
