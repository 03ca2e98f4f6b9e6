// examples/frameworks/express.ts — Express owns the port; beamsock attaches to its server.
import express from 'express';
import type { AddressInfo } from 'node:net';
import { attach } from 'beamsock/ws';
import { Echo } from '../echo/echo-server.js';

const app = express();
app.get('/', (_req, res) => {
  res.send('hello from Express');
});

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', (error) => {
  if (error) throw error; // Express 5 hands listen errors (a port in use) to this callback
  const { port } = server.address() as AddressInfo;
  console.log(`Express: http://127.0.0.1:${port}/ and ws://127.0.0.1:${port}/ws`);
});
// Upgrades to /ws become connections supervised by this attachment.
attach(server, Echo, { path: '/ws' });

// Closing the server closes the WebSockets with 1001 first, so it does not wait for clients to leave.
const shutdown = () => server.close(() => console.log('closed'));
process.once('SIGINT', shutdown).once('SIGTERM', shutdown);
