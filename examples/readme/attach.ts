// examples/readme/attach.ts
import { createServer } from 'node:http';
import { WebSocket } from 'ws';
import { attach } from 'beamsock/ws';
import { Echo } from '../echo/echo-server.js';

// Your own HTTP server (Express's app.listen(), Fastify's server, Hono's serve()), WebSockets on /ws.
const server = createServer((_req, res) => res.end('ordinary routes work too'));
const sockets = attach(server, Echo, { path: '/ws' });
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  const client = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  client.on('open', () => client.send('hello'));
  client.on('message', (data) => {
    console.log(`echoed: ${String(data)}`, sockets.connections().length); // echoed: hello 1
    server.close(() => console.log('closed')); // the WebSockets first (1001), then the server
  });
  client.on('close', (code) => console.log(`client closed with ${code}`)); // client closed with 1001
});
