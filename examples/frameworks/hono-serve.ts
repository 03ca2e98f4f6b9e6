// examples/frameworks/hono-serve.ts — beamsock owns the port and hands every other request to Hono.
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { serve } from 'beamsock/ws';
import { Echo } from '../echo/echo-server.js';

const app = new Hono();
app.get('/', (c) => c.text('hello from Hono'));

// Upgrades to /ws are beamsock's; every other request goes to app.fetch.
const server = await serve(Echo, { port: Number(process.env.PORT ?? 3000), path: '/ws', onRequest: getRequestListener(app.fetch) });
console.log(`Hono: http://127.0.0.1:${server.port}/ and ${server.url}/ws`);

async function shutdown() {
  await server.close(); // the WebSockets with 1001, then the HTTP connections
  console.log('closed');
}
process.once('SIGINT', shutdown).once('SIGTERM', shutdown);
