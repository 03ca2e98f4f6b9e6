/**
 * PubSub across nodes: an adapter for `new PubSub({ name, adapter })` that carries
 * `broadcast` to the PubSub of the same name on the other nodes that subscribe to the
 * topic, and `directBroadcast` to one named node, over the node-to-node streams (so in
 * order with everything else one node sends another, and held through broker outages
 * the same way). `localBroadcast` stays on this node.
 *
 * Routing per topic happens at the sender. Each node tells the others which topics of
 * which PubSub it has subscribers for (when a topic gets its first local subscriber
 * and loses its last), on the same streams; a broadcast goes only to the nodes
 * interested in its topic, encoded once. Routing at the broker instead (one subject
 * per topic) would lose what the broker clients drop silently during reconnects and
 * would order a topic's messages apart from the sender's other messages.
 *
 * A subscription reaches the other nodes' routing one broker hop later: a broadcast a
 * node makes after it received anything the subscribing node sent after subscribing
 * reaches the new subscriber; one made earlier may not.
 */
import type { PubSub, PubSubAdapter } from '../pubsub.js';
import { currentNode } from './node.js';
import { registerService, serviceBroadcast, serviceSend } from './services.js';

type Wire =
  /** A snapshot starts: forget what the sender said before. */
  | { t: 's' }
  /** Topics of PubSub `p` gained (`+`) or lost (`-`) their subscribers on the sender. */
  | { t: '+' | '-'; p: string; topics: string[] };

const SERVICE = 'pubsub';
/** Topics per snapshot message. */
const SNAPSHOT_CHUNK = 1000;
/** This node's subscribed topics, per PubSub name. */
const local = new Map<string, Set<string>>();
/** The other nodes' subscribed topics: node -> PubSub name -> topics. */
const remote = new Map<string, Map<string, Set<string>>>();

function setInterest(where: Map<string, Set<string>>, pubsub: string, topics: readonly string[], on: boolean): void {
  let set = where.get(pubsub);
  if (on) {
    if (set === undefined) where.set(pubsub, (set = new Set()));
    for (const t of topics) set.add(t);
  } else if (set !== undefined) {
    for (const t of topics) set.delete(t);
    if (set.size === 0) where.delete(pubsub);
  }
}

/** @internal true if `node` has subscribers for `topic` of the PubSub `pubsub`, as far as this node has heard. */
export function nodeSubscribes(node: string, pubsub: string, topic: string): boolean {
  return remote.get(node)?.get(pubsub)?.has(topic) === true;
}

registerService(SERVICE, {
  nodeUp(node) {
    serviceSend(node, SERVICE, { t: 's' } satisfies Wire);
    for (const [p, topics] of local) {
      const all = [...topics];
      for (let i = 0; i < all.length; i += SNAPSHOT_CHUNK) serviceSend(node, SERVICE, { t: '+', p, topics: all.slice(i, i + SNAPSHOT_CHUNK) } satisfies Wire);
    }
  },
  nodeDown(node) {
    remote.delete(node);
  },
  receive(node, msg) {
    const m = msg as Wire;
    if (m.t === 's') {
      remote.delete(node);
      return;
    }
    let of = remote.get(node);
    if (of === undefined) remote.set(node, (of = new Map()));
    setInterest(of, m.p, m.topics, m.t === '+');
  },
});

/**
 * The PubSub adapter of this process's cluster node. The PubSub needs a `name`: the
 * other nodes deliver to their PubSub of that name. A `broadcast` reaches only the
 * nodes with subscribers for its topic. A message that cannot cross throws
 * `TypeError` at the broadcast, like `send`.
 *
 * @example
 * await startNode({ name: 'chat-1', transport: await connectNats() });
 * const chat = new PubSub({ name: 'chat', adapter: clusterAdapter() });
 * chat.broadcast('room:lobby', { text: 'hi' }); // subscribers on every node
 */
export function clusterAdapter<Meta>(): (pubsub: PubSub<Meta>) => PubSubAdapter {
  return (pubsub) => {
    const node = currentNode();
    if (node === null) throw new Error('clusterAdapter(): this process is not a cluster node yet (await startNode(...) first)');
    const name = (): string => {
      if (pubsub.name === undefined) throw new TypeError("a PubSub with clusterAdapter() needs a 'name': the other nodes deliver to their PubSub of that name");
      return pubsub.name;
    };
    name();
    return {
      nodeName: () => node.name,
      broadcast: (topic, message, dispatcherName) => {
        const p = name();
        node.broadcastToNodes(p, topic, dispatcherName, message, undefined, (n) => nodeSubscribes(n, p, topic));
      },
      directBroadcast: (target, topic, message, dispatcherName) => node.broadcastToNodes(name(), topic, dispatcherName, message, target),
      interest: (topic, on) => {
        const p = name();
        setInterest(local, p, [topic], on);
        serviceBroadcast(SERVICE, { t: on ? '+' : '-', p, topics: [topic] } satisfies Wire);
      },
    };
  };
}
