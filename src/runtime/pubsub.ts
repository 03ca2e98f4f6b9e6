/**
 * PubSub: topic subscriptions and broadcasts with Phoenix.PubSub semantics, built
 * on a duplicate-key `Registry`.
 *
 * A process subscribes itself to a topic; a broadcast delivers the message, as is
 * (no envelope), to every subscription: subscribing twice means receiving twice.
 * Subscriptions vanish when their process exits.
 *
 * Delivery goes through a dispatcher, `(entries, from, message) => void`, which by
 * default `send`s to every subscriber except `from`. A custom dispatcher (per
 * PubSub or per call) can do the work once for many subscribers, e.g. encode a
 * frame once and write it to many sockets.
 *
 * Across nodes, an adapter (a cluster transport such as NATS or Redis) carries
 * broadcasts to the other nodes, which hand them to their own PubSub with
 * `deliverRemote`. Dispatchers that must cross the wire are referred to by the
 * name they were registered under with `registerDispatcher`. Without an adapter a
 * broadcast is a plain registry dispatch.
 */
import { nodeName as localNodeName, type Pid } from './pid.js';
import { send } from './process-core.js';
import { LiveSet } from './live-set.js';
import { rejectUnknownOptions } from './options.js';
import { Registry, openRegistries, type RegistryEntry } from './registry.js';

/**
 * Delivers one broadcast to the subscriptions of a topic: `entries` holds one
 * `[pid, metadata]` per subscription (lent, not copied: do not keep it), `from` is
 * the pid to skip (or null); `topic` is the topic and `pubsub` the PubSub it
 * belongs to, as an identity that tells two PubSubs' topics apart (a PubSub
 * always passes both). Runs in the broadcasting code; a throw reaches it.
 */
export type Dispatcher<Meta = unknown> = (entries: readonly RegistryEntry<Meta>[], from: Pid | null, message: unknown, topic?: string, pubsub?: object) => void;

/**
 * A cluster transport for PubSub. `broadcast` reaches every other node's PubSub,
 * `directBroadcast` one node's; on each receiving node the transport calls
 * `pubsub.deliverRemote(topic, message, dispatcherName)`. Messages must survive the
 * transport's serialization. A returned promise reports delivery failures to the
 * broadcaster; it does not delay local delivery.
 */
export interface PubSubAdapter {
  /** This node's name as the transport knows it; `directBroadcast` targets use it. */
  nodeName(): string;
  /** Sends to every other node. */
  broadcast(topic: string, message: unknown, dispatcherName?: string): void | Promise<void>;
  /** Sends to one node. */
  directBroadcast(node: string, topic: string, message: unknown, dispatcherName?: string): void | Promise<void>;
  /**
   * Optional: told when `topic` gets its first subscription on this node (true) and
   * loses its last (false), so the transport can route each topic only to the nodes
   * that subscribe to it.
   */
  interest?(topic: string, subscribed: boolean): void;
}

/** Options for `new PubSub(...)`. */
export interface PubSubOptions<Meta> {
  /** Makes the PubSub findable with `PubSub.lookupByName`. Must not be taken. */
  readonly name?: string;
  /**
   * Builds the cluster transport for this PubSub. It receives the PubSub so it can
   * hand remote messages in with `deliverRemote`. Without it the PubSub is local.
   */
  readonly adapter?: (pubsub: PubSub<Meta>) => PubSubAdapter;
  /** The dispatcher used when a call names none. Default: `defaultDispatcher`. */
  readonly dispatcher?: Dispatcher<Meta>;
}

/** `subscribe`'s optional metadata argument: required when `Meta` does not admit undefined. */
export type SubscribeMetadata<Meta> = undefined extends Meta ? [metadata?: Meta] : [metadata: Meta];

/**
 * Sends `message` to every subscriber except `from`, once per subscription.
 *
 * @example
 * const ps = new PubSub({ dispatcher: (entries, from, msg) => {
 *   metrics.broadcasts++;
 *   defaultDispatcher(entries, from, msg);
 * } });
 */
