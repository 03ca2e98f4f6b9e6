/**
 * beamsock on Bun: `serve()` from `beamsock/bun` with an echo handler, each
 * connection a process. Started with the argument `pubsub`, every connection
 * subscribes to one topic in `init` and a broadcast goes through PubSub (see
 * `echo-member.ts` for the ways).
 */
import { serve } from '../../src/adapters/bun/index.js';
import { Echo, arm, broadcast, memberCount } from './echo-member.js';
import { startBunControl } from './bun-control.js';

// An idle timeout of an hour: a timer per connection, as in production, that never fires here.
const server = await serve(Echo, { port: 0, timeout: 3_600_000 });

startBunControl(server.port, {
  count: () => memberCount(server.connections().length),
  async broadcast(message, mode) {
    await broadcast(message, mode, server.connections);
    // A fastlane broadcast may leave through Bun's publish, which Bun writes when its loop next turns: as the bare server, wait for that.
    await new Promise((resolve) => setImmediate(resolve));
  },
  arm: (ms) => arm(ms, server.connections),
});
