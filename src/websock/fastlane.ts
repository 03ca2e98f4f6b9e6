/**
 * The fastlane: broadcast a frame to many connections, encoding it once.
 *
 * Like Phoenix's channel fastlane, a frame broadcast with the `fastlane`
 * dispatcher goes straight to each subscribing connection's socket without a
 * `handleInfo` call: it is queued in the connection's mailbox (so it keeps its
 * place among the frames that connection pushes) and written from the bytes
 * encoded once for all of them. Subscribers that are not connections receive the
 * `Outbound` message itself.
 */
import type { Pid } from '../runtime/pid.js';
import type { Dispatcher } from '../runtime/pubsub.js';
import { procOf, enqueue, send } from '../runtime/process.js';
import type { Proc } from '../runtime/proc.js';
import type { Frame } from './behaviour.js';
import { connectionOf } from './connection.js';
import { Outbound } from './transport.js';

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
 * the default dispatcher would.
 *
 * @example
 * const chat = new PubSub({ dispatcher: fastlane });
 * chat.broadcast('lobby', outbound(['text', 'hi all']));
 */
export const fastlane: Dispatcher<unknown> = (entries, from, message) => {
  const frame = message instanceof Outbound;
  for (let i = 0; i < entries.length; i++) {
    const pid = (entries[i] as readonly [Pid, unknown])[0];
    if (pid === from) continue;
    if (frame) {
      const conn = connectionOf(pid);
      if (conn !== undefined) {
        // Straight to the socket when nothing of that connection is pending, else in its place in the mailbox.
        if (!conn.writeNow(message)) enqueue(procOf(pid) as Proc, message);
        continue;
      }
    }
    send(pid, message);
  }
};
