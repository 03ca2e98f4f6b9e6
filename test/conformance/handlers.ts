/**
 * Handlers for the conformance suite, and the recorder that lets a test see
 * every callback they ran: which one, as which process, with what input.
 *
 * Every handler built by `scripted` answers two messages in `handleInfo` before
 * the script sees anything: `pushMessage(frames)` pushes those frames, and
 * `inside(fn)` runs `fn` in the connection process and returns its result. So a
 * test can act as the connection (`setActive`, `hibernate`, ...) from outside.
 */
import type { Pid } from '../../src/runtime/pid.js';
import { send, self } from '../../src/runtime/process.js';
import {
  ok,
  push,
  type CloseInfo,
  type CloseReason,
  type ControlFrame,
  type Frames,
  type HandleResult,
  type InFrame,
  type WebSock,
} from '../../src/websock/behaviour.js';
import { Signal, within } from './client.js';

export type State = unknown;
export type Result = HandleResult<State> | PromiseLike<HandleResult<State>>;
export type CallbackName = 'init' | 'handleIn' | 'handleControl' | 'handleInfo' | 'terminate';

/** One callback invocation as the recorder saw it. */
export interface Call {
  readonly callback: CallbackName;
  /** `self()` when the callback started. */
  readonly self: Pid;
  /** init's args, the frame, the info message, or terminate's reason. */
  readonly input: unknown;
  readonly state: State;
  /** terminate's third argument. */
  readonly info?: CloseInfo;
}

/** What terminate received. */
export interface Termination {
  readonly reason: CloseReason;
  readonly state: State;
  readonly info: CloseInfo;
  readonly self: Pid;
}

/** Collects the calls of one or more connections' callbacks; tests wait on it. */
export class Recorder {
  readonly calls: Call[] = [];
  private readonly signal = new Signal();

  record(call: Call): void {
    this.calls.push(call);
    this.signal.notify();
  }

  /** Calls of `callback` so far (of the connection `pid`, when given). */
  of(callback: CallbackName, pid?: Pid): Call[] {
    return this.calls.filter((c) => c.callback === callback && (pid === undefined || c.self === pid));
  }

  count(callback: CallbackName, pid?: Pid): number {
    return this.of(callback, pid).length;
  }

  /** The `n`th call (from 0) of `callback`, once it happens. */
  async nth(callback: CallbackName, n = 0, ms?: number): Promise<Call> {
    await within(this.until(() => this.of(callback).length > n), `${callback} call #${n + 1}`, ms);
    return this.of(callback)[n] as Call;
  }

  /** The pid of the `n`th connection to run init. */
  async pid(n = 0): Promise<Pid> {
    return (await this.nth('init', n)).self;
  }

  /** What terminate received, once it ran (for connection `pid`, or the first to end). */
  async terminated(pid?: Pid, ms?: number): Promise<Termination> {
    await within(this.until(() => this.of('terminate', pid).length > 0), 'terminate', ms);
    const c = this.of('terminate', pid)[0] as Call;
    return { reason: c.input as CloseReason, state: c.state, info: c.info as CloseInfo, self: c.self };
  }

  /** Resolves once `cond` holds, re-checked after every recorded call. */
  async until(cond: () => boolean): Promise<void> {
    await this.signal.until(cond);
  }
}

const PUSH = Symbol('push');
const RUN = Symbol('run');

interface PushMessage {
  readonly [PUSH]: Frames;
}
interface RunMessage {
  readonly [RUN]: (state: State) => Result;
}

/** A message that makes any scripted handler push `frames`. */
export function pushMessage(frames: Frames): PushMessage {
  return { [PUSH]: frames };
}

/** A message that makes any scripted handler run `fn(state)` as its handleInfo result. */
export function inside(fn: (state: State) => Result): RunMessage {
  return { [RUN]: fn };
}

/**
 * Runs `fn` inside connection `pid` (as its handleInfo) and resolves with what
 * it returns, or rejects with what it throws. The connection itself goes on.
 */
export function runIn<T>(pid: Pid, fn: () => T | Promise<T>): Promise<T> {
  return within(
    new Promise<T>((resolve, reject) => {
      send(
        pid,
        inside(async (state) => {
          try {
            resolve(await fn());
          } catch (err) {
            reject(err);
          }
          return ok(state);
        }),
      );
    }),
    'a function run inside the connection',
  );
}

/** The callbacks a script may set; each defaults to the echo behaviour below. */
export interface Script {
  init?(args: unknown): Result;
  handleIn?(frame: InFrame, state: State): Result;
  handleControl?(frame: ControlFrame, state: State): Result;
  handleInfo?(message: unknown, state: State): Result;
  terminate?(reason: CloseReason, state: State, info: CloseInfo): unknown;
}

/** Which optional callbacks the handler leaves out. */
export interface Without {
  readonly handleControl?: boolean;
  readonly terminate?: boolean;
}

/**
 * A handler that records every call in `rec` and otherwise does what `script`
 * says: by default init keeps its args as state, handleIn echoes, handleControl
 * and handleInfo keep going, terminate does nothing.
 */
export function scripted(rec: Recorder, script: Script = {}, omit: Without = {}): WebSock<State> {
  const handler: WebSock<State> = {
    init(args) {
      rec.record({ callback: 'init', self: self(), input: args, state: undefined });
      return script.init !== undefined ? script.init(args) : ok(args ?? null);
    },
    handleIn(frame, state) {
      rec.record({ callback: 'handleIn', self: self(), input: frame, state });
      return script.handleIn !== undefined ? script.handleIn(frame, state) : push([frame[1].opcode, frame[0]], state);
    },
    handleInfo(message, state) {
      rec.record({ callback: 'handleInfo', self: self(), input: message, state });
      if (typeof message === 'object' && message !== null) {
        if (PUSH in message) return push((message as PushMessage)[PUSH], state);
        if (RUN in message) return (message as RunMessage)[RUN](state);
      }
      return script.handleInfo !== undefined ? script.handleInfo(message, state) : ok(state);
    },
  };
  if (omit.handleControl !== true) {
    handler.handleControl = (frame, state) => {
      rec.record({ callback: 'handleControl', self: self(), input: frame, state });
      return script.handleControl !== undefined ? script.handleControl(frame, state) : ok(state);
    };
  }
  if (omit.terminate !== true) {
    handler.terminate = (reason, state, info) => {
      rec.record({ callback: 'terminate', self: self(), input: reason, state, info });
      return script.terminate?.(reason, state, info);
    };
  }
  return handler;
}

/** Resolves after `ms`: lets a callback return a promise that settles later. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A promise with its resolve function, for handlers that wait on the test. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
