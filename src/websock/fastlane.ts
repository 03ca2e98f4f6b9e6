/**
 * The fastlane: broadcast a frame to many connections, encoding it once.
 *
 * Like Phoenix's channel fastlane, a frame broadcast with the `fastlane`
 * dispatcher goes straight to each subscribing connection's socket without a
 * `handleInfo` call: it is queued in the connection's mailbox (so it keeps its
 * place among the frames that connection pushes) and written from the bytes
 * encoded once for all of them. Subscribers that are not connections receive the
 * `Outbound` message itself.
 *
 * On a server with its own fan-out (Bun's topics, `Transport.joinCast`), the
 * connections that nothing of their own could precede are handed to the server
 * instead, which writes the frame to all of them in one native call; the others
 * (a process busy or with frames or messages waiting, the sender of
 * `broadcastFrom`, little room under its backpressure limit, ...) take the way
 * above. The server keeps each socket's order from then on: Bun writes what was
 * published to a socket before anything sent to it later.
 */
import type { Pid } from '../runtime/pid.js';
import type { Dispatcher } from '../runtime/pubsub.js';
import { procOf, enqueue, send } from '../runtime/process.js';
import type { Proc } from '../runtime/proc.js';
import type { Frame } from './behaviour.js';
import { connectionOf } from './connection.js';
import { Cast, Outbound } from './transport.js';

export { Outbound };

/**
 * A frame to broadcast with the fastlane dispatcher.
 *
 * @example
 * pubsub.broadcast('room:lobby', outbound(['text', JSON.stringify(msg)]), fastlane);
 */
export function outbound(frame: Frame): Outbound {
  return new Outbound(frame);
}

/**
 * A PubSub dispatcher that writes an `Outbound` frame to every subscribing
 * connection from one encoding, skipping `from`. Any other message is sent as
 * the default dispatcher would. On Bun it hands the connections it can to Bun's
 * own publish, for which it needs `topic` and `pubsub`: a dispatcher that wraps
 * it passes them on.
 *
 * @example
 * const chat = new PubSub({ dispatcher: fastlane });
 * chat.broadcast('lobby', outbound(['text', 'hi all']));
 * // wrapped, e.g. to build the frame on each node:
 * chat.registerDispatcher('text', (entries, from, text, topic, ps) => fastlane(entries, from, outbound(['text', String(text)]), topic, ps));
 */
export const fastlane: Dispatcher<unknown> = (entries, from, message, topic, pubsub) => {
  if (!(message instanceof Outbound)) {
    for (let i = 0; i < entries.length; i++) {
      const pid = (entries[i] as readonly [Pid, unknown])[0];
      if (pid !== from) send(pid, message);
    }
    return;
  }
  const cast = topic !== undefined && pubsub !== undefined && entries.length >= CAST_AT_LEAST && castable(message) ? new Cast(scopeOf(pubsub) + topic, message, ++casts) : null;
  try {
    for (let i = 0; i < entries.length; i++) {
      const pid = (entries[i] as readonly [Pid, unknown])[0];
      if (pid === from) continue;
      const conn = connectionOf(pid);
      if (conn === undefined) {
        send(pid, message);
        continue;
      }
      if (cast !== null && conn.joinCast(cast)) continue;
      // Straight to the socket when nothing of that connection is pending, else in its place in the mailbox.
      if (!conn.writeNow(message)) enqueue(procOf(pid) as Proc, message);
    }
  } finally {
    if (cast !== null) for (const p of cast.publishers) p.publish(cast);
  }
};

/** A topic with fewer subscriptions is written to socket by socket: a native publish would not save a call. */
const CAST_AT_LEAST = 2;
let casts = 0;
let scopes = 0;
const scopeNames = new WeakMap<object, string>();

/** Text and binary frames can be published; pings and pongs cannot. */
function castable(item: Outbound): boolean {
  const opcode = item.frame[0];
  return opcode === 'text' || opcode === 'binary';
}

/** A prefix for the server-wide topic names of one PubSub, so two PubSubs' topics never meet. */
function scopeOf(pubsub: object): string {
  let name = scopeNames.get(pubsub);
  if (name === undefined) {
    name = `beamsock/${++scopes}/`;
    scopeNames.set(pubsub, name);
  }
  return name;
}
