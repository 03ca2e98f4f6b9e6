/**
 * Registry: a local key-to-process store with Elixir `Registry` semantics.
 *
 * Keys are `unique` (at most one process per key) or `duplicate` (any number of
 * entries per key, even several from one process). Only the calling process can
 * register itself; its entries vanish when it exits.
 *
 * Unlike Elixir's registry, this one is a plain data structure rather than a
 * process: lookups and dispatch are direct reads. Cleanup is also stronger than
 * Elixir's "delayed" cleanup: a process's entries are removed synchronously while
 * it is torn down, before its links and monitors hear of its exit, so a lookup
 * never returns a dead process and a `DOWN` message never arrives before the
 * entries are gone.
 *
 * Keys are compared as `Map` keys (SameValueZero): use strings, numbers or other
 * primitives; an object key matches only that same object.
 */
import { LiveSet } from './live-set.js';
import { Pid } from './pid.js';
import { offExit, onExit, requireSelf, send } from './process-core.js';
import { whereis } from './names.js';
import { formatTerm } from './reasons.js';
import { DEAD, type ExitHook, type Proc } from './proc.js';
import { rejectUnknownOptions } from './options.js';

/** `unique`: at most one entry per key. `duplicate`: any number of entries per key. */
export type RegistryKeys = 'unique' | 'duplicate';

/** One registration: the process and the value it registered with. */
export type RegistryEntry<V> = readonly [pid: Pid, value: V];

/** Options for `new Registry(...)`. */
export interface RegistryOptions {
  /** `unique` or `duplicate` keys. Required. */
  readonly keys: RegistryKeys;
  /** Makes the registry findable with `Registry.lookupByName`. Must not be taken. */
  readonly name?: string;
  /**
   * Processes (pids or registered names) that receive a `RegistryEvent` on every
   * explicit `register` and `unregister`. They are not told about exits: to learn
   * of those, monitor the registered processes.
   */
  readonly listeners?: readonly (Pid | string)[];
  /** Initial metadata, as Elixir's `:meta` option: read with `meta`, changed with `putMeta`. */
  readonly meta?: Readonly<Record<string, unknown>>;
}

/** What `register` returns: `{ ok: true }`, or for a unique key that is taken, who holds it. */
export type RegisterResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: 'already_registered'; readonly pid: Pid };

/** Sent to listeners on an explicit `register` or `unregister` (not on exit). */
export type RegistryEvent<K, V> =
  | { readonly type: 'register'; readonly registry: Registry<K, V>; readonly key: K; readonly pid: Pid; readonly value: V }
  | { readonly type: 'unregister'; readonly registry: Registry<K, V>; readonly key: K; readonly pid: Pid };

/** What `updateValue` returns when the caller owns the key. */
export interface UpdatedValue<V> {
  readonly new: V;
  readonly old: V;
}

// Above this many entries a bucket keeps an entry -> index map, so that removing
// one subscriber of a big topic (or all of them, at shutdown) stays O(1) each.
const INDEXED_ABOVE = 32;

/** The entries of one key. */
interface Bucket<V> {
  list: RegistryEntry<V>[];
  pos: Map<RegistryEntry<V>, number> | null;
  /** True while `list` is lent to a running dispatch: mutations copy it first. */
  lent: boolean;
}

/** Everything one process holds in this registry: parallel arrays of keys and entries. */
interface Owner<K, V> {
  readonly proc: Proc;
  readonly hook: ExitHook;
  keys: K[];
  entries: RegistryEntry<V>[];
}

const OK: RegisterResult = Object.freeze({ ok: true });

const OPTION_KEYS: readonly string[] = ['keys', 'name', 'listeners', 'meta'];
const byName = new Map<string, Registry<unknown, unknown>>();

/** @internal Every open registry, held weakly, for the observer (a PubSub's own registry is listed as the PubSub). */
export const openRegistries = new LiveSet<Registry<unknown, unknown>>();

function sameKey(a: unknown, b: unknown): boolean {
  return a === b || (a !== a && b !== b);
}