export const defaultDispatcher: Dispatcher<unknown> = (entries, from, message) => {
  for (let i = 0; i < entries.length; i++) {
    const pid = (entries[i] as RegistryEntry<unknown>)[0];
    if (pid !== from) send(pid, message);
  }
};

const OPTION_KEYS: readonly string[] = ['name', 'adapter', 'dispatcher'];
const byName = new Map<string, PubSub<unknown>>();

/** @internal Every open PubSub, held weakly, for the observer. */
export const openPubSubs = new LiveSet<PubSub<unknown>>();
const always = (): boolean => true;

function validateOptions(opts: PubSubOptions<unknown>): void {
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`new PubSub(options): options must be an object, got ${String(opts)}`);
  rejectUnknownOptions(opts, OPTION_KEYS, 'PubSub options');
  if (opts.name !== undefined && (typeof opts.name !== 'string' || opts.name === '')) {
    throw new TypeError(`PubSub option 'name' must be a non-empty string, got ${JSON.stringify(opts.name)}`);
  }
  if (opts.adapter !== undefined && typeof opts.adapter !== 'function') {
    throw new TypeError(`PubSub option 'adapter' must be a function (pubsub) => PubSubAdapter, got ${String(opts.adapter)}`);
  }
  if (opts.dispatcher !== undefined && typeof opts.dispatcher !== 'function') {
    throw new TypeError(`PubSub option 'dispatcher' must be a function (entries, from, message) => void, got ${String(opts.dispatcher)}`);
  }
}

function requireTopic(what: string, topic: unknown): void {
  if (typeof topic !== 'string') throw new TypeError(`PubSub#${what}: topic must be a string, got ${String(topic)}`);
}

/**
 * Topic-based publish/subscribe between processes.
 *
 * @example
 * const ps = new PubSub();
 * // inside a connection process:
 * ps.subscribe('room:42');
 * // anywhere:
 * ps.broadcast('room:42', { type: 'chat', text: 'hi' });
 */
export class PubSub<Meta = undefined> {
  /** The name given at construction, if any. */
  readonly name: string | undefined;
  private readonly registry = new Registry<string, Meta>({ keys: 'duplicate' });
  private readonly dispatcher: Dispatcher<Meta>;
  private readonly adapter: PubSubAdapter | null;
  private readonly dispatchers = new Map<string, Dispatcher<Meta>>();
  private readonly dispatcherNames = new Map<Dispatcher<Meta>, string>();
  private closed = false;

  /**
   * Creates a PubSub. Throws a TypeError naming a bad option, or an Error if `name`
   * is taken.
   *
   * @example
   * const ps = new PubSub<{ format: 'json' | 'msgpack' }>({ name: 'app', adapter: natsAdapter(conn) });
   */
  constructor(opts: PubSubOptions<Meta> = {}) {
    validateOptions(opts as PubSubOptions<unknown>);
    if (opts.name !== undefined && byName.has(opts.name)) {
      throw new Error(`a PubSub named '${opts.name}' already exists; pick another name or close() the old one`);
    }
    this.name = opts.name;
    this.dispatcher = opts.dispatcher ?? defaultDispatcher;
    if (opts.name !== undefined) byName.set(opts.name, this as PubSub<unknown>);
    openRegistries.delete(this.registry as Registry<unknown, unknown>);
    openPubSubs.add(this as PubSub<unknown>);
    this.adapter = opts.adapter === undefined ? null : opts.adapter(this);
    const adapter = this.adapter;
    if (adapter?.interest !== undefined) this.registry.watchKeys((topic, on) => adapter.interest?.(topic, on));
  }

  /**
   * The open PubSub created with `name`, or undefined. Its metadata type is not
   * checked.
   *
   * @example
   * PubSub.lookupByName('app')?.broadcast('news', item);
   */
  static lookupByName<Meta = undefined>(name: string): PubSub<Meta> | undefined {
    return byName.get(name) as PubSub<Meta> | undefined;
  }

