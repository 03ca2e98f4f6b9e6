// examples/frameworks/fastify-serve.ts — beamsock owns the port and hands every other request to Fastify.
import Fastify from 'fastify';
import { serve } from 'beamsock/ws';
import { Echo } from '../echo/echo-server.js';

const app = Fastify();
app.get('/', async () => 'hello from Fastify');
await app.ready();

// Upgrades to /ws are beamsock's; every other request goes through Fastify's router.
const server = await serve(Echo, { port: Number(process.env.PORT ?? 3000), path: '/ws', onRequest: (req, res) => app.routing(req, res) });
console.log(`Fastify: http://127.0.0.1:${server.port}/ and ${server.url}/ws`);

async function shutdown() {
  await server.close(); // the WebSockets with 1001, then the HTTP connections
  await app.close(); // Fastify's onClose hooks
  console.log('closed');
}
process.once('SIGINT', shutdown).once('SIGTERM', shutdown);
