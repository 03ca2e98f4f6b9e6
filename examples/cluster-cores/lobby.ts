/**
 * What every worker of the many-cores example serves: one lobby spanning all
 * nodes. A connection is greeted with the name of the node it landed on
 * (`{"type":"hello","node":"lobby-2"}`); a `{"type":"chat","content":...}` it sends
 * reaches every connection on every node as `{"type":"chat","node":...,"content":...}`.
 * The lobby is a PubSub with `clusterAdapter()`: a chat line crosses to each other
 * node once, as text, and each node writes it to its own sockets from one encoding
 * (the fastlane).
 */
import { PubSub, fastlane, ok, outbound, push, type WebSock } from 'beamsock';
import { clusterAdapter, node } from 'beamsock/cluster';

/** The lobby's handler, on a PubSub created now: call it after `startNode`. */
export function lobby(): WebSock<null> {
  const lobbies = new PubSub({ name: 'lobby', adapter: clusterAdapter() });
  // Registered by name on every node: what crosses is the text, not a function. The topic and
  // PubSub passed on let the fastlane hand the frame to Bun's own publish when the node runs on Bun.
  lobbies.registerDispatcher('frame', (entries, from, text, topic, pubsub) => fastlane(entries, from, outbound(['text', text as string]), topic, pubsub));
  return {
    init() {
      lobbies.subscribe('lobby');
      return push(['text', JSON.stringify({ type: 'hello', node: node() })], null);
    },
    handleIn([data], state) {
      if (typeof data !== 'string') return ok(state);
      let msg: { type?: unknown; content?: unknown };
      try {
        msg = JSON.parse(data) as typeof msg;
      } catch {
        return ok(state);
      }
      if (msg.type === 'chat' && typeof msg.content === 'string') {
        void lobbies.broadcast('lobby', JSON.stringify({ type: 'chat', node: node(), content: msg.content }), 'frame');
      }
      return ok(state);
    },
    handleInfo: (_msg, state) => ok(state),
  };
}
