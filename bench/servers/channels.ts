/**
 * beamsock channels on `ws`: every connection a Phoenix socket (serializer 2.0.0)
 * whose client joins `room:bench`, one channel process each; a broadcast goes
 * through `endpoint.broadcast` (encoded once, written with the fastlane).
 */
import { serve } from '../../src/adapters/ws/index.js';
import { idle } from '../../src/runtime/scheduler.js';
import { Endpoint } from '../../src/channels/endpoint.js';
import { createSocket, joinOk, noreply, type SocketArgs } from '../../src/channels/index.js';
import { startControl } from './control.js';

const TOPIC = 'room:bench';
const endpoint = new Endpoint();
const socket = createSocket({ endpoint, channels: { 'room:*': { join: () => joinOk(null), handleIn: (_e, _p, s) => noreply(s.assigns) } } });
// The load client upgrades at '/' without a query: it gets what authorize would give a 2.0.0 client.
const args: SocketArgs = { kind: 'phoenix_socket', vsn: '2', assigns: undefined, id: null };
const server = await serve(socket.handler, { port: 0, timeout: 3_600_000, args });

startControl(server.httpServer, {
  count: () => endpoint.pubsub.subscriberCount(TOPIC),
  settle: idle,
  async broadcast(message) {
    void endpoint.broadcast(TOPIC, 'msg', message);
    await idle();
  },
});
