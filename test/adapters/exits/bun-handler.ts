// createBunHandler() on a Bun.serve of one's own, its connections closed before the server stops.
import { createBunHandler } from '../../../src/adapters/bun/upgrade.js';
import { bunRuntime } from '../../../src/adapters/bun/native.js';
import { closeCode, echoOnce } from './client.js';
import { Echo } from './echo.js';

const echo = createBunHandler(Echo);
const bunServer = bunRuntime('the exit fixture').serve({
  port: 0,
  hostname: '127.0.0.1',
  fetch: (req, server) => echo.upgrade(req, server),
  websocket: echo.websocket,
});
const client = await echoOnce(`ws://127.0.0.1:${bunServer.port}/`);
const code = closeCode(client);
await echo.closeConnections();
await bunServer.stop();
console.log(`closed ${await code}`);
