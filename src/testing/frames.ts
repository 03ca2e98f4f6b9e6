/**
 * The assertion core of the test kit: a log of the frames one side of a
 * connection received, and ExUnit-style waits on it. `assert` takes the first
 * frame not taken yet that matches (earlier frames that do not match stay for
 * later assertions, like `assert_receive` leaves other messages in the mailbox),
 * `refute` fails as soon as a matching frame is there, and every wait ends early
 * once the connection has closed, since no frame can follow.
 */
import { AssertionError } from 'node:assert';
import type { Frame, FrameOpcode, Payload } from '../websock/behaviour.js';
import { describeValue } from '../websock/upgrade-validation.js';

/**
 * A frame as the peer sees it on the wire: text arrives as a string, binary,
 * ping and pong payloads as bytes (empty when the sender gave none).
 *
 * @example
 * const f: WireFrame = ['text', 'Echo: hi'];
 */
export type WireFrame = readonly [opcode: 'text', data: string] | readonly [opcode: 'binary' | 'ping' | 'pong', data: Buffer];

/**
 * What an assertion looks for: a frame, compared by opcode and content (a string
 * payload and bytes compare as UTF-8, `null` equals an empty payload), or a
 * predicate that returns true for the frame wanted.
 *
 * @example
 * await conn.assertPush(['text', 'pong']);
 * await conn.assertPush(([op, data]) => op === 'text' && data.startsWith('Echo:'));
 */
export type FrameMatch = Frame | ((frame: WireFrame) => boolean);

/** How long an assertion may wait. */
export interface WaitOptions {
  /** Milliseconds to wait. Defaults: `DEFAULT_ASSERT_TIMEOUT` for assertions, `DEFAULT_REFUTE_TIMEOUT` for refutations. */
  readonly timeout?: number;
}

/**
 * How long `assertPush`, `nextFrame`, `assertClosed`, `assertTerminated` and the
 * client's `assertReceive` wait by default, in ms. Generous, because a passing
 * assertion returns as soon as its frame arrives and a failing one ends as soon
 * as the connection closes; only a connection that stays open and silent waits
 * the whole time.
 *
 * @example
 * await conn.assertPush(['text', 'slow'], { timeout: 5 * DEFAULT_ASSERT_TIMEOUT });
 */
export const DEFAULT_ASSERT_TIMEOUT = 1_000;

/**
 * How long `refutePush` and the client's `refuteReceive` watch by default, in ms
 * (ExUnit's `refute_receive` default). A refutation always waits this long when
 * it passes, so keep it short.
 *
 * @example
 * await conn.refutePush(undefined, { timeout: DEFAULT_REFUTE_TIMEOUT * 2 });
 */
export const DEFAULT_REFUTE_TIMEOUT = 100;

const OPCODES: readonly FrameOpcode[] = ['text', 'binary', 'ping', 'pong'];
const EMPTY = Buffer.alloc(0);

/** @internal the frame a peer receives for a frame a server wrote. */
export function toWire([opcode, data]: Frame): WireFrame {
  if (opcode === 'text') return ['text', data === null ? '' : typeof data === 'string' ? data : Buffer.from(data).toString()];
  return [opcode, toBytes(data)];
}

