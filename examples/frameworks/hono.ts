// examples/frameworks/hono.ts — Hono's node server owns the port; beamsock attaches to it.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { Server } from 'node:http';
import { attach } from 'beamsock/ws';
import { Echo } from '../echo/echo-server.js';

const app = new Hono();
app.get('/', (c) => c.text('hello from Hono'));

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' }, ({ port }) => {
  console.log(`Hono: http://127.0.0.1:${port}/ and ws://127.0.0.1:${port}/ws`);
});
// serve() returns a node:http Server (its type also covers the HTTP/2 servers it can be asked for).
attach(server as Server, Echo, { path: '/ws' });

// Closing the server closes the WebSockets with 1001 first, so it does not wait for clients to leave.
const shutdown = () => server.close(() => console.log('closed'));
process.once('SIGINT', shutdown).once('SIGTERM', shutdown);
