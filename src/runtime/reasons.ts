/**
 * Exit reasons and the system messages the runtime delivers (EXIT, DOWN).
 *
 * Reasons follow the BEAM: `'normal'` ends a process quietly and does not take
 * linked processes down; `'shutdown'` and `{ shutdown: term }` are quiet too but do
 * propagate; `'kill'` sent with `exit(pid, 'kill')` cannot be trapped and is seen by
 * everyone else as `'killed'`; a crash is `{ error: thrown }`; any other value is a
 * custom reason that propagates like an error.
 */
import type { Pid, Ref } from './pid.js';

/** `{ shutdown: term }`: a quiet exit carrying a detail. */
export interface ShutdownReason {
  readonly shutdown: unknown;
}

/** `{ error: term }`: a crash (what a throwing callback ends with) or an abnormal stop. */
export interface ErrorReason {
  readonly error: unknown;
}

/** Why a process ended. Any value is allowed; these shapes have defined meaning. */
export type ExitReason =
  | 'normal'
  | 'shutdown'
  | 'kill'
  | 'killed'
  | 'noproc'
  | 'noconnection'
  | ShutdownReason
  | ErrorReason
  | (string & {})
  | object;

/**
 * Delivered to a process that traps exits when a linked process exits, or when
 * `exit(pid, reason)` targets it.
 */
export interface ExitMessage {
  readonly type: 'EXIT';
  readonly from: Pid;
  readonly reason: ExitReason;
}

/** Delivered exactly once to the owner of a monitor when the monitored process ends. */
export interface DownMessage {
  readonly type: 'DOWN';
  readonly ref: Ref;
  /** The process that ended; `rootPid()` (no process) for a name nobody held when `monitor(name)` was called. */
  readonly pid: Pid;
  readonly reason: ExitReason;
  /** For `monitor(name)`: that name, as Erlang's DOWN names `{Name, Node}`. */
  readonly name?: string;
}

/** True for an EXIT message. */
export function isExit(msg: unknown): msg is ExitMessage {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'EXIT' && 'from' in msg;
}

/** True for a DOWN message. */
export function isDown(msg: unknown): msg is DownMessage {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'DOWN' && 'ref' in msg;
}

/** True for `{ shutdown: term }`. */
export function isShutdownReason(reason: unknown): reason is ShutdownReason {
  return typeof reason === 'object' && reason !== null && 'shutdown' in reason;
}

/** True for `{ error: term }`. */
export function isErrorReason(reason: unknown): reason is ErrorReason {
  return typeof reason === 'object' && reason !== null && 'error' in reason;
}

/**
 * `normal`, `shutdown` and `{ shutdown: term }`: the reasons that are not logged and
 * after which a `transient` child is not restarted.
 */
export function isQuietReason(reason: unknown): boolean {
  return reason === 'normal' || reason === 'shutdown' || isShutdownReason(reason);
}

/** Renders a reason for logs: `normal`, `{shutdown, restart}`, `{error, Error: boom}`. */
export function formatReason(reason: unknown): string {
  if (typeof reason === 'string') return reason;
  if (isShutdownReason(reason)) return `{shutdown, ${formatTerm(reason.shutdown)}}`;
  if (isErrorReason(reason)) return `{error, ${formatTerm(reason.error)}}`;
  return formatTerm(reason);
}

/** @internal */
export function formatTerm(term: unknown): string {
  if (term instanceof Error) return `${term.name}: ${term.message}`;
  if (typeof term === 'string') return term;
  if (typeof term === 'object' && term !== null && typeof (term as { toString?: unknown }).toString === 'function') {
    const s = String(term);
    if (s !== '[object Object]') return s;
  }
  try {
    return JSON.stringify(term) ?? String(term);
  } catch {
    return String(term);
  }
}
