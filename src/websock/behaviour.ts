/**
 * The WebSock behaviour: what an application module implements so that any
 * beamsock server adapter can host it, and the results its callbacks return.
 *
 * Mirrors Elixir's `WebSock` (0.5.3): `init`, `handleIn`, `handleControl`
 * (optional), `handleInfo`, `terminate` (optional). Each callback may return its
 * result or a promise of it; the connection handles one callback at a time.
 */
import type { ExitReason } from '../runtime/reasons.js';
import type { MaybePromise } from '../runtime/gen-server.js';

export type { MaybePromise };

/** Opcodes of the frames a handler pushes. */
export type FrameOpcode = 'text' | 'binary' | 'ping' | 'pong';

/** A frame payload: text, bytes, or nothing. */
export type Payload = string | Uint8Array | null;

/**
 * An outbound frame, `[opcode, payload]`, like Elixir's `{:text, "hi"}`.
 *
 * @example
 * const frame: Frame = ['text', 'hello'];
 */
export type Frame = readonly [opcode: FrameOpcode, data: Payload];

/** One frame or a list of frames, sent in order. */
export type Frames = Frame | readonly Frame[];

/**
 * How a stop closes the socket: a close code and an optional reason (text or
 * bytes, at most 123 bytes of UTF-8; `null` or absent for none), Elixir's
 * `{code, reason}`. An object, so the compiler never mistakes it for a state.
 *
 * @example
 * const detail: CloseDetail = { code: 4000, reason: 'room closed' };
 */
export interface CloseDetail {
  readonly code: number;
  readonly reason?: Payload | undefined;
}

/** What `handleIn` receives: one whole message (continuations joined). Text arrives as a string, binary as a Buffer. */
export type InFrame = readonly [data: string, meta: { readonly opcode: 'text' }] | readonly [data: Buffer, meta: { readonly opcode: 'binary' }];

/** What `handleControl` receives: a ping or pong payload (the pong to a ping has already been sent). */
export type ControlFrame = readonly [data: Buffer, meta: { readonly opcode: 'ping' | 'pong' }];

/** Why a connection ended, as `terminate` receives it. */
export type CloseReason = 'normal' | 'remote' | 'shutdown' | 'timeout' | { readonly error: unknown };

/** Details of the close handed to `terminate` beside the reason. */
export interface CloseInfo {
  /** The code the peer sent, when the peer closed (`1005` if its close frame had none). */
  readonly remoteCode: number | undefined;
  /** The reason text the peer sent, when the peer closed. */
  readonly remoteReason: string | undefined;
  /** The code beamsock sent, when it sent a close frame (undefined when the TCP connection dropped). */
  readonly sentCode: number | undefined;
}

/** Push frames and keep going with a new state. */
export interface PushResult<S> {
  readonly type: 'push';
  readonly frames: Frames;
  readonly state: S;
}

/** Same as push; kept for compatibility with Phoenix-style handlers (`{:reply, term, frames, state}`). */
export interface ReplyResult<S> {
  readonly type: 'reply';
  readonly term: unknown;
  readonly frames: Frames;
  readonly state: S;
}

/** Keep going with a new state. */
export interface OkResult<S> {
  readonly type: 'ok';
  readonly state: S;
}

/**
 * Close the connection. `reason` decides the close code (unless `closeDetail` is
 * given) and what `terminate` sees: `'normal'` is 1000 and `normal`;
 * `{ shutdown: 'restart' }` is 1012 and `normal`; `{ shutdown: 'disconnected' }` is
 * 1000 and `normal`; anything else is 1011 and `{ error: reason }`. `frames` go out
 * before the close frame.
 */
export interface StopResult<S> {
  readonly type: 'stop';
  readonly reason: ExitReason;
  readonly closeDetail: CloseDetail | undefined;
  readonly frames: Frames | undefined;
  readonly state: S;
}

