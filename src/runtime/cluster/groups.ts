/**
 * Process groups across the cluster, as Erlang's `pg`: any process may join any number
 * of groups (a process joined twice is a member twice), `members` lists them on every
 * node, and a group monitor hears of every join and leave.
 *
 * Each node is the only authority for its own members. It announces them to a peer as
 * the first thing on a fresh node-to-node stream (a snapshot), then sends joins and
 * leaves on that stream as they happen, so a peer's view is ordered with everything
 * else the node sends it and is held through broker outages. When a peer goes down its
 * members leave at once (monitors hear a `leave`); when it comes back its snapshot
 * brings them back. A local member that exits leaves every group.
 *
 * Scopes (`groupScope(name)`) are independent sets of groups, as `pg` scopes are; `pg`
 * is the scope named `'default'`. A scope exists on a node as soon as it is used there.
 */
import { Pid, Ref, makeRef, nodeName } from '../pid.js';
import { self, send, unwatch, watch } from '../process.js';
import { registerService, serviceBroadcast, serviceSend } from './services.js';

/** What a group monitor receives on each join or leave (OTP 25+ `pg:monitor`'s `{Ref, join | leave, Group, Pids}`). */
export interface GroupEvent {
  readonly type: 'group';
  readonly event: 'join' | 'leave';
  /** The ref `monitor` or `monitorScope` returned. */
  readonly ref: Ref;
  readonly scope: string;
  readonly group: string;
  /** The pids that joined or left (one per membership). */
  readonly pids: Pid[];
}

interface GroupMonitor {
  readonly owner: Pid;
  /** null: every group of the scope. */
  readonly group: string | null;
  readonly watchRef: Ref | undefined;
}

type Members = Map<string, Pid[]>;

/** The wire: a node's whole part (snapshot) or one change. */
type Wire =
  | { t: 's' }
  | { t: 'j' | 'l'; s: string; g: string; p: Pid[] };

const SERVICE = 'pg';
/** Pids per snapshot message. */
const SNAPSHOT_CHUNK = 2000;
const scopes = new Map<string, GroupScope>();

function requireGroup(what: string, group: unknown): asserts group is string {
  if (typeof group !== 'string' || group === '') throw new TypeError(`${what}: group must be a non-empty string, got ${JSON.stringify(group)}`);
}

function pidList(what: string, pids: Pid | readonly Pid[] | undefined): Pid[] {
  const list = pids === undefined ? [self()] : pids instanceof Pid ? [pids] : Array.isArray(pids) ? [...(pids as readonly Pid[])] : null;
  if (list === null || list.some((p) => !(p instanceof Pid))) throw new TypeError(`${what}: expected a Pid or an array of Pids`);
  for (const p of list) {
    if (p.node !== nodeName()) throw new Error(`${what}: ${String(p)} is a process of node '${p.node}'; only local processes join or leave groups here (do it on their node)`);
  }
  return list;
}

/** Removes one occurrence of each of `pids` from `list`; returns those removed. */
function removeOnce(list: Pid[], pids: readonly Pid[]): Pid[] {
  const removed: Pid[] = [];
  for (const pid of pids) {
    const i = list.lastIndexOf(pid);
    if (i < 0) continue;
    list.splice(i, 1);
    removed.push(pid);
  }
  return removed;
}

/**
 * One scope of process groups. Get one with `groupScope(name)`; `pg` is the default.
 *
 * @example
 * const rooms: GroupScope = groupScope('rooms');
 * rooms.join('lobby');
 */
export class GroupScope {
  private readonly local: Members = new Map();
  private readonly remote = new Map<string, Members>();
  /** Per local member: its watcher and how many memberships it holds. */
  private readonly watched = new Map<Pid, { ref: Ref; count: number }>();
  private readonly monitors = new Map<Ref, GroupMonitor>();

  /** @internal use `groupScope(name)`. */
  constructor(
    /** The scope's name. */
    readonly name: string,
  ) {}

