/**
 * The idle timeout of connections: one timer for every connection with the same
 * timeout, instead of one per connection. It ticks every eighth of the timeout
 * (at least every 10 ms) and each connection counts ticks, which inbound data
 * resets, like Cowboy's idle ticks: no clock is read per message, and a
 * connection idles out between its timeout and two ticks after it. A wheel's
 * interval runs only while it has connections, and never keeps the process alive.
 */

/**
 * What a wheel ticks: a connection, which counts the ticks since its last inbound data.
 *
 * @example
 * const watched: IdleWatched = { idleTick: (wheel) => void (wheel.expired(++ticks) && close()) };
 */
export interface IdleWatched {
  idleTick(wheel: IdleWheel): void;
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
    for (const w of this.watched) w.idleTick(this);
  }
}