function validateOptions(opts: RegistryOptions): void {
  if (typeof opts !== 'object' || opts === null) {
    throw new TypeError(`new Registry(options): options must be an object like { keys: 'unique' }, got ${String(opts)}`);
  }
  rejectUnknownOptions(opts, OPTION_KEYS, 'Registry options');
  if (opts.keys !== 'unique' && opts.keys !== 'duplicate') {
    throw new TypeError(`Registry option 'keys' must be 'unique' or 'duplicate', got ${JSON.stringify(opts.keys)}`);
  }
  if (opts.name !== undefined && (typeof opts.name !== 'string' || opts.name === '')) {
    throw new TypeError(`Registry option 'name' must be a non-empty string, got ${JSON.stringify(opts.name)}`);
  }
  if (opts.listeners !== undefined) {
    if (!Array.isArray(opts.listeners)) throw new TypeError(`Registry option 'listeners' must be an array of pids or registered names`);
    for (const l of opts.listeners as unknown[]) {
      if (!(l instanceof Pid) && !(typeof l === 'string' && l !== '')) {
        throw new TypeError(`Registry option 'listeners' must hold pids or non-empty names, got ${String(l)}`);
      }
    }
  }
  if (opts.meta !== undefined && (typeof opts.meta !== 'object' || opts.meta === null || Array.isArray(opts.meta))) {
    throw new TypeError(`Registry option 'meta' must be an object of metadata keys to values, got ${formatTerm(opts.meta)}`);
  }
}

/**
 * A local key-to-process store. See the module doc for the cleanup guarantee.
 *
 * @example
 * const rooms = new Registry<string, { user: string }>({ keys: 'duplicate' });
 * // inside a connection process:
 * rooms.register('lobby', { user: 'ada' });
 * // anywhere:
 * rooms.dispatch('lobby', (entries) => {
 *   for (const [pid] of entries) send(pid, { type: 'chat', text: 'hi' });
 * });
 */
export class Registry<K, V> {
  /** `unique` or `duplicate`, as given in the `keys` option. */
  readonly kind: RegistryKeys;
  /** The name given at construction, if any. */
  readonly name: string | undefined;
  private readonly listeners: readonly (Pid | string)[];
  private readonly buckets = new Map<K, Bucket<V>>();
  private readonly metadata = new Map<string, unknown>();
  private readonly owners = new Map<Pid, Owner<K, V>>();
  private total = 0;
  private closed = false;
  private keyWatcher: ((key: K, present: boolean) => void) | null = null;

  /**
   * Creates a registry. Throws a TypeError naming the bad option, or an Error if
   * `name` is already taken by an open registry.
   *
   * @example
   * const sessions = new Registry<string, string>({ keys: 'unique', name: 'sessions' });
   */
  constructor(opts: RegistryOptions) {
    validateOptions(opts);
    if (opts.name !== undefined && byName.has(opts.name)) {
      throw new Error(`a registry named '${opts.name}' already exists; pick another name or close() the old one`);
    }
    this.kind = opts.keys;
    this.name = opts.name;
    this.listeners = opts.listeners === undefined ? [] : [...opts.listeners];
    if (opts.meta !== undefined) for (const [key, value] of Object.entries(opts.meta)) this.metadata.set(key, value);
    if (opts.name !== undefined) byName.set(opts.name, this as Registry<unknown, unknown>);
    openRegistries.add(this as Registry<unknown, unknown>);
  }

  /**
   * The open registry created with `name`, or undefined. Its key and value types are
   * not checked: pass the ones it was created with.
   *
   * @example
   * const sessions = Registry.lookupByName<string, string>('sessions');
   */
  static lookupByName<K = unknown, V = unknown>(name: string): Registry<K, V> | undefined {
    return byName.get(name) as Registry<K, V> | undefined;
  }

