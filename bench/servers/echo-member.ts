/**
 * The handler both beamsock bench servers run: echo every message; started with
 * the argument `pubsub`, every connection also subscribes to one topic in `init`,
 * and `broadcast` sends through PubSub with the fastlane dispatcher.
 */
import { PubSub } from '../../src/runtime/pubsub.js';
import { idle } from '../../src/runtime/scheduler.js';
import { ok, push, type WebSock } from '../../src/websock/behaviour.js';
import { fastlane, outbound } from '../../src/websock/fastlane.js';

const TOPIC = 'bench';
const subscribe = process.argv.includes('pubsub');
const pubsub = new PubSub();

export const Echo: WebSock<null> = {
  init() {
    if (subscribe) pubsub.subscribe(TOPIC);
    return ok(null);
  },
  handleIn: ([data, { opcode }], state) => push([opcode, data], state),
  handleInfo: (_msg, state) => ok(state),
};

/** Subscribers when started with `pubsub`, else `connections`. */
export function memberCount(connections: number): number {
  return subscribe ? pubsub.subscriberCount(TOPIC) : connections;
}

/** One fastlane broadcast, resolved once the scheduler has written it everywhere. */
export async function broadcast(message: string): Promise<void> {
  pubsub.broadcast(TOPIC, outbound(['text', message]), fastlane);
  await idle();
}
