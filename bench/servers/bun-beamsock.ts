/**
 * beamsock on Bun: `serve()` from `beamsock/bun` with an echo handler, each
 * connection a process. Started with the argument `pubsub`, every connection
 * subscribes to one topic in `init` and a broadcast goes through PubSub with the
 * fastlane dispatcher.
 */
import { serve } from '../../src/adapters/bun/index.js';
import { PubSub } from '../../src/runtime/pubsub.js';
import { idle } from '../../src/runtime/scheduler.js';
import { ok, push, type WebSock } from '../../src/websock/behaviour.js';
import { fastlane, outbound } from '../../src/websock/fastlane.js';
import { startBunControl } from './bun-control.js';

const TOPIC = 'bench';
const subscribe = process.argv.includes('pubsub');
const pubsub = new PubSub();

const Echo: WebSock<null> = {
  init() {
    if (subscribe) pubsub.subscribe(TOPIC);
    return ok(null);
  },
  handleIn: ([data, { opcode }], state) => push([opcode, data], state),
  handleInfo: (_msg, state) => ok(state),
};

// An idle timeout of an hour: a timer per connection, as in production, that never fires here.
const server = await serve(Echo, { port: 0, timeout: 3_600_000 });

startBunControl(server.port, {
  count: () => (subscribe ? pubsub.subscriberCount(TOPIC) : server.connections().length),
  async broadcast(message) {
    pubsub.broadcast(TOPIC, outbound(['text', message]), fastlane);
    await idle();
  },
});