  /**
   * Registers the calling process under `key` with `value`. In a unique registry a
   * taken key (also by the caller itself) gives `{ ok: false, error: 'already_registered', pid }`;
   * in a duplicate registry every call adds one more entry. Throws outside a process,
   * once the registry is closed, and in a process that has already exited (code
   * resuming after an `await` in a callback of a killed process), whose entry
   * could never be cleaned up.
   *
   * @example
   * const r = sessions.register(userId, token);
   * if (!r.ok) send(r.pid, 'takeover');
   */
  register(key: K, value: V): RegisterResult {
    const me = requireSelf('Registry#register');
    this.requireOpen('register');
    if ((me.flags & DEAD) !== 0) {
      throw new Error(`Registry#register: ${String(me.pid)} has already exited (its callback resumed after an await); it cannot register`);
    }
    let bucket = this.buckets.get(key);
    if (bucket !== undefined && this.kind === 'unique') {
      return { ok: false, error: 'already_registered', pid: (bucket.list[0] as RegistryEntry<V>)[0] };
    }
    const pid = me.pid;
    const entry: RegistryEntry<V> = [pid, value];
    if (bucket === undefined) {
      bucket = { list: [entry], pos: null, lent: false };
      this.buckets.set(key, bucket);
      this.keyWatcher?.(key, true);
    } else {
      if (bucket.lent) unlend(bucket);
      bucket.list.push(entry);
      bucket.pos?.set(entry, bucket.list.length - 1);
    }
    let owner = this.owners.get(pid);
    if (owner === undefined) {
      const hook: ExitHook = () => this.dropOwner(pid);
      owner = { proc: me, hook, keys: [key], entries: [entry] };
      this.owners.set(pid, owner);
      onExit(me, hook);
    } else {
      owner.keys.push(key);
      owner.entries.push(entry);
    }
    this.total++;
    if (this.listeners.length !== 0) this.notify({ type: 'register', registry: this, key, pid, value });
    return OK;
  }

  /**
   * Removes all of the calling process's entries under `key`. Listeners hear of it
   * only if there was something to remove. Throws outside a process.
   *
   * @example
   * rooms.unregister('lobby');
   */
  unregister(key: K): void {
    const me = requireSelf('Registry#unregister');
    this.removeWhere(me.pid, key, null);
  }

  /**
   * Removes the calling process's entries under `key` whose value satisfies
   * `predicate`. Like Elixir, listeners hear of it only when no entry of the caller
   * remains under `key`. Throws outside a process.
   *
   * @example
   * rooms.unregisterMatch('lobby', (meta) => meta.tab === 2);
   */
  unregisterMatch(key: K, predicate: (value: V) => boolean): void {
    const me = requireSelf('Registry#unregisterMatch');
    this.removeWhere(me.pid, key, predicate);
  }

  /**
   * The entries under `key`, as a fresh array, in no particular order.
   *
   * @example
   * const [entry] = sessions.lookup(userId);
   * if (entry) send(entry[0], 'ping');
   */
  lookup(key: K): [Pid, V][] {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return [];
    const out: [Pid, V][] = [];
    for (const [pid, value] of bucket.list) out.push([pid, value]);
    return out;
  }

  /**
   * The entries under `key` whose value satisfies `predicate` (the TypeScript
   * counterpart of a match pattern).
   *
   * @example
   * rooms.match('lobby', (meta) => meta.user === 'ada');
   */
  match(key: K, predicate: (value: V) => boolean): [Pid, V][] {
    const out: [Pid, V][] = [];
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return out;
    for (const [pid, value] of bucket.list) if (predicate(value)) out.push([pid, value]);
    return out;
  }

  /**
   * How many entries under `key` have a value that satisfies `predicate`.
   *
   * @example
   * rooms.countMatch('lobby', (meta) => meta.admin);
   */
  countMatch(key: K, predicate: (value: V) => boolean): number {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return 0;
    let n = 0;
    for (const entry of bucket.list) if (predicate(entry[1])) n++;
    return n;
  }

  /**
   * Every `[key, pid, value]` in the registry that satisfies `predicate`: a full scan.
   *
   * @example
   * registry.select((key, pid, value) => value.idle);
   */
  select(predicate: (key: K, pid: Pid, value: V) => boolean): [K, Pid, V][] {
    const out: [K, Pid, V][] = [];
    for (const [key, bucket] of this.buckets) {
      for (const [pid, value] of bucket.list) if (predicate(key, pid, value)) out.push([key, pid, value]);
    }
    return out;
  }

  /**
   * How many entries in the registry satisfy `predicate`: a full scan.
   *
   * @example
   * registry.countSelect((key) => key.startsWith('room:'));
   */
  countSelect(predicate: (key: K, pid: Pid, value: V) => boolean): number {
    let n = 0;
    for (const [key, bucket] of this.buckets) {
      for (const [pid, value] of bucket.list) if (predicate(key, pid, value)) n++;
    }
    return n;
  }

  /**
   * The keys `pid` is registered under, in registration order; a key appears once
   * per entry, so in a duplicate registry it may repeat.
   *
   * @example
   * rooms.keys(self()); // ['lobby', 'lobby', 'games']
   */
  keys(pid: Pid): K[] {
    const owner = this.owners.get(pid);
    return owner === undefined ? [] : [...owner.keys];
  }

