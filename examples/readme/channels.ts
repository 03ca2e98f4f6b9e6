// examples/readme/channels.ts
import { Socket, Presence as ClientPresence } from 'phoenix';
import { WebSocket } from 'ws';
import { self, send } from 'beamsock';
import { Endpoint, Presence, createSocket, joinError, joinOk, noreply, reply, type Channel } from 'beamsock/channels';
import { serve } from 'beamsock/ws';

const endpoint = new Endpoint(); // give it a PubSub with clusterAdapter() to span nodes
const presence = new Presence({ endpoint });

const Room: Channel<{ user: string }, { token: string }> = {
  join(topic, params, socket) {
    const user = String((params as { user?: unknown }).user ?? '');
    if (user === '') return joinError({ reason: 'a user is required' });
    send(self(), 'after_join');
    return joinOk({ user }, { topic, token: socket.assigns.token });
  },
  handleInfo(msg, socket) {
    if (msg === 'after_join') {
      presence.track(socket, socket.assigns.user, { online_at: Date.now() });
      socket.push('presence_state', presence.list(socket));
    }
    return noreply(socket.assigns);
  },
  handleIn(event, payload, socket) {
    if (event === 'ping') return reply('ok', { pong: payload }, socket.assigns);
    if (event === 'new_msg') void socket.broadcast('new_msg', { user: socket.assigns.user, body: (payload as { body: string }).body });
    return reply('ok', {}, socket.assigns); // the client times out a push that gets no reply (10 s)
  },
};

const userSocket = createSocket<{ token: string }>({
  endpoint,
  channels: { 'room:*': Room },
  connect: (params) => (params.token === undefined ? false : { assigns: { token: params.token } }),
  id: (assigns) => `user_socket:${assigns.token}`,
});
const server = await serve(userSocket.handler, { port: 0, path: '/socket/websocket', authorize: userSocket.authorize });

// The official phoenix client, unchanged (in Node it needs a WebSocket class).
const client = new Socket(`ws://127.0.0.1:${server.port}/socket`, { transport: WebSocket, params: { token: 't1' } });
client.connect();
const room = client.channel('room:lobby', { user: 'ada' });
const online = new ClientPresence(room);
const synced = new Promise<void>((resolve) => online.onSync(() => resolve()));
room.on('new_msg', ({ user, body }) => console.log(`${user}: ${body}`)); // ada: hello
await new Promise((resolve) => room.join().receive('ok', resolve));
await synced;
console.log('online:', online.list((name) => name).join(', ')); // online: ada
await new Promise((resolve) => room.push('ping', 1).receive('ok', (r) => resolve(console.log('reply', r)))); // reply { pong: 1 }
const heard = new Promise((resolve) => room.on('new_msg', resolve));
room.push('new_msg', { body: 'hello' });
await heard;
client.disconnect();
presence.close();
await server.close();
