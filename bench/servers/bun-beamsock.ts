/**
 * beamsock on Bun: `serve()` from `beamsock/bun` with an echo handler, each
 * connection a process. Started with the argument `pubsub`, every connection
 * subscribes to one topic in `init` and a broadcast goes through PubSub with the
 * fastlane dispatcher.
 */
import { serve } from '../../src/adapters/bun/index.js';
import { Echo, broadcast, memberCount } from './echo-member.js';
import { startBunControl } from './bun-control.js';

// An idle timeout of an hour: a timer per connection, as in production, that never fires here.
const server = await serve(Echo, { port: 0, timeout: 3_600_000 });

startBunControl(server.port, {
  count: () => memberCount(server.connections().length),
  broadcast,
});