  /**
   * The values `pid` registered under `key`, in registration order.
   *
   * @example
   * rooms.values('lobby', self()); // [{ user: 'ada' }]
   */
  values(key: K, pid: Pid): V[] {
    const owner = this.owners.get(pid);
    const out: V[] = [];
    if (owner === undefined) return out;
    for (let i = 0; i < owner.keys.length; i++) {
      if (sameKey(owner.keys[i], key)) out.push((owner.entries[i] as RegistryEntry<V>)[1]);
    }
    return out;
  }

  /**
   * How many entries the registry holds (in a duplicate registry, one per registration).
   *
   * @example
   * rooms.count(); // 3
   */
  count(): number {
    return this.total;
  }

  /**
   * Replaces the value of the calling process's entry under `key` with `fn(old)`.
   * Returns `{ new, old }`, or undefined if the caller does not hold `key`. Throws a
   * TypeError on a duplicate registry and an Error outside a process.
   *
   * @example
   * sessions.updateValue(userId, (n) => n + 1); // { new: 2, old: 1 }
   */
  updateValue(key: K, fn: (old: V) => V): UpdatedValue<V> | undefined {
    if (this.kind !== 'unique') {
      throw new TypeError(`Registry#updateValue needs a registry with unique keys; this one has duplicate keys (use unregister and register)`);
    }
    const me = requireSelf('Registry#updateValue');
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return undefined;
    const current = bucket.list[0] as RegistryEntry<V>;
    if (current[0] !== me.pid) return undefined;
    const old = current[1];
    const value = fn(old);
    const entry: RegistryEntry<V> = [me.pid, value];
    if (bucket.lent) unlend(bucket);
    bucket.list[0] = entry;
    const owner = this.owners.get(me.pid) as Owner<K, V>;
    owner.entries[owner.entries.indexOf(current)] = entry;
    return { new: value, old };
  }

  /**
   * Runs `fn` once, in the caller, with every entry under `key`, if there are any;
   * it may be called from anywhere, also outside a process. The array is the
   * registry's own, lent without copying: `fn` must not keep it or modify it. If
   * the registry changes while `fn` runs (say `fn` kills a subscriber), `fn` keeps
   * seeing the entries as they were when it was called.
   *
   * @example
   * rooms.dispatch('lobby', (entries) => {
   *   for (const [pid] of entries) send(pid, frame);
   * });
   */
  dispatch(key: K, fn: (entries: readonly RegistryEntry<V>[]) => void): void {
    this.dispatchWith(key, fn, null, undefined);
  }

  /** @internal dispatch with extra arguments (and the key), so a broadcast needs no closure. */
  dispatchWith<A, B, C = undefined>(key: K, fn: (entries: readonly RegistryEntry<V>[], a: A, b: B, key: K, c: C) => void, a: A, b: B, c?: C): void {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return;
    const list = bucket.list;
    const wasLent = bucket.lent;
    bucket.lent = true;
    try {
      fn(list, a, b, key, c as C);
    } finally {
      if (bucket.list === list) bucket.lent = wasLent;
    }
  }

  /**
   * Removes every entry (listeners are not told), detaches from the registered
   * processes and frees the name. Afterwards `register` throws; reads see an empty
   * registry.
   *
   * @example
   * afterEach(() => registry.close());
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const owner of this.owners.values()) offExit(owner.proc, owner.hook);
    this.owners.clear();
    if (this.keyWatcher !== null) for (const key of this.buckets.keys()) this.keyWatcher(key, false);
    this.buckets.clear();
    this.metadata.clear();
    this.total = 0;
    if (this.name !== undefined && byName.get(this.name) === (this as Registry<unknown, unknown>)) byName.delete(this.name);
    openRegistries.delete(this as Registry<unknown, unknown>);
  }

  /**
   * Stores `value` under the metadata `key`, replacing what was there, as Elixir's
   * `Registry.put_meta/3`. Metadata belongs to the registry, not to a process: it
   * may be set from anywhere and survives every registered process. Throws once
   * the registry is closed.
   *
   * @example
   * rooms.putMeta('topic', 'general');
   */
  putMeta(key: string, value: unknown): void {
    this.requireOpen('putMeta');
    requireMetaKey('putMeta', key);
    this.metadata.set(key, value);
  }

