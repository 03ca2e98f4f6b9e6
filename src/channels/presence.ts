/**
 * Presence: who is on which topic, across the cluster, with Phoenix.Presence's
 * events (`presence_state`, `presence_diff`) so the `phoenix` client's
 * `Presence` object works unchanged.
 *
 * As Phoenix.Tracker does, every node owns the presences of its own processes
 * and replicates them to the others: each change goes out as a numbered delta
 * on the endpoint's PubSub (cluster-wide with `clusterAdapter()`), a heartbeat
 * carries the latest number, and a node that sees a gap, a newcomer or a
 * restarted node asks that node for its whole state. A node that goes down
 * (cluster node-down detection, or silence past `downAfterMs`) takes its
 * presences with it; a tracked process that exits is untracked at once. Each
 * node turns every change it learns of into `presence_diff` broadcasts to its
 * own subscribers of the topic.
 */
import { randomBytes } from 'node:crypto';
import { Pid } from '../runtime/pid.js';
import { send, spawn, exit, unwatch, watch } from '../runtime/process.js';
import type { Ref } from '../runtime/pid.js';
import { currentNode, monitorNodes } from '../runtime/cluster/node.js';
import { ChannelSocket } from './channel.js';
import type { Endpoint } from './endpoint.js';

/** One presence's metadata as clients see it: the tracked meta plus its `phx_ref` (and `phx_ref_prev` after an update). */
export type PresenceMeta = Readonly<Record<string, unknown>> & { readonly phx_ref: string; readonly phx_ref_prev?: string };

/** A topic's presences by key, each with the metas of its tracked processes: what `presence_state` carries. */
export type PresenceState = Record<string, { metas: PresenceMeta[] }>;

/** What `presence_diff` carries. */
export interface PresenceDiff {
  readonly joins: PresenceState;
  readonly leaves: PresenceState;
}

/** Options for `new Presence(...)`. */
export interface PresenceOptions {
  /** The endpoint whose PubSub replicates presences and whose topics get `presence_diff`. */
  readonly endpoint: Endpoint;
  /** Names this presence on every node (the same name everywhere). Default `'presence'`. */
  readonly name?: string;
  /** How often this node tells the others its latest change number, in ms. Default 1500. */
  readonly heartbeatMs?: number;
  /** A node silent this long loses its presences here, in ms (cluster node-down detection usually comes first). Default 5 × heartbeatMs. */
  readonly downAfterMs?: number;
}

type Entry = readonly [ref: string, topic: string, key: string, meta: PresenceMeta];

interface LocalEntry {
  readonly pid: Pid;
  readonly entry: Entry;
}

interface Replica {
  vsn: string;
  seq: number;
  /** Waiting for the node's whole state: deltas until then are in it or after it. */
  awaiting: boolean;
  heardAt: number;
  readonly entries: Map<string, Entry>;
}

type Wire =
  | { readonly t: 'delta'; readonly node: string; readonly vsn: string; readonly seq: number; readonly joins: readonly Entry[]; readonly leaves: readonly string[] }
  | { readonly t: 'beat'; readonly node: string; readonly vsn: string; readonly seq: number }
  | { readonly t: 'req'; readonly node: string }
  | { readonly t: 'state'; readonly node: string; readonly vsn: string; readonly seq: number; readonly entries: readonly Entry[] };

const TICK = Symbol('presence tick');
const OPTION_KEYS = ['endpoint', 'name', 'heartbeatMs', 'downAfterMs'];

