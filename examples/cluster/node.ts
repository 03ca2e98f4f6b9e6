/**
 * One node of the cluster example, forked by `main.ts`: joins the cluster named
 * `CLUSTER` as `NODE_NAME` over `TRANSPORT` (nats or redis), then serves the demo's chat
 * page, chat sockets and observer on `PORT`, with each room a topic of a PubSub that
 * spans the nodes. Tells the launcher its URL over IPC once it listens; stops on
 * SIGINT/SIGTERM (the launcher forwards both).
 */
import { PubSub, self } from 'beamsock';
import { clusterAdapter, connectNats, connectRedis, startNode } from 'beamsock/cluster';

const name = process.env['NODE_NAME'] ?? 'chat-1';
const cluster = process.env['CLUSTER'] ?? 'chat';
const transportKind = process.env['TRANSPORT'] ?? 'nats';
if (transportKind !== 'nats' && transportKind !== 'redis') throw new TypeError(`TRANSPORT must be 'nats' or 'redis', got ${JSON.stringify(transportKind)}`);

const transport =
  transportKind === 'nats'
    ? await connectNats({ servers: process.env['NATS_URL'] ?? '127.0.0.1:4222' })
    : await connectRedis({ url: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379' });
// Before anything spawns: pids carry the node's name.
const node = await startNode({ name, cluster, transport });

// Imported only now, so that nothing they create is spawned before the node is named.
const { startDemo } = await import('../demo/app.js');
const { chatServer } = await import('../chat/chat-server.js');

const chat = new PubSub({ name: 'chat', adapter: clusterAdapter() });
const demo = await startDemo({
  port: Number(process.env['PORT'] ?? 4000),
  host: process.env['HOST'] ?? 'localhost',
  observerToken: process.env['OBSERVER_TOKEN'] || undefined,
  chat: chatServer({
    join: (room) => chat.subscribe(`room:${room}`),
    toRoom: (room, message) => void chat.broadcastFrom(self(), `room:${room}`, { type: 'broadcast', message }),
  }),
});
process.send?.({ node: name, url: demo.url });

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void demo
    .close(5_000)
    .then(() => node.stop())
    .then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
// The launcher gone (killed without a chance to signal us): leave the cluster too.
process.once('disconnect', stop);