  /**
   * Adds `pids` (default: the calling process) to `group`, on this node; every node
   * sees them in `members` once the change reaches it. A pid may join a group several
   * times. Only processes of this node can be joined here (`Error` otherwise); one
   * that is not alive is skipped. A member leaves every group when it exits.
   *
   * @example
   * pg.join('room:lobby');              // the calling process
   * pg.join('workers', [w1, w2]);
   */
  join(group: string, pids?: Pid | readonly Pid[]): void {
    requireGroup('pg.join', group);
    const list = pidList('pg.join', pids).filter((pid) => this.track(pid, 1));
    if (list.length === 0) return;
    const members = this.local.get(group);
    if (members === undefined) this.local.set(group, [...list]);
    else members.push(...list);
    this.announce({ t: 'j', s: this.name, g: group, p: list });
    this.notify('join', group, list);
  }

  /**
   * Removes one membership of each of `pids` (default: the calling process) from
   * `group`. Returns false if none of them was a member (Erlang's `not_joined`).
   *
   * @example
   * pg.leave('room:lobby');
   */
  leave(group: string, pids?: Pid | readonly Pid[]): boolean {
    requireGroup('pg.leave', group);
    const list = pidList('pg.leave', pids);
    const members = this.local.get(group);
    if (members === undefined) return false;
    const removed = removeOnce(members, list);
    if (removed.length === 0) return false;
    if (members.length === 0) this.local.delete(group);
    for (const pid of removed) this.track(pid, -1);
    this.announce({ t: 'l', s: this.name, g: group, p: removed });
    this.notify('leave', group, removed);
    return true;
  }

  /**
   * The members of `group` on every node this node sees up: this node's first, one
   * entry per membership. Empty for an unknown group.
   *
   * @example
   * for (const pid of pg.members('room:lobby')) send(pid, { type: 'hello' });
   */
  members(group: string): Pid[] {
    const out = [...(this.local.get(group) ?? [])];
    for (const m of this.remote.values()) {
      const pids = m.get(group);
      if (pids !== undefined) out.push(...pids);
    }
    return out;
  }

  /**
   * The members of `group` on this node only.
   *
   * @example
   * pg.localMembers('room:lobby').length;
   */
  localMembers(group: string): Pid[] {
    return [...(this.local.get(group) ?? [])];
  }

  /**
   * The groups with at least one member on any node, sorted.
   *
   * @example
   * pg.whichGroups(); // ['room:lobby', 'workers']
   */
  whichGroups(): string[] {
    const names = new Set(this.local.keys());
    for (const m of this.remote.values()) for (const g of m.keys()) names.add(g);
    return [...names].sort();
  }

  /**
   * Subscribes the calling process to the joins and leaves of `group` on every node:
   * it gets a `GroupEvent` (`{ type: 'group', event: 'join' | 'leave', ref, scope,
   * group, pids }`) for each, until `demonitor(ref)` or its exit. Returns the ref and
   * the members now. Throws outside a process.
   *
   * @example
   * const { ref, members } = pg.monitor('room:lobby');
   * // later: { type: 'group', event: 'join', ref, scope: 'default', group: 'room:lobby', pids: [pid] }
   */
  monitor(group: string): { ref: Ref; members: Pid[] } {
    requireGroup('pg.monitor', group);
    return { ref: this.addMonitor(group), members: this.members(group) };
  }

  /**
   * Like `monitor`, for every group of the scope. Returns the ref and every group's
   * members now.
   *
   * @example
   * const { ref, groups } = pg.monitorScope();
   * groups.get('room:lobby'); // [pid, ...]
   */
  monitorScope(): { ref: Ref; groups: Map<string, Pid[]> } {
    const ref = this.addMonitor(null);
    const groups = new Map<string, Pid[]>();
    for (const g of this.whichGroups()) groups.set(g, this.members(g));
    return { ref, groups };
  }

  /**
   * Cancels a group monitor. Returns false if `ref` was not an active monitor of this
   * scope.
   *
   * @example
   * pg.demonitor(ref);
   */
  demonitor(ref: Ref): boolean {
    const m = this.monitors.get(ref);
    if (m === undefined) return false;
    this.monitors.delete(ref);
    if (m.watchRef !== undefined) unwatch(m.owner, m.watchRef);
    return true;
  }

  private addMonitor(group: string | null): Ref {
    const owner = self();
    const ref = makeRef();
    const watchRef = watch(owner, () => void this.monitors.delete(ref));
    this.monitors.set(ref, { owner, group, watchRef });
    return ref;
  }

