/**
 * A child of a supervisor, as both `Supervisor` and `DynamicSupervisor` handle it:
 * its spec (validated, with defaults), how it is started inside the supervisor and
 * linked, how it is shut down, whether it is restarted, and the reports about it.
 */
import { Pid } from './pid.js';
import { self } from './process-core.js';
import { exit, link, unlink } from './links.js';
import { watch } from './monitors.js';
import { report, type SupervisorReport } from './logger.js';
import { formatTerm, isQuietReason, type ExitReason } from './reasons.js';
import { rejectUnknownOptions } from './options.js';
import { StartError, isPromise } from './gen-server.js';

/** `permanent`: always restarted; `transient`: unless it exits `normal`, `shutdown` or `{ shutdown }`; `temporary`: never. */
export type Restart = 'permanent' | 'transient' | 'temporary';

/**
 * How a child is stopped: milliseconds to wait after `exit(child, 'shutdown')`
 * before `exit(child, 'kill')`; `'brutal_kill'` kills at once; `'infinity'` waits.
 */
export type Shutdown = number | 'brutal_kill' | 'infinity';

/** A `'supervisor'` child defaults to `shutdown: 'infinity'`, a `'worker'` to 5000. */
export type ChildType = 'worker' | 'supervisor';

/** What a child's `start` returns: the pid of a process linked to the supervisor, or `undefined` to be ignored. */
export type StartedChild = Pid | undefined;

/**
 * One child of a `Supervisor`.
 *
 * @example
 * const spec: ChildSpec = { id: 'cache', start: () => GenServer.startLink(cache, {}), restart: 'permanent' };
 */
export interface ChildSpec<P extends StartedChild = StartedChild> {
  /** Unique within the supervisor. */
  readonly id: string;
  /** Runs inside the supervisor process; link the child to it (spawnLink, GenServer.startLink). */
  readonly start: () => P | Promise<P>;
  /** Default `'permanent'`. */
  readonly restart?: Restart;
  /** Default 5000 for workers, `'infinity'` for supervisors. */
  readonly shutdown?: Shutdown;
  /** Default `'worker'`. */
  readonly type?: ChildType;
}

/** @internal a validated child spec. */
export interface NormalizedSpec {
  readonly id: string | undefined;
  readonly start: (...extraArguments: unknown[]) => unknown;
  readonly restart: Restart;
  readonly shutdown: Shutdown;
  readonly type: ChildType;
}

/** @internal a value as an error message shows it: strings quoted. */
export function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : formatTerm(value);
}

const SPEC_KEYS: readonly string[] = ['id', 'start', 'restart', 'shutdown', 'type'];
const RESTARTS: readonly string[] = ['permanent', 'transient', 'temporary'];

/** @internal validates a child spec and fills in its defaults; throws TypeError naming the bad field. */
export function normalizeSpec(spec: unknown, where: string, idRequired: boolean): NormalizedSpec {
  if (typeof spec !== 'object' || spec === null) throw new TypeError(`${where}: a child spec must be an object, got ${formatTerm(spec)}`);
  const s = spec as Partial<Record<string, unknown>>;
  const id = s.id;
  const name = id === undefined ? 'child spec' : `child spec '${String(id)}'`;
  rejectUnknownOptions(s, SPEC_KEYS, `${where} ${name}`);
  if (id === undefined ? idRequired : typeof id !== 'string' || id === '') {
    throw new TypeError(`${where}: ${name} needs 'id', a non-empty string, got ${show(id)}`);
  }
  if (typeof s.start !== 'function') throw new TypeError(`${where}: ${name} needs 'start', a function returning a pid, got ${show(s.start)}`);
  const restart = s.restart ?? 'permanent';
  if (!RESTARTS.includes(restart as string)) {
    throw new TypeError(`${where}: ${name} has restart ${show(restart)}; expected 'permanent', 'transient' or 'temporary'`);
  }
  const type = s.type ?? 'worker';
  if (type !== 'worker' && type !== 'supervisor') throw new TypeError(`${where}: ${name} has type ${show(type)}; expected 'worker' or 'supervisor'`);
  const shutdown = s.shutdown ?? (type === 'supervisor' ? 'infinity' : 5000);
  if (!(shutdown === 'brutal_kill' || shutdown === 'infinity' || (Number.isInteger(shutdown) && (shutdown as number) >= 0))) {
    throw new TypeError(`${where}: ${name} has shutdown ${show(shutdown)}; expected milliseconds (a non-negative integer), 'brutal_kill' or 'infinity'`);
  }
  return { id: id as string | undefined, start: s.start as NormalizedSpec['start'], restart: restart as Restart, shutdown: shutdown as Shutdown, type };
}