  /**
   * Subscribes the calling process to `topic`, with optional metadata that
   * dispatchers see. Subscribing twice gives two deliveries per broadcast. Throws
   * outside a process.
   *
   * @example
   * ps.subscribe('room:42');
   */
  subscribe(topic: string, ...metadata: SubscribeMetadata<Meta>): void {
    requireTopic('subscribe', topic);
    if (this.closed) {
      throw new Error(`PubSub#subscribe: ${this.name === undefined ? 'this PubSub' : `PubSub '${this.name}'`} is closed; create a new PubSub`);
    }
    this.registry.register(topic, metadata[0] as Meta);
  }

  /**
   * Drops all of the calling process's subscriptions to `topic`. Throws outside a
   * process.
   *
   * @example
   * ps.unsubscribe('room:42');
   */
  unsubscribe(topic: string): void {
    this.registry.unregister(topic);
  }

  /**
   * Delivers `message` to every subscriber of `topic` on every node: first hands it
   * to the adapter (if any) for the other nodes, then dispatches locally. Returns the
   * adapter's promise, if it gave one, so the caller can await remote failures.
   * Throws if `dispatcher` is an unknown name, or, with an adapter, a function that
   * was not registered with `registerDispatcher` (it could not cross the wire).
   *
   * @example
   * ps.broadcast('room:42', { type: 'chat', text: 'hi' });
   */
  broadcast(topic: string, message: unknown, dispatcher?: Dispatcher<Meta> | string): void | Promise<void> {
    if (this.adapter === null) {
      this.registry.dispatchWith(topic, this.resolve(dispatcher), null, message, this);
      return;
    }
    const fn = this.resolve(dispatcher);
    const pending = this.adapter.broadcast(topic, message, this.wireName(dispatcher));
    this.registry.dispatchWith(topic, fn, null, message, this);
    return pending;
  }

  /**
   * Like `broadcast`, but the local dispatch skips `from` (usually `self()`), so a
   * process does not hear its own message.
   *
   * @example
   * ps.broadcastFrom(self(), 'room:42', { type: 'typing', user });
   */
  broadcastFrom(from: Pid, topic: string, message: unknown, dispatcher?: Dispatcher<Meta> | string): void | Promise<void> {
    const fn = this.resolve(dispatcher);
    const pending = this.adapter === null ? undefined : this.adapter.broadcast(topic, message, this.wireName(dispatcher));
    this.registry.dispatchWith(topic, fn, from, message, this);
    return pending;
  }

  /**
   * Delivers `message` to the subscribers of `topic` on this node only.
   *
   * @example
   * ps.localBroadcast('metrics', sample);
   */
  localBroadcast(topic: string, message: unknown, dispatcher?: Dispatcher<Meta> | string): void {
    this.registry.dispatchWith(topic, this.resolve(dispatcher), null, message, this);
  }

  /**
   * Delivers `message` to the subscribers of `topic` on this node, except `from`.
   *
   * @example
   * ps.localBroadcastFrom(self(), 'metrics', sample);
   */
  localBroadcastFrom(from: Pid, topic: string, message: unknown, dispatcher?: Dispatcher<Meta> | string): void {
    this.registry.dispatchWith(topic, this.resolve(dispatcher), from, message, this);
  }

  /**
   * Delivers `message` to the subscribers of `topic` on one node: locally when
   * `node` is this node's name, else through the adapter. Throws if `node` is
   * another node and there is no adapter.
   *
   * @example
   * ps.directBroadcast('chat-2@10.0.0.6', 'room:42', msg);
   */
  directBroadcast(node: string, topic: string, message: unknown, dispatcher?: Dispatcher<Meta> | string): void | Promise<void> {
    if (node === this.nodeName()) {
      this.registry.dispatchWith(topic, this.resolve(dispatcher), null, message, this);
      return;
    }
    if (this.adapter === null) {
      throw new Error(`PubSub#directBroadcast to node '${node}': this PubSub has no adapter, so only its own node '${this.nodeName()}' is reachable`);
    }
    this.resolve(dispatcher);
    return this.adapter.directBroadcast(node, topic, message, this.wireName(dispatcher));
  }