function positive(opts: Record<string, unknown>, key: string, dflt: number): number {
  const v = opts[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new TypeError(`Presence option '${key}' must be a positive number of ms, got ${String(v)}`);
  return v;
}

function emptyState(): PresenceState {
  return Object.create(null) as PresenceState;
}

function addTo(state: PresenceState, key: string, meta: PresenceMeta): void {
  (state[key] ??= { metas: [] }).metas.push(meta);
}

/**
 * Tracks presences on topics and replicates them across nodes (Phoenix.Presence).
 *
 * @example
 * const presence = new Presence({ endpoint });
 * // in a channel, after joining:
 * presence.track(socket, socket.assigns.user, { online_at: Date.now() });
 * socket.push('presence_state', presence.list(socket.topic));
 */
export class Presence {
  /** The name shared by this presence on every node. */
  readonly name: string;
  private readonly endpoint: Endpoint;
  private readonly wireTopic: string;
  private readonly vsn = randomBytes(6).toString('base64url');
  private readonly heartbeatMs: number;
  private readonly downAfterMs: number;
  private seq = 0;
  private refs = 0;
  private readonly local = new Map<string, LocalEntry>();
  private readonly byPid = new Map<Pid, { watch: Ref | undefined; refs: Set<string> }>();
  private readonly replicas = new Map<string, Replica>();
  /** Every presence this node knows, local and replicated: topic, then phx_ref. */
  private readonly byTopic = new Map<string, Map<string, Entry>>();
  private readonly tracker: Pid;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  /**
   * Starts this node's presence tracker. Throws a TypeError naming a bad option.
   *
   * @example
   * const presence = new Presence({ endpoint, name: 'chat_presence', heartbeatMs: 1000 });
   */
  constructor(opts: PresenceOptions) {
    if (typeof opts !== 'object' || opts === null) throw new TypeError(`new Presence(options): options must be an object with an endpoint`);
    for (const key of Object.keys(opts)) {
      if (!OPTION_KEYS.includes(key)) throw new TypeError(`Presence options: unknown option '${key}' (known: ${OPTION_KEYS.join(', ')})`);
    }
    if (typeof opts.endpoint !== 'object' || opts.endpoint === null || typeof (opts.endpoint as { localBroadcast?: unknown }).localBroadcast !== 'function') {
      throw new TypeError(`Presence option 'endpoint' must be an Endpoint, got ${String(opts.endpoint)}`);
    }
    const name = opts.name ?? 'presence';
    if (typeof name !== 'string' || name === '') throw new TypeError(`Presence option 'name' must be a non-empty string, got ${String(name)}`);
    const raw = opts as unknown as Record<string, unknown>;
    this.heartbeatMs = positive(raw, 'heartbeatMs', 1500);
    this.downAfterMs = positive(raw, 'downAfterMs', this.heartbeatMs * 5);
    this.name = name;
    this.endpoint = opts.endpoint;
    this.wireTopic = `beamsock.presence:${name}`;
    this.tracker = spawn((msg: unknown) => this.receive(msg), {
      kind: 'presence',
      init: () => {
        this.endpoint.pubsub.subscribe(this.wireTopic, undefined);
        if (currentNode() !== null) monitorNodes();
        this.beat();
      },
    });
    this.timer = setInterval(() => send(this.tracker, TICK), this.heartbeatMs);
    this.timer.unref();
  }

  /**
   * Tracks `pid` (a channel's, with a `ChannelSocket`) under `key` on `topic`
   * with `meta`; returns the presence's `phx_ref`. The presence goes when the
   * process exits. Throws if that key is already tracked for that process and
   * topic (use `update`), or if the process is not alive.
   *
   * @example
   * presence.track(socket, 'ada', { online_at: Date.now() });
   * presence.track(somePid, 'room:lobby', 'bot', {});
   */
  track(socket: ChannelSocket<unknown>, key: string, meta: Readonly<Record<string, unknown>>): string;
  track(pid: Pid, topic: string, key: string, meta: Readonly<Record<string, unknown>>): string;
  track(a: ChannelSocket<unknown> | Pid, b: string, c: unknown, d?: unknown): string {
    const [pid, topic, key, meta] = this.args('track', a, b, c, d);
    if (this.find(pid, topic, key) !== undefined) throw new Error(`Presence#track: '${key}' is already tracked for ${pid.toString()} on '${topic}'; use update()`);
    const ref = this.add(pid, topic, key, meta, undefined);
    return ref;
  }

  /**
   * Replaces the meta of a tracked presence (a function gets the old meta); the
   * client sees a leave of the old meta and a join of the new one, whose
   * `phx_ref_prev` names the old. Returns the new `phx_ref`. Throws if nothing is
   * tracked under that key.
   *
   * @example
   * presence.update(socket, 'ada', (old) => ({ ...old, typing: true }));
   */
  update(socket: ChannelSocket<unknown>, key: string, meta: Readonly<Record<string, unknown>> | ((old: PresenceMeta) => Readonly<Record<string, unknown>>)): string;
  update(pid: Pid, topic: string, key: string, meta: Readonly<Record<string, unknown>> | ((old: PresenceMeta) => Readonly<Record<string, unknown>>)): string;
  update(a: ChannelSocket<unknown> | Pid, b: string, c: unknown, d?: unknown): string {
    const [pid, topic, key, given] = this.args('update', a, b, c, d, true);
    const old = this.find(pid, topic, key);
    if (old === undefined) throw new Error(`Presence#update: nothing tracked under '${key}' for ${pid.toString()} on '${topic}'; track() it first`);
    const meta = typeof given === 'function' ? (given as (m: PresenceMeta) => Readonly<Record<string, unknown>>)(old[3]) : given;
    if (typeof meta !== 'object' || meta === null) throw new TypeError(`Presence#update: meta must be an object, got ${String(meta)}`);
    return this.add(pid, topic, key, meta, old);
  }

  /**
   * Stops tracking `key` for the process on the topic (all keys without `key`).
   *
   * @example
   * presence.untrack(socket, 'ada');
   */
  untrack(socket: ChannelSocket<unknown>, key?: string): void;
  untrack(pid: Pid, topic: string, key?: string): void;
  untrack(a: ChannelSocket<unknown> | Pid, b?: string, c?: string): void {
    const [pid, topic, key] = a instanceof ChannelSocket ? [a.channelPid, a.topic, b] : [a, b as string, c];
    if (!(pid instanceof Pid)) throw new TypeError('Presence#untrack(socket, key?) or (pid, topic, key?)');
    const owned = this.byPid.get(pid);
    if (owned === undefined) return;
    const gone: Entry[] = [];
    for (const ref of owned.refs) {
      const e = (this.local.get(ref) as LocalEntry).entry;
      if (e[1] === topic && (key === undefined || e[2] === key)) gone.push(e);
    }
    this.removeLocal(gone);
  }

  /**
   * The presences on `topic` (or a channel socket's topic) across the cluster, as
   * `presence_state` carries them.
   *
   * @example
   * socket.push('presence_state', presence.list(socket));
   */
  list(topic: string | ChannelSocket<unknown>): PresenceState {
    const t = topic instanceof ChannelSocket ? topic.topic : topic;
    const state = emptyState();
    const entries = this.byTopic.get(t);
    if (entries !== undefined) for (const e of entries.values()) addTo(state, e[2], e[3]);
    return state;
  }

  /**
   * Stops this node's tracker: its heartbeats stop and the other nodes drop
   * its presences once it is silent past `downAfterMs`.
   *
   * @example
   * afterAll(() => presence.close());
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const [pid, owned] of this.byPid) if (owned.watch !== undefined) unwatch(pid, owned.watch);
    exit(this.tracker, 'shutdown');
  }

  // ---- local changes

  private args(what: string, a: ChannelSocket<unknown> | Pid, b: string, c: unknown, d: unknown, fnOk = false): [Pid, string, string, Readonly<Record<string, unknown>>] {
    const [pid, topic, key, meta] = a instanceof ChannelSocket ? [a.channelPid, a.topic, b, c] : [a, b, c, d];
    if (!(pid instanceof Pid)) throw new TypeError(`Presence#${what}: expected (socket, key, meta) or (pid, topic, key, meta)`);
    if (typeof topic !== 'string') throw new TypeError(`Presence#${what}: topic must be a string, got ${String(topic)}`);
    if (typeof key !== 'string') throw new TypeError(`Presence#${what}: key must be a string, got ${String(key)}`);
    if ((typeof meta !== 'object' || meta === null) && !(fnOk && typeof meta === 'function')) throw new TypeError(`Presence#${what}: meta must be an object, got ${String(meta)}`);
    if (this.closed) throw new Error(`Presence#${what}: presence '${this.name}' is closed`);
    return [pid, topic, key, meta as Readonly<Record<string, unknown>>];
  }

  private find(pid: Pid, topic: string, key: string): Entry | undefined {
    const owned = this.byPid.get(pid);
    if (owned === undefined) return undefined;
    for (const ref of owned.refs) {
      const e = (this.local.get(ref) as LocalEntry).entry;
      if (e[1] === topic && e[2] === key) return e;
    }
    return undefined;
  }

  private add(pid: Pid, topic: string, key: string, meta: Readonly<Record<string, unknown>>, replaces: Entry | undefined): string {
    let owned = this.byPid.get(pid);
    if (owned === undefined) {
      const w = watch(pid, (gone) => this.exited(gone));
      if (w === undefined) throw new Error(`Presence: ${pid.toString()} is not alive`);
      owned = { watch: w, refs: new Set() };
      this.byPid.set(pid, owned);
    }
    const ref = `${this.vsn}.${(++this.refs).toString(36)}`;
    const { phx_ref: _r, phx_ref_prev: _p, ...rest } = meta as PresenceMeta;
    const full = (replaces === undefined ? { ...rest, phx_ref: ref } : { ...rest, phx_ref: ref, phx_ref_prev: replaces[0] }) as PresenceMeta;
    const entry: Entry = [ref, topic, key, full];
    const leaves: string[] = [];
    if (replaces !== undefined) {
      owned.refs.delete(replaces[0]);
      this.local.delete(replaces[0]);
      leaves.push(replaces[0]);
    }
    owned.refs.add(ref);
    this.local.set(ref, { pid, entry });
    this.apply([entry], replaces === undefined ? [] : [replaces]);
    this.publish([entry], leaves);
    return ref;
  }

  private exited(pid: Pid): void {
    const owned = this.byPid.get(pid);
    if (owned === undefined) return;
    owned.watch = undefined;
    this.removeLocal([...owned.refs].map((ref) => (this.local.get(ref) as LocalEntry).entry));
  }

  private removeLocal(gone: Entry[]): void {
    if (gone.length === 0) return;
    for (const e of gone) {
      const le = this.local.get(e[0]) as LocalEntry;
      this.local.delete(e[0]);
      const owned = this.byPid.get(le.pid);
      if (owned !== undefined) {
        owned.refs.delete(e[0]);
        if (owned.refs.size === 0) {
          if (owned.watch !== undefined) unwatch(le.pid, owned.watch);
          this.byPid.delete(le.pid);
        }
      }
    }
    this.apply([], gone);
    this.publish(
      [],
      gone.map((e) => e[0]),
    );
  }

  private publish(joins: Entry[], leaves: string[]): void {
    if (this.closed) return;
    const delta: Wire = { t: 'delta', node: this.node(), vsn: this.vsn, seq: ++this.seq, joins, leaves };
    void this.endpoint.pubsub.broadcast(this.wireTopic, delta);
  }

  // ---- the view of every node, and the diffs it sends this node's clients

  /** Adds and removes presences from the view, then broadcasts the diff to this node's subscribers of each topic. */
  private apply(joins: readonly Entry[], leaves: readonly Entry[]): void {
    const diffs = new Map<string, { joins: PresenceState; leaves: PresenceState }>();
    const diffOf = (topic: string): { joins: PresenceState; leaves: PresenceState } => {
      let d = diffs.get(topic);
      if (d === undefined) diffs.set(topic, (d = { joins: emptyState(), leaves: emptyState() }));
      return d;
    };
    for (const e of leaves) {
      const t = this.byTopic.get(e[1]);
      if (t === undefined || !t.delete(e[0])) continue;
      if (t.size === 0) this.byTopic.delete(e[1]);
      addTo(diffOf(e[1]).leaves, e[2], e[3]);
    }
    for (const e of joins) {
      let t = this.byTopic.get(e[1]);
      if (t === undefined) this.byTopic.set(e[1], (t = new Map()));
      t.set(e[0], e);
      addTo(diffOf(e[1]).joins, e[2], e[3]);
    }
    for (const [topic, diff] of diffs) this.endpoint.localBroadcast(topic, 'presence_diff', diff);
  }

  private node(): string {
    return this.endpoint.pubsub.nodeName();
  }

  // ---- the tracker process: replication with the other nodes

  private beat(): void {
    void this.endpoint.pubsub.broadcast(this.wireTopic, { t: 'beat', node: this.node(), vsn: this.vsn, seq: this.seq } satisfies Wire);
  }

  private request(node: string, replica: Replica | undefined): void {
    if (replica !== undefined) replica.awaiting = true;
    void this.endpoint.pubsub.directBroadcast(node, this.wireTopic, { t: 'req', node: this.node() } satisfies Wire);
  }

  private dropNode(node: string): void {
    const replica = this.replicas.get(node);
    if (replica === undefined) return;
    this.replicas.delete(node);
    this.apply([], [...replica.entries.values()]);
  }

  private receive(msg: unknown): void {
    if (msg === TICK) {
      this.beat();
      const now = Date.now();
      for (const [node, r] of this.replicas) if (now - r.heardAt > this.downAfterMs) this.dropNode(node);
      return;
    }
    const m = msg as { type?: unknown; node?: unknown };
    if (m.type === 'nodedown' && typeof m.node === 'string') {
      this.dropNode(m.node);
      return;
    }
    if (m.type === 'nodeup' && typeof m.node === 'string') {
      this.request(m.node, this.replicas.get(m.node));
      return;
    }
    const w = msg as Wire;
    if (typeof w !== 'object' || w === null || typeof w.node !== 'string' || w.node === this.node()) return;
    const replica = this.replicas.get(w.node);
    if (replica !== undefined) replica.heardAt = Date.now();
    switch (w.t) {
      case 'req':
        void this.endpoint.pubsub.directBroadcast(w.node, this.wireTopic, {
          t: 'state',
          node: this.node(),
          vsn: this.vsn,
          seq: this.seq,
          entries: [...this.local.values()].map((l) => l.entry),
        } satisfies Wire);
        return;
      case 'beat':
        if (replica === undefined || replica.vsn !== w.vsn || (w.seq > replica.seq && !replica.awaiting)) {
          if (replica === undefined || replica.vsn !== w.vsn) this.adopt(w.node, w.vsn);
          this.request(w.node, this.replicas.get(w.node));
        }
        return;
      case 'delta': {
        if (replica === undefined || replica.vsn !== w.vsn) {
          this.adopt(w.node, w.vsn);
          this.request(w.node, this.replicas.get(w.node));
          return;
        }
        if (replica.awaiting) return;
        if (w.seq !== replica.seq + 1) {
          this.request(w.node, replica);
          return;
        }
        replica.seq = w.seq;
        const leaves: Entry[] = [];
        for (const ref of w.leaves) {
          const e = replica.entries.get(ref);
          if (e !== undefined) {
            replica.entries.delete(ref);
            leaves.push(e);
          }
        }
        for (const e of w.joins) replica.entries.set(e[0], e);
        this.apply(w.joins, leaves);
        return;
      }
      case 'state': {
        const r = replica !== undefined && replica.vsn === w.vsn ? replica : this.adopt(w.node, w.vsn);
        const incoming = new Map(w.entries.map((e) => [e[0], e] as const));
        const leaves = [...r.entries.values()].filter((e) => !incoming.has(e[0]));
        const joins = w.entries.filter((e) => !r.entries.has(e[0]));
        r.entries.clear();
        for (const e of w.entries) r.entries.set(e[0], e);
        r.seq = w.seq;
        r.awaiting = false;
        this.apply(joins, leaves);
        return;
      }
    }
  }

  /** A node seen for the first time, or restarted (a new vsn): its old presences go, the new ones come with its state. */
  private adopt(node: string, vsn: string): Replica {
    this.dropNode(node);
    const r: Replica = { vsn, seq: 0, awaiting: false, heardAt: Date.now(), entries: new Map() };
    this.replicas.set(node, r);
    return r;
  }
}