/** @internal */
export function toBytes(data: Payload): Buffer {
  if (data === null) return EMPTY;
  if (typeof data === 'string') return Buffer.from(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Throws a TypeError for anything that is neither a frame nor a predicate, so a typo fails at once, not at the timeout. */
function checkMatch(match: FrameMatch, method: string): void {
  if (typeof match === 'function') return;
  const ok =
    Array.isArray(match) &&
    match.length === 2 &&
    OPCODES.includes(match[0]) &&
    (match[1] === null || typeof match[1] === 'string' || match[1] instanceof Uint8Array);
  if (!ok) {
    throw new TypeError(
      `${method} expects a frame [opcode, data] (opcode 'text', 'binary', 'ping' or 'pong'; data a string, bytes or null) or a predicate, got ${describeValue(match)}`,
    );
  }
}

function matches(frame: WireFrame, match: FrameMatch): boolean {
  if (typeof match === 'function') return match(frame);
  if (match[0] !== frame[0]) return false;
  const want = match[1];
  if (typeof want === 'string' && typeof frame[1] === 'string') return want === frame[1];
  return toBytes(want).equals(typeof frame[1] === 'string' ? Buffer.from(frame[1]) : frame[1]);
}

/**
 * Renders a frame for an assertion message: `['text', "hi"]`,
 * `['binary', <3 bytes: 01 02 03>]`.
 *
 * @returns the rendering; long payloads are cut.
 * @example
 * formatFrame(['text', 'hi']); // ['text', "hi"]
 */
export function formatFrame(frame: WireFrame | Frame): string {
  const [opcode, data] = frame;
  if (typeof data === 'string') {
    const shown = data.length > 200 ? `${JSON.stringify(data.slice(0, 200))}... (${data.length} chars)` : JSON.stringify(data);
    return `['${opcode}', ${shown}]`;
  }
  const bytes = toBytes(data);
  const hex = [...bytes.subarray(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  const more = bytes.length > 16 ? ' ...' : '';
  return `['${opcode}', <${bytes.length} byte${bytes.length === 1 ? '' : 's'}${bytes.length === 0 ? '' : `: ${hex}${more}`}>]`;
}

function formatMatch(match: FrameMatch | undefined): string {
  if (match === undefined) return 'any frame';
  return typeof match === 'function' ? `a frame satisfying ${formatPredicate(match)}` : formatFrame(match);
}

/** @internal a predicate as an assertion message shows it: its source, cut short. */
export function formatPredicate(fn: (...args: never[]) => unknown): string {
  const src = fn.toString().replace(/\s+/g, ' ');
  return src.length > 120 ? `${src.slice(0, 120)}...` : src;
}

/** @internal */
export function formatList(frames: readonly WireFrame[]): string {
  return frames.length === 0 ? 'none' : frames.map(formatFrame).join(', ');
}

/**
 * @internal an AssertionError whose stack points at the test line that made the
 * assertion, not at the timer that gave up on it.
 */
export class CallSite {
  private readonly holder: { stack?: string } = {};

  constructor(caller: (...args: never[]) => unknown) {
    Error.captureStackTrace(this.holder, caller);
  }

  fail(message: string, details?: { actual: unknown; expected: unknown; operator: string }): AssertionError {
    const err = new AssertionError({ message, ...details });
    const frames = this.holder.stack?.split('\n').slice(1).join('\n');
    if (frames !== undefined) err.stack = `AssertionError: ${message}\n${frames}`;
    return err;
  }
}

/** @internal */
export function timeoutOf(opts: WaitOptions | undefined, fallback: number, method: string): number {
  const ms = opts?.timeout ?? fallback;
  if (typeof ms !== 'number' || !(ms >= 0) || ms === Infinity) {
    throw new TypeError(`${method}: option 'timeout' must be a finite, non-negative number of ms, got ${describeValue(ms)}`);
  }
  return ms;
}

/** @internal wakes whoever waits on a connection whenever something they may wait for changed. */
export class Signal {
  private readonly waiters = new Set<() => void>();

  /** Calls `wake` on every `notify` until the returned function is called. */
  subscribe(wake: () => void): () => void {
    this.waiters.add(wake);
    return () => this.waiters.delete(wake);
  }

  notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

/**
 * @internal the frames one side received, in order, with the waits the
 * assertions are built on. Once ended (the connection closed), no frame follows.
 */
export class FrameLog {
  readonly frames: WireFrame[] = [];
  private readonly taken: boolean[] = [];
  private ended = false;

  /**
   * @param side what the frames are, for messages: "pushed" (by the handler) or "received" (by the client).
   * @param state describes the connection's state for a failure message.
   * @param signal notified on every frame and at the end.
   */
  constructor(
    private readonly side: string,
    private readonly state: () => string,
    readonly signal: Signal,
  ) {}

  add(frame: WireFrame): void {
    this.frames.push(frame);
    this.taken.push(false);
    this.signal.notify();
  }

  /** No frame will follow; pending waits that found nothing fail now. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.signal.notify();
  }

  /** Frames not taken by an assertion yet. */
  untaken(): WireFrame[] {
    const out: WireFrame[] = [];
    for (let i = 0; i < this.frames.length; i++) if (!this.taken[i]) out.push(this.frames[i] as WireFrame);
    return out;
  }

  async assert(match: FrameMatch, opts: WaitOptions | undefined, site: CallSite, method: string): Promise<WireFrame> {
    checkMatch(match, method);
    const ms = timeoutOf(opts, DEFAULT_ASSERT_TIMEOUT, method);
    const fail = (): never => {
      throw site.fail(
        `${method}: expected a ${this.side} frame ${formatMatch(match)} within ${ms} ms, but none came ` +
          `(${this.state()}).\n  ${cap(this.side)} and not yet asserted: ${formatList(this.untaken())}`,
      );
    };
    return waitFor(() => this.take(match) ?? (this.ended ? fail() : undefined), this.signal, ms, fail);
  }

  async next(opts: WaitOptions | undefined, site: CallSite, method: string): Promise<WireFrame> {
    const ms = timeoutOf(opts, DEFAULT_ASSERT_TIMEOUT, method);
    const fail = (): never => {
      throw site.fail(
        `${method}: expected a ${this.side} frame within ${ms} ms, but none came (${this.state()}).\n` +
          `  All ${this.side} so far (each already taken): ${formatList(this.frames)}`,
      );
    };
    return waitFor(() => this.take(undefined) ?? (this.ended ? fail() : undefined), this.signal, ms, fail);
  }

  async refute(match: FrameMatch | undefined, opts: WaitOptions | undefined, site: CallSite, method: string): Promise<void> {
    if (match !== undefined) checkMatch(match, method);
    const ms = timeoutOf(opts, DEFAULT_REFUTE_TIMEOUT, method);
    const check = (): null | undefined => {
      const i = this.find(match);
      if (i >= 0) {
        const what = match === undefined ? '' : `${formatMatch(match)} `;
        throw site.fail(`${method}: expected no ${this.side} frame ${what}for ${ms} ms, but got ${formatFrame(this.frames[i] as WireFrame)}`);
      }
      return this.ended ? null : undefined;
    };
    await waitFor(check, this.signal, ms, () => null);
  }

  /** Marks and returns the first untaken frame that matches (any, for `undefined`). */
  private take(match: FrameMatch | undefined): WireFrame | undefined {
    const i = this.find(match);
    if (i < 0) return undefined;
    this.taken[i] = true;
    return this.frames[i];
  }

  /** The index of the first untaken frame that matches, or -1. */
  private find(match: FrameMatch | undefined): number {
    for (let i = 0; i < this.frames.length; i++) {
      if (!this.taken[i] && (match === undefined || matches(this.frames[i] as WireFrame, match))) return i;
    }
    return -1;
  }
}

/**
 * @internal resolves with `ready()`'s first defined result, tried now and each
 * time `signal` fires; at `ms` it settles with `onTimeout()`. What
 * either throws (a failed assertion, a predicate's own error) rejects.
 */
export function waitFor<T>(ready: () => T | undefined, signal: Signal, ms: number, onTimeout: () => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let unsubscribe: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const settle = (get: () => T | undefined): boolean => {
      let v: T | undefined;
      try {
        v = get();
      } catch (err) {
        reject(err);
        return true;
      }
      if (v === undefined) return false;
      resolve(v);
      return true;
    };
    const stop = (): void => {
      clearTimeout(timer);
      unsubscribe?.();
    };
    if (settle(ready)) return;
    unsubscribe = signal.subscribe(() => {
      if (settle(ready)) stop();
    });
    timer = setTimeout(() => {
      stop();
      settle(onTimeout);
    }, ms);
  });
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * @internal waits for `get()` to report a close and checks each key `expected`
 * gives. `open` describes the connection still open after the timeout; `closedAs`
 * renders a close that differs from the one expected.
 */
export async function assertClose<C extends object>(
  get: () => C | undefined,
  signal: Signal,
  expected: Partial<C>,
  opts: WaitOptions | undefined,
  site: CallSite,
  texts: { readonly open: () => string; readonly closedAs: (close: C) => string },
): Promise<C> {
  const ms = timeoutOf(opts, DEFAULT_ASSERT_TIMEOUT, 'assertClosed');
  const want = describeValue(expected);
  const close = await waitFor(get, signal, ms, () => {
    throw site.fail(`assertClosed: expected the connection to close ${want} within ${ms} ms, but it is still open.\n  ${texts.open()}`);
  });
  for (const key of Object.keys(expected) as (keyof C)[]) {
    if (expected[key] !== undefined && expected[key] !== close[key]) {
      throw site.fail(`assertClosed: expected a close ${want}, but ${texts.closedAs(close)}`, { actual: close, expected, operator: 'assertClosed' });
    }
  }
  return close;
}