/** @internal `permanent` always, `transient` unless the reason is quiet, `temporary` never. */
export function shouldRestart(restart: Restart, reason: ExitReason): boolean {
  return restart === 'permanent' || (restart === 'transient' && !isQuietReason(reason));
}

function childLabel(spec: NormalizedSpec): string {
  return spec.id === undefined ? 'child' : `child '${spec.id}'`;
}

function startFailure(spec: NormalizedSpec, err: unknown): StartError {
  if (err instanceof StartError) {
    const wrapped = new StartError(`${childLabel(spec)} failed to start: ${err.message}`, err.reason);
    wrapped.cause = err;
    return wrapped;
  }
  return new StartError(`${childLabel(spec)} failed to start: ${formatTerm(err)}`, { error: err });
}

function checkStarted(spec: NormalizedSpec, value: unknown): StartedChild | StartError {
  if (value === undefined) return undefined;
  if (value instanceof Pid) {
    // Also supervises a child that `start` forgot to link; a no-op for spawnLink'ed ones.
    link(value);
    return value;
  }
  return startFailure(spec, new TypeError(`start returned ${formatTerm(value)}; expected a Pid (from spawnLink or GenServer.startLink) or undefined`));
}

/**
 * @internal runs a child's start function inside the supervisor and links what it
 * returns. Never throws: a failure comes back as a StartError. Synchronous when
 * `start` is, so a DynamicSupervisor starts plain processes without a promise.
 */
export function runStart(spec: NormalizedSpec, extraArguments: readonly unknown[]): StartedChild | StartError | Promise<StartedChild | StartError> {
  let result: unknown;
  try {
    result = spec.start(...extraArguments);
  } catch (err) {
    return startFailure(spec, err);
  }
  if (isPromise(result)) {
    return Promise.resolve(result).then(
      (value) => checkStarted(spec, value),
      (err: unknown) => startFailure(spec, err),
    );
  }
  return checkStarted(spec, result);
}

/** @internal emits a supervisor report from the running supervisor. */
export function reportEvent(event: SupervisorReport['event'], spec: NormalizedSpec, pid: Pid | undefined, reason: ExitReason | undefined): void {
  report({ kind: 'supervisor', supervisor: self(), event, childId: spec.id, pid, reason });
}

/**
 * @internal stops a child as a supervisor does: unlink, then `'kill'` for
 * brutal_kill, else `'shutdown'` and, after `shutdown` ms, `'kill'`. Resolves once
 * it has exited. An exit reason other than the expected one (`'killed'` for
 * brutal_kill, `'shutdown'` otherwise) is reported as a `'shutdown'` event.
 */
export function shutdownChild(pid: Pid, spec: NormalizedSpec): Promise<void> {
  const supervisor = self();
  unlink(pid);
  const shutdown = spec.shutdown;
  return new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const expected = shutdown === 'brutal_kill' ? 'killed' : 'shutdown';
    const watched = watch(pid, (_pid, reason) => {
      if (timer !== undefined) clearTimeout(timer);
      if (reason !== expected) report({ kind: 'supervisor', supervisor, event: 'shutdown', childId: spec.id, pid, reason });
      resolve();
    });
    // Already gone: its EXIT is in the mailbox and will find no child.
    if (watched === undefined) {
      resolve();
      return;
    }
    if (shutdown === 'brutal_kill') {
      exit(pid, 'kill');
      return;
    }
    // The timer is set before the signal: a child that does not trap exits dies inside exit() and clears it.
    if (typeof shutdown === 'number') timer = setTimeout(() => exit(pid, 'kill'), shutdown);
    exit(pid, 'shutdown');
  });
}
