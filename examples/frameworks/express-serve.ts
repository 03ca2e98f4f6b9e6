// examples/frameworks/express-serve.ts — beamsock owns the port and hands every other request to Express.
import express from 'express';
import { serve } from 'beamsock/ws';
import { Echo } from '../echo/echo-server.js';

const app = express();
app.get('/', (_req, res) => {
  res.send('hello from Express');
});

// Upgrades to /ws are beamsock's; every other request goes to the app.
const server = await serve(Echo, { port: Number(process.env.PORT ?? 3000), path: '/ws', onRequest: app });
console.log(`Express: http://127.0.0.1:${server.port}/ and ${server.url}/ws`);

async function shutdown() {
  await server.close(); // the WebSockets with 1001, then the HTTP connections
  console.log('closed');
}
process.once('SIGINT', shutdown).once('SIGTERM', shutdown);
