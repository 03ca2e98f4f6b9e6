// examples/frameworks/fastify.ts — Fastify owns the port; beamsock attaches to its server.
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { attach } from 'beamsock/ws';
import { Echo } from '../echo/echo-server.js';

const app = Fastify();
app.get('/', async () => 'hello from Fastify');
// app.server is the node:http server that listen() starts; upgrades to /ws are beamsock's.
attach(app.server, Echo, { path: '/ws' });

await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' });
const { port } = app.server.address() as AddressInfo;
console.log(`Fastify: http://127.0.0.1:${port}/ and ws://127.0.0.1:${port}/ws`);

async function shutdown() {
  await app.close(); // closes its server, which closes the WebSockets with 1001 first
  console.log('closed');
}
process.once('SIGINT', shutdown).once('SIGTERM', shutdown);
