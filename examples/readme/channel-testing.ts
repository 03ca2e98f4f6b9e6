// examples/readme/channel-testing.ts
import { createSocket, joinOk, noreply, reply, type Channel } from 'beamsock/channels';
import { assertBroadcast, assertPush, assertReply, push, socketConnect, subscribeAndJoin } from 'beamsock/testing';

const Room: Channel<{ user: string }> = {
  join: (_topic, params) => joinOk({ user: String((params as { user: string }).user) }),
  handleIn(event, payload, socket) {
    if (event === 'ping') return reply('ok', payload, socket.assigns);
    void socket.broadcast('new_msg', { user: socket.assigns.user, body: (payload as { body: string }).body });
    return noreply(socket.assigns);
  },
};
const userSocket = createSocket({ channels: { 'room:*': Room } });

const socket = await socketConnect(userSocket, {});
const { channel } = await subscribeAndJoin(socket, 'room:lobby', { user: 'ada' });
await assertReply(channel, push(channel, 'ping', { n: 1 }), 'ok', { n: 1 });
push(channel, 'new_msg', { body: 'hi' });
await assertBroadcast(channel, 'new_msg', { user: 'ada', body: 'hi' });
await assertPush(channel, 'new_msg', { user: 'ada', body: 'hi' });
socket.close();
console.log('all channel assertions passed');
