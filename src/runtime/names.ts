/**
 * Registered names: one name per process, one process per name, released when the
 * process exits, as `register/2` and `whereis/1` on the BEAM.
 */
import type { Pid } from './pid.js';
import { DEAD, type Proc } from './proc.js';

const names = new Map<string, Proc>();

/**
 * Registers `pid` under `name`, so `send(name, msg)`, `monitor(name)` and
 * `whereis(name)` find it. Throws if the name is taken, the process already has a
 * name, or it is not alive. The name is released when the process exits.
 *
 * @example
 * register('logger', pid);
 * send('logger', 'hello');
 */
export function register(name: string, pid: Pid): void {
  if (typeof name !== 'string' || name === '') throw new TypeError('register(name, pid): name must be a non-empty string');
  const p = pid._proc as Proc | undefined;
  if (p === undefined || (p.flags & DEAD) !== 0) throw new Error(`register('${name}', ${String(pid)}): noproc, the process is not alive`);
  const holder = names.get(name);
  if (holder !== undefined) throw new Error(`register('${name}', ${String(pid)}): name is already registered to ${String(holder.pid)}`);
  if (p.extras?.name !== undefined) throw new Error(`register('${name}', ${String(pid)}): the process is already registered as '${p.extras.name}'`);
  names.set(name, p);
  p.ext().name = name;
}

/**
 * Removes a registered name. Returns false if it was not registered.
 *
 * @example
 * unregister('logger');
 */
export function unregister(name: string): boolean {
  const p = names.get(name);
  if (p === undefined) return false;
  names.delete(name);
  if (p.extras !== null) p.extras.name = undefined;
  return true;
}

/**
 * The pid registered under `name`, or undefined.
 *
 * @example
 * const pid = whereis('logger');
 */
export function whereis(name: string): Pid | undefined {
  return names.get(name)?.pid;
}

/**
 * All registered names.
 *
 * @example
 * registered(); // ['logger', 'connections']
 */
export function registered(): string[] {
  return [...names.keys()];
}

/** @internal the live process registered under `name`. */
export function nameHolder(name: string): Proc | undefined {
  return names.get(name);
}

/** @internal gives a new process its `name` spawn option; throws if the name is taken. */
export function claimName(name: string, p: Proc): void {
  const holder = names.get(name);
  if (holder !== undefined) throw new Error(`name '${name}' is already registered to ${String(holder.pid)}`);
  names.set(name, p);
  p.ext().name = name;
}

/** @internal frees the name of a process that exits. */
export function releaseName(p: Proc): void {
  const name = p.extras?.name;
  if (name !== undefined && names.get(name) === p) names.delete(name);
}

/** A name registered across the cluster (`registerGlobal` in `beamsock/cluster`), as a `send` destination. */
export interface GlobalName {
  readonly global: string;
}

// The cluster's global registry plugs in here, so the runtime resolves `{ global }` without importing it.
let globalLookup: (name: string) => Pid | undefined = () => undefined;

/** @internal the cluster's global registry answers `{ global: name }` destinations. */
export function setGlobalLookup(fn: (name: string) => Pid | undefined): void {
  globalLookup = fn;
}

/** @internal the pid holding the global `name`, if any. */
export function globalHolder(name: string): Pid | undefined {
  return globalLookup(name);
}