  /** Counts one more (+1) or one fewer (-1) membership of a local pid; false if it is not alive. */
  private track(pid: Pid, by: 1 | -1): boolean {
    const w = this.watched.get(pid);
    if (w !== undefined) {
      w.count += by;
      if (w.count === 0) {
        this.watched.delete(pid);
        unwatch(pid, w.ref);
      }
      return true;
    }
    if (by === -1) return false;
    const ref = watch(pid, () => this.exited(pid));
    if (ref === undefined) return false;
    this.watched.set(pid, { ref, count: 1 });
    return true;
  }

  /** A local member exited: it leaves every group it was in. */
  private exited(pid: Pid): void {
    this.watched.delete(pid);
    for (const [group, members] of [...this.local]) {
      const left = members.filter((p) => p === pid);
      if (left.length === 0) continue;
      const kept = members.filter((p) => p !== pid);
      if (kept.length === 0) this.local.delete(group);
      else this.local.set(group, kept);
      this.announce({ t: 'l', s: this.name, g: group, p: left });
      this.notify('leave', group, left);
    }
  }

  private announce(msg: Wire): void {
    serviceBroadcast(SERVICE, msg);
  }

  private notify(event: 'join' | 'leave', group: string, pids: Pid[]): void {
    for (const [ref, m] of this.monitors) {
      if (m.group !== null && m.group !== group) continue;
      const e: GroupEvent = { type: 'group', event, ref, scope: this.name, group, pids };
      send(m.owner, e);
    }
  }

  /** @internal this node's part, for a snapshot. */
  snapshot(): [string, Pid[]][] {
    return [...this.local];
  }

  /** @internal `node` is down (or starts over): its members leave, monitors hear of it. */
  dropRemote(node: string): void {
    const before = this.remote.get(node);
    if (before === undefined) return;
    this.remote.delete(node);
    for (const [group, pids] of before) this.notify('leave', group, pids);
  }

  /** @internal one join or leave announced by `node`. */
  changeRemote(node: string, event: 'join' | 'leave', group: string, pids: Pid[]): void {
    let m = this.remote.get(node);
    if (event === 'join') {
      if (m === undefined) this.remote.set(node, (m = new Map()));
      const members = m.get(group);
      if (members === undefined) m.set(group, [...pids]);
      else members.push(...pids);
      this.notify('join', group, pids);
      return;
    }
    const members = m?.get(group);
    if (m === undefined || members === undefined) return;
    const removed = removeOnce(members, pids);
    if (members.length === 0) m.delete(group);
    if (m.size === 0) this.remote.delete(node);
    if (removed.length > 0) this.notify('leave', group, removed);
  }
}

/**
 * The process-group scope named `name` (created on first use, on this node; other
 * nodes create theirs when they use it or hear of it).
 *
 * @example
 * const rooms = groupScope('rooms');
 * rooms.join('lobby');
 * rooms.members('lobby');
 */
export function groupScope(name: string): GroupScope {
  if (typeof name !== 'string' || name === '') throw new TypeError(`groupScope(name): name must be a non-empty string, got ${JSON.stringify(name)}`);
  let s = scopes.get(name);
  if (s === undefined) scopes.set(name, (s = new GroupScope(name)));
  return s;
}

/**
 * Process groups across the cluster, in the default scope (Erlang's `pg`).
 *
 * @example
 * import { pg } from 'beamsock/cluster';
 * pg.join('room:lobby');                 // inside a process
 * pg.members('room:lobby');              // on every node: [#PID<0.12>, #PID<chat-2.7>]
 */
export const pg: GroupScope = groupScope('default');

registerService(SERVICE, {
  nodeUp(node) {
    // A reset, then this node's members group by group: each part stays far below a frame's size.
    serviceSend(node, SERVICE, { t: 's' } satisfies Wire);
    for (const s of scopes.values()) {
      for (const [group, pids] of s.snapshot()) {
        for (let i = 0; i < pids.length; i += SNAPSHOT_CHUNK) serviceSend(node, SERVICE, { t: 'j', s: s.name, g: group, p: pids.slice(i, i + SNAPSHOT_CHUNK) } satisfies Wire);
      }
    }
  },
  nodeDown(node) {
    for (const s of scopes.values()) s.dropRemote(node);
  },
  receive(node, msg) {
    const m = msg as Wire;
    if (m.t === 's') for (const s of scopes.values()) s.dropRemote(node);
    else groupScope(m.s).changeRemote(node, m.t === 'j' ? 'join' : 'leave', m.g, m.p);
  },
});