  /**
   * Called by the adapter on the receiving node: dispatches a message that came
   * from another node to this node's subscribers, with the dispatcher registered
   * under `dispatcherName` (the default when undefined). Throws for an unknown name.
   *
   * @example
   * sub.on('message', ({ topic, message, dispatcher }) => pubsub.deliverRemote(topic, message, dispatcher));
   */
  deliverRemote(topic: string, message: unknown, dispatcherName?: string): void {
    this.registry.dispatchWith(topic, this.resolve(dispatcherName), null, message, this);
  }

  /**
   * Registers a dispatcher under a name, so broadcasts can name it and other nodes
   * (which register the same name) use it too. Throws if the name is taken by
   * another function.
   *
   * @example
   * ps.registerDispatcher('ws-frame', (entries, from, msg) => writeFrameOnce(entries, from, msg));
   * ps.broadcast('room:42', msg, 'ws-frame');
   */
  registerDispatcher(name: string, fn: Dispatcher<Meta>): void {
    if (typeof name !== 'string' || name === '') throw new TypeError(`PubSub#registerDispatcher: name must be a non-empty string, got ${String(name)}`);
    if (typeof fn !== 'function') throw new TypeError(`PubSub#registerDispatcher('${name}'): expected a function (entries, from, message) => void`);
    const existing = this.dispatchers.get(name);
    if (existing === fn) return;
    if (existing !== undefined) throw new Error(`PubSub#registerDispatcher: a different dispatcher is already registered as '${name}'`);
    this.dispatchers.set(name, fn);
    this.dispatcherNames.set(fn, name);
  }

  /**
   * This node's name: the adapter's, or the runtime's `nodeName()` without one.
   *
   * @example
   * ps.nodeName(); // 'nonode@nohost'
   */
  nodeName(): string {
    return this.adapter === null ? localNodeName() : this.adapter.nodeName();
  }

  /**
   * The local subscribers of `topic`, one pid per subscription (a pid subscribed
   * twice appears twice), in no particular order.
   *
   * @example
   * ps.subscribers('room:42').length;
   */
  subscribers(topic: string): Pid[] {
    return this.registry.lookup(topic).map((e) => e[0]);
  }

  /**
   * How many local subscriptions `topic` has, without building a list.
   *
   * @example
   * if (ps.subscriberCount('room:42') === 0) closeRoom();
   */
  subscriberCount(topic: string): number {
    return this.registry.countMatch(topic, always);
  }

  /**
   * Drops every subscription and frees the name. Afterwards `subscribe` throws.
   *
   * @example
   * afterEach(() => ps.close());
   */
  close(): void {
    this.closed = true;
    this.registry.close();
    if (this.name !== undefined && byName.get(this.name) === (this as PubSub<unknown>)) byName.delete(this.name);
    openPubSubs.delete(this as PubSub<unknown>);
  }

  /** @internal The registry of its local subscriptions, topic to subscriber, for the observer to read. */
  subscriptions(): Registry<string, Meta> {
    return this.registry;
  }

  private resolve(dispatcher: Dispatcher<Meta> | string | undefined): Dispatcher<Meta> {
    if (dispatcher === undefined) return this.dispatcher;
    if (typeof dispatcher === 'function') return dispatcher;
    const fn = this.dispatchers.get(dispatcher);
    if (fn === undefined) {
      throw new Error(`PubSub: unknown dispatcher '${String(dispatcher)}'; register it on every node with registerDispatcher(name, fn)`);
    }
    return fn;
  }

  private wireName(dispatcher: Dispatcher<Meta> | string | undefined): string | undefined {
    if (dispatcher === undefined || typeof dispatcher === 'string') return dispatcher;
    const name = this.dispatcherNames.get(dispatcher);
    if (name === undefined) {
      throw new TypeError(`PubSub: a dispatcher function cannot cross nodes; register it with registerDispatcher(name, fn) and pass the name`);
    }
    return name;
  }
}
