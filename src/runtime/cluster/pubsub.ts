/**
 * PubSub across nodes: an adapter for `new PubSub({ name, adapter })` that carries
 * `broadcast` to the PubSub of the same name on every other node and
 * `directBroadcast` to one, over the node-to-node streams (so in order with
 * everything else one node sends another, and held through broker outages the same
 * way). `localBroadcast` stays on this node. Each node receives every broadcast of
 * the PubSubs it has (as Phoenix.PubSub's PG2 adapter); the message is encoded once
 * per broadcast, not once per node.
 */
import type { PubSub, PubSubAdapter } from '../pubsub.js';
import { currentNode } from './node.js';

/**
 * The PubSub adapter of this process's cluster node. The PubSub needs a `name`: the
 * other nodes deliver to their PubSub of that name. A message that cannot cross
 * throws `TypeError` at the broadcast, like `send`.
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
    return {
      nodeName: () => node.name,
      broadcast: (topic, message, dispatcherName) => node.broadcastToNodes(name(), topic, dispatcherName, message),
      directBroadcast: (target, topic, message, dispatcherName) => node.broadcastToNodes(name(), topic, dispatcherName, message, target),
    };
  };
}