  /**
   * The metadata under `key`, or undefined if none was set (Elixir's `Registry.meta/2`
   * returns `:error` then). Its type is not checked: pass the one you stored.
   *
   * @example
   * rooms.meta<string>('topic'); // 'general'
   */
  meta<T = unknown>(key: string): T | undefined {
    requireMetaKey('meta', key);
    return this.metadata.get(key) as T | undefined;
  }

  /**
   * Removes the metadata under `key`, as Elixir's `Registry.delete_meta/2`.
   *
   * @example
   * rooms.deleteMeta('topic');
   */
  deleteMeta(key: string): void {
    requireMetaKey('deleteMeta', key);
    this.metadata.delete(key);
  }

  /**
   * @internal `fn` hears when a key gets its first entry (true) and loses its last
   * (false), however it goes: unregister, exit or close. A cluster PubSub routes by it.
   */
  watchKeys(fn: (key: K, present: boolean) => void): void {
    this.keyWatcher = fn;
  }

  private requireOpen(what: string): void {
    if (this.closed) {
      const label = this.name === undefined ? 'this registry' : `registry '${this.name}'`;
      throw new Error(`Registry#${what}: ${label} is closed; create a new Registry`);
    }
  }

  private notify(event: RegistryEvent<K, V>): void {
    // A listener name nobody holds (its process restarting, say) misses the event rather than failing the register.
    for (const l of this.listeners) if (typeof l !== 'string' || whereis(l) !== undefined) send(l, event);
  }

  /** Removes `pid`'s entries under `key` (those whose value passes `predicate`, when given). */
  private removeWhere(pid: Pid, key: K, predicate: ((value: V) => boolean) | null): void {
    const owner = this.owners.get(pid);
    if (owner === undefined) return;
    const { keys, entries } = owner;
    let kept = 0;
    let removed = 0;
    let remaining = 0;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as K;
      const entry = entries[i] as RegistryEntry<V>;
      if (sameKey(k, key)) {
        if (predicate === null || predicate(entry[1])) {
          this.removeEntry(key, entry);
          removed++;
          continue;
        }
        remaining++;
      }
      keys[kept] = k;
      entries[kept] = entry;
      kept++;
    }
    if (removed === 0) return;
    keys.length = kept;
    entries.length = kept;
    this.total -= removed;
    if (kept === 0) {
      this.owners.delete(pid);
      offExit(owner.proc, owner.hook);
    }
    if (remaining === 0 && this.listeners.length !== 0) this.notify({ type: 'unregister', registry: this, key, pid });
  }

  /** The exit hook: drops everything `pid` holds, without telling listeners. */
  private dropOwner(pid: Pid): void {
    const owner = this.owners.get(pid);
    if (owner === undefined) return;
    this.owners.delete(pid);
    const { keys, entries } = owner;
    for (let i = 0; i < keys.length; i++) this.removeEntry(keys[i] as K, entries[i] as RegistryEntry<V>);
    this.total -= keys.length;
  }

  private removeEntry(key: K, entry: RegistryEntry<V>): void {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return;
    if (bucket.list.length === 1) {
      this.buckets.delete(key);
      this.keyWatcher?.(key, false);
      return;
    }
    if (bucket.lent) unlend(bucket);
    const list = bucket.list;
    let i: number;
    if (bucket.pos === null && list.length <= INDEXED_ABOVE) {
      i = list.lastIndexOf(entry);
    } else {
      if (bucket.pos === null) {
        bucket.pos = new Map();
        for (let j = 0; j < list.length; j++) bucket.pos.set(list[j] as RegistryEntry<V>, j);
      }
      i = bucket.pos.get(entry) as number;
      bucket.pos.delete(entry);
    }
    // Swap-remove: entry order within a key is not part of the contract.
    const last = list.pop() as RegistryEntry<V>;
    if (last !== entry) {
      list[i] = last;
      bucket.pos?.set(last, i);
    }
  }
}

function requireMetaKey(what: string, key: unknown): void {
  if (typeof key !== 'string' || key === '') throw new TypeError(`Registry#${what}: the metadata key must be a non-empty string, got ${formatTerm(key)}`);
}

/** Gives a bucket its own copy of the list a dispatch is still reading. */
function unlend<V>(bucket: Bucket<V>): void {
  bucket.list = bucket.list.slice();
  bucket.lent = false;
}
