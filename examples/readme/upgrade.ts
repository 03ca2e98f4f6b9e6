// examples/readme/upgrade.ts
import { createServer } from 'node:http';
import { WebSocket } from 'ws';
import { upgrade } from 'beamsock/ws';
import { Echo } from '../echo/echo-server.js';

const server = createServer((_req, res) => res.end('ordinary routes work too'));
server.on('upgrade', (req, socket, head) => {
  void upgrade(req, socket, head, Echo, null, { timeout: 60_000 });
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  const client = new WebSocket(`ws://127.0.0.1:${port}/`);
  client.on('open', () => client.send('hello'));
  client.on('message', (data) => {
    console.log(`echoed: ${String(data)}`); // echoed: hello
    client.close();
    server.close();
    server.closeAllConnections();
  });
});