/** Everything a callback may return. */
export type HandleResult<S> = PushResult<S> | ReplyResult<S> | OkResult<S> | StopResult<S>;


/**
 * A WebSock handler. `S` is its state, `A` what `init` receives (the `args` given
 * to the upgrade), `I` the messages `handleInfo` expects from `send(pid, msg)`,
 * links (EXIT) and monitors (DOWN).
 *
 * @example
 * const Echo: WebSock<null> = {
 *   init: () => ok(null),
 *   handleIn: ([data, { opcode }], state) => push([opcode, data], state),
 *   handleInfo: (_msg, state) => ok(state),
 * };
 */
export interface WebSock<S, A = unknown, I = unknown> {
  /** Called once the handshake is done, inside the connection process; may return any result. */
  init(args: A): MaybePromise<HandleResult<S>>;
  /** One text or binary message from the peer. */
  handleIn(frame: InFrame, state: S): MaybePromise<HandleResult<S>>;
  /** A ping or pong from the peer (optional; the pong to a ping is sent before this runs). */
  handleControl?(frame: ControlFrame, state: S): MaybePromise<HandleResult<S>>;
  /** Any other message sent to the connection's pid, including EXIT and DOWN messages. */
  handleInfo(message: I, state: S): MaybePromise<HandleResult<S>>;
  /** Runs at most once when the connection ends; its return value is ignored. */
  terminate?(reason: CloseReason, state: S, info: CloseInfo): unknown;
  /**
   * How telemetry, crash reports and the observer name this handler's connections
   * (default: the constructor's name for a class instance, else `'WebSock'`), as an
   * Elixir module name does.
   */
  readonly name?: string;
}

/**
 * Push one frame or a list of frames.
 *
 * @example
 * return push(['text', 'hello'], state);
 * return push([['text', 'a'], ['binary', bytes]], state);
 */
export function push<S>(frames: Frames, state: S): PushResult<S> {
  return { type: 'push', frames, state };
}

/**
 * Same as `push`; `term` is ignored (Phoenix compatibility: `{:reply, :ok, frame, state}`).
 *
 * @example
 * return reply('ok', ['text', 'pong'], state);
 */
export function reply<S>(term: unknown, frames: Frames, state: S): ReplyResult<S> {
  return { type: 'reply', term, frames, state };
}

/**
 * Keep the connection open with a new state.
 *
 * @example
 * return ok({ ...state, count: state.count + 1 });
 */
export function ok<S>(state: S): OkResult<S> {
  return { type: 'ok', state };
}

/**
 * Close the connection: `stop(reason, state)`, `stop(reason, closeDetail, state)`
 * or `stop(reason, closeDetail, frames, state)` (frames go out before the close).
 * The close detail is an object (`{ code, reason? }`), so a numeric or tuple state
 * can never be taken for one: `stop('normal', 4000, state)` does not compile.
 *
 * @example
 * return stop('normal', state);                                  // 1000
 * return stop({ shutdown: 'restart' }, state);                   // 1012
 * return stop('normal', { code: 4000, reason: 'bye' }, state);   // 4000 "bye"
 * return stop('normal', { code: 1000 }, ['text', 'last words'], state);
 */
export function stop<S>(reason: ExitReason, state: S): StopResult<S>;
export function stop<S>(reason: ExitReason, closeDetail: CloseDetail, state: S): StopResult<S>;
export function stop<S>(reason: ExitReason, closeDetail: CloseDetail, frames: Frames, state: S): StopResult<S>;
export function stop<S>(reason: ExitReason, a: unknown, b?: unknown, c?: unknown): StopResult<S> {
  switch (arguments.length) {
    case 2:
      return { type: 'stop', reason, closeDetail: undefined, frames: undefined, state: a as S };
    case 3:
      return { type: 'stop', reason, closeDetail: a as CloseDetail, frames: undefined, state: b as S };
    default:
      return { type: 'stop', reason, closeDetail: a as CloseDetail, frames: b as Frames, state: c as S };
  }
}
