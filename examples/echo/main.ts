/**
 * The echo example: `PORT=9001 npm run example:echo`.
 *
 * Listens on 127.0.0.1, accepts an upgrade on any path and echoes every text and
 * binary message unchanged, with permessage-deflate negotiable and a 20 MB
 * maxFrameSize, so any standard WebSocket test client can target it, a browser
 * page served from any origin included: the origin check is off here (and says
 * so at start-up), where every other server keeps the strict default. A refused
 * upgrade is logged with its reason. The README's EchoServer ("ping" gets
 * "pong") answers on /echo-server.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { upgrade } from 'beamsock/ws';
import { Echo, EchoServer } from './echo-server.js';

const port = Number(process.env.PORT ?? 9001);
const options = { compress: true, maxFrameSize: 20_000_000, checkOrigin: false };

const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' }).end('beamsock echo: connect a WebSocket to any path\n');
});
server.on('upgrade', (req, socket, head) => {
  if (req.url?.startsWith('/echo-server')) void upgrade(req, socket, head, EchoServer, {}, options);
  else void upgrade(req, socket, head, Echo, null, options);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`beamsock echo listening on ws://127.0.0.1:${(server.address() as AddressInfo).port}/ (any path echoes)`);
  console.log('accepting upgrades from any Origin (checkOrigin: false, for test clients and pages on other ports)');
});
process.once('SIGINT', () => server.close(() => process.exit(0)));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
