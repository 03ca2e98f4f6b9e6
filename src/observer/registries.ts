/**
 * The observer's view of the open `Registry` and `PubSub` instances: for each,
 * its keys (a PubSub's topics) with how many entries each holds and the first of
 * their processes. Instances are found through the runtime's weakly held lists
 * of open ones, so nothing needs registering and nothing is kept alive. Like the
 * rest of a snapshot it is bounded: the largest instances, their busiest keys,
 * the first members of each.
 */
import type { Pid } from '../runtime/pid.js';
import { openPubSubs } from '../runtime/pubsub.js';
import { openRegistries, type Registry, type RegistryKeys } from '../runtime/registry.js';

/** One key of a registry or topic of a PubSub. */
export interface KeyRow {
  /** The key as text: strings as they are, other keys printed. */
  readonly key: string;
  /** Entries under it (a PubSub's subscriptions to the topic). */
  readonly count: number;
  /** The first members' pids, printed, at most `MEMBERS_SHOWN`. */
  readonly members: readonly string[];
}

/** One open Registry or PubSub. */
export interface TableView {
  /** Stable for the instance's lifetime within this process: `registry:3`, `pubsub:1`. */
  readonly id: string;
  readonly type: 'registry' | 'pubsub';
  readonly name: string | null;
  /** A registry's key kind; a PubSub's subscriptions are always `duplicate`. */
  readonly keys: RegistryKeys;
  readonly keyCount: number;
  readonly entryCount: number;
  /** The keys with the most entries, at most `KEYS_SHOWN`, most first. */
  readonly top: readonly KeyRow[];
}

/** Instances listed; the rest are only counted. */
export const TABLES_SHOWN = 20;
/** Keys listed per instance. */
export const KEYS_SHOWN = 10;
/** Members listed per key. */
export const MEMBERS_SHOWN = 5;
const KEY_TEXT = 120;

let serial = 0;
const ids = new WeakMap<object, string>();

function idOf(instance: object, type: TableView['type']): string {
  let id = ids.get(instance);
  if (id === undefined) ids.set(instance, (id = `${type}:${++serial}`));
  return id;
}

function printKey(key: unknown): string {
  let text: string;
  if (typeof key === 'string') text = key;
  else if (typeof key === 'object' && key !== null) {
    try {
      text = JSON.stringify(key) ?? String(key);
    } catch {
      text = Object.prototype.toString.call(key);
    }
  } else text = String(key);
  return text.length > KEY_TEXT ? `${text.slice(0, KEY_TEXT)}...` : text;
}

function view(registry: Registry<unknown, unknown>, type: TableView['type'], owner: object, name: string | undefined): TableView {
  // One pass over the entries through the public read API, counting per key.
  const counts = new Map<unknown, number>();
  registry.countSelect((key) => {
    counts.set(key, (counts.get(key) ?? 0) + 1);
    return false;
  });
  const best: [unknown, number][] = [];
  for (const entry of counts) {
    if (best.length === KEYS_SHOWN && entry[1] <= (best[KEYS_SHOWN - 1] as [unknown, number])[1]) continue;
    let i = best.length;
    while (i > 0 && (best[i - 1] as [unknown, number])[1] < entry[1]) i--;
    best.splice(i, 0, entry);
    if (best.length > KEYS_SHOWN) best.pop();
  }
  const top = best.map(([key, count]): KeyRow => {
    const members: string[] = [];
    registry.dispatch(key, (entries) => {
      for (let i = 0; i < entries.length && i < MEMBERS_SHOWN; i++) members.push(String((entries[i] as readonly [Pid, unknown])[0]));
    });
    return { key: printKey(key), count, members };
  });
  return { id: idOf(owner, type), type, name: name ?? null, keys: registry.kind, keyCount: counts.size, entryCount: registry.count(), top };
}

/** What the observer shows of the open registries and PubSubs. */
export interface TablesSummary {
  /** All open instances, shown or not. */
  readonly total: number;
  /** The largest `TABLES_SHOWN`, by entries, largest first. */
  readonly shown: readonly TableView[];
}

/**
 * Reads every open Registry and PubSub of this process once.
 *
 * @example
 * const { shown } = sampleTables();
 * shown.find((t) => t.name === 'rooms')?.top[0]; // { key: 'lobby', count: 12, members: ['#PID<0.42>', ...] }
 */
export function sampleTables(): TablesSummary {
  const all: TableView[] = [];
  for (const r of openRegistries) all.push(view(r, 'registry', r, r.name));
  for (const p of openPubSubs) all.push(view(p.subscriptions() as Registry<unknown, unknown>, 'pubsub', p, p.name));
  all.sort((a, b) => b.entryCount - a.entryCount);
  return { total: all.length, shown: all.slice(0, TABLES_SHOWN) };
}
