/**
 * The endpoint: where channel broadcasts go in and out, Phoenix's
 * `Endpoint.broadcast/3` and friends, on a beamsock `PubSub`.
 *
 * Every joined channel subscribes to its topic with its socket's details as
 * metadata. A broadcast then goes through one dispatcher that encodes the
 * message once per serializer for all the subscribing sockets and writes it
 * straight to them with the websock fastlane; only a channel that intercepts
 * the event gets the broadcast as a message and decides what its client sees.
 * With a PubSub built on `clusterAdapter()`, broadcasts reach every node, each
 * of which encodes once for its own sockets.
 */
import type { Pid } from '../runtime/pid.js';
import { PubSub, defaultDispatcher, type Dispatcher } from '../runtime/pubsub.js';
import { enqueue, procOf, send } from '../runtime/process.js';
import type { Proc } from '../runtime/proc.js';
import { connectionOf } from '../websock/connection.js';
import { Outbound } from '../websock/transport.js';
import { encodePush, type SerializerVersion } from './serializer.js';

/**
 * A broadcast as a subscribed process receives it (`endpoint.subscribe`) and as
 * it crosses nodes: plain data, Phoenix's `%Phoenix.Socket.Broadcast{}`.
 */
export interface Broadcast {
  readonly type: 'phx_broadcast';
  readonly topic: string;
  readonly event: string;
  readonly payload: unknown;
}

/**
 * True for a `Broadcast` message (what `endpoint.subscribe` delivers).
 *
 * @example
 * handleInfo: (msg, state) => (isBroadcast(msg) ? onBroadcast(msg, state) : ok(state)),
 */
export function isBroadcast(msg: unknown): msg is Broadcast {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'phx_broadcast';
}

/** @internal what a joined channel subscribes with: where and how to write a broadcast for it. */
export interface ChannelSubscription {
  readonly socket: Pid;
  readonly vsn: SerializerVersion;
  /** Events the channel's `handleOut` sees instead of its client; null when none. */
  readonly intercepts: ReadonlySet<string> | null;
}

type Meta = ChannelSubscription | undefined;

/** The dispatcher's name on every node's PubSub. */
export const CHANNEL_DISPATCHER = 'beamsock.channels';

/** @internal writes an encoded frame to a socket process: straight to its socket when it is idle, else in its place in its mailbox. */
export function writeToSocket(socket: Pid, out: Outbound): void {
  const conn = connectionOf(socket);
  if (conn === undefined) send(socket, out);
  else if (!conn.writeNow(out)) enqueue(procOf(socket) as Proc, out);
}

const channelDispatcher: Dispatcher<Meta> = (entries, from, message) => {
  if (!isBroadcast(message)) {
    defaultDispatcher(entries, from, message);
    return;
  }
  let v1: Outbound | undefined;
  let v2: Outbound | undefined;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as readonly [Pid, Meta];
    const pid = entry[0];
    if (pid === from) continue;
    const sub = entry[1];
    if (sub === undefined || (sub.intercepts !== null && sub.intercepts.has(message.event))) {
      send(pid, message);
      continue;
    }
    const out = sub.vsn === '2' ? (v2 ??= new Outbound(encodePush('2', null, message.topic, message.event, message.payload))) : (v1 ??= new Outbound(encodePush('1', null, message.topic, message.event, message.payload)));
    writeToSocket(sub.socket, out);
  }
};

/** Options for `new Endpoint(...)`. */
export interface EndpointOptions {
  /**
   * The PubSub to broadcast through; give one built with `clusterAdapter()` (and
   * the same `name` on every node) for cluster-wide broadcasts. Default: a new
   * local PubSub.
   */
  readonly pubsub?: PubSub<unknown>;
}

function broadcastOf(topic: string, event: string, payload: unknown): Broadcast {
  if (typeof topic !== 'string') throw new TypeError(`broadcast: topic must be a string, got ${String(topic)}`);
  if (typeof event !== 'string') throw new TypeError(`broadcast: event must be a string, got ${String(event)}`);
  return { type: 'phx_broadcast', topic, event, payload };
}

/**
 * Broadcasts to the channels joined on a topic, on this node or (with a
 * cluster PubSub) on all nodes; Phoenix's endpoint.
 *
 * @example
 * const endpoint = new Endpoint();
 * endpoint.broadcast('room:lobby', 'new_msg', { user: 'system', body: 'restarting soon' });
 */
export class Endpoint {
  /** The PubSub broadcasts go through (joined channels subscribe to it with their socket's details as metadata). */
  readonly pubsub: PubSub<unknown>;

  /**
   * Creates an endpoint. Throws a TypeError naming a bad option.
   *
   * @example
   * const endpoint = new Endpoint({ pubsub: new PubSub({ name: 'chat', adapter: clusterAdapter() }) });
   */
  constructor(opts: EndpointOptions = {}) {
    if (typeof opts !== 'object' || opts === null) throw new TypeError(`new Endpoint(options): options must be an object, got ${String(opts)}`);
    for (const key of Object.keys(opts)) {
      if (key !== 'pubsub') throw new TypeError(`Endpoint options: unknown option '${key}' (known: pubsub)`);
    }
    if (opts.pubsub !== undefined && !(opts.pubsub instanceof PubSub)) throw new TypeError(`Endpoint option 'pubsub' must be a PubSub, got ${String(opts.pubsub)}`);
    this.pubsub = opts.pubsub ?? (new PubSub() as PubSub<unknown>);
    this.pubsub.registerDispatcher(CHANNEL_DISPATCHER, channelDispatcher as Dispatcher<unknown>);
  }

  /**
   * Sends `event` with `payload` to every client joined to `topic` (and every
   * process that `subscribe`d to it), on every node. Returns the cluster
   * adapter's promise, if any.
   *
   * @example
   * endpoint.broadcast('room:lobby', 'new_msg', { user: 'ada', body: 'hi' });
   * endpoint.broadcast(`user_socket:${id}`, 'disconnect', {}); // closes that user's sockets
   */
  broadcast(topic: string, event: string, payload: unknown): void | Promise<void> {
    return this.pubsub.broadcast(topic, broadcastOf(topic, event, payload), CHANNEL_DISPATCHER);
  }

  /**
   * Like `broadcast`, but skips `from` (a channel's pid, as `socket.broadcastFrom` passes).
   *
   * @example
   * endpoint.broadcastFrom(self(), 'room:lobby', 'typing', { user: 'ada' });
   */
  broadcastFrom(from: Pid, topic: string, event: string, payload: unknown): void | Promise<void> {
    return this.pubsub.broadcastFrom(from, topic, broadcastOf(topic, event, payload), CHANNEL_DISPATCHER);
  }

  /**
   * Like `broadcast`, to this node's subscribers only.
   *
   * @example
   * endpoint.localBroadcast('room:lobby', 'presence_diff', diff);
   */
  localBroadcast(topic: string, event: string, payload: unknown): void {
    this.pubsub.localBroadcast(topic, broadcastOf(topic, event, payload), CHANNEL_DISPATCHER);
  }

  /**
   * Subscribes the calling process to `topic`: it receives each broadcast as a
   * `Broadcast` message. Throws outside a process.
   *
   * @example
   * endpoint.subscribe('room:lobby'); // then: { type: 'phx_broadcast', topic, event, payload }
   */
  subscribe(topic: string): void {
    this.pubsub.subscribe(topic, undefined);
  }

  /**
   * Drops the calling process's subscriptions to `topic`.
   *
   * @example
   * endpoint.unsubscribe('room:lobby');
   */
  unsubscribe(topic: string): void {
    this.pubsub.unsubscribe(topic);
  }
}
