// examples/readme/fastlane.ts
import { PubSub, fastlane, outbound, ok, type WebSock } from 'beamsock';
import { serve } from 'beamsock/ws';
import { WebSocket } from 'ws';

const room = new PubSub({ dispatcher: fastlane });
const Member: WebSock<null> = {
  init: () => {
    room.subscribe('lobby');
    return ok(null);
  },
  handleIn: (_frame, state) => ok(state),
  handleInfo: (_msg, state) => ok(state),
};

const server = await serve(Member, { port: 0 });
const clients = await Promise.all(
  [1, 2, 3].map(
    () =>
      new Promise<WebSocket>((resolve) => {
        const c = new WebSocket(server.url);
        c.on('message', (data) => console.log(`client got ${String(data)}`));
        c.on('open', () => resolve(c));
      }),
  ),
);
while (room.subscriberCount('lobby') < clients.length) await new Promise((r) => setTimeout(r, 5));
room.broadcast('lobby', outbound(['text', 'hello everyone'])); // encoded once, written three times
await new Promise((r) => setTimeout(r, 50));
await server.close();
