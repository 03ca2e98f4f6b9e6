// createDenoHandler() on a Deno.serve of one's own, its connections closed before the server shuts down.
import { createDenoHandler } from '../../../src/adapters/deno/upgrade.js';
import { denoRuntime } from '../../../src/adapters/deno/native.js';
import { closeCode, echoOnce } from './client.js';
import { Echo } from './echo.js';

const echo = createDenoHandler(Echo);
const denoServer = denoRuntime('the exit fixture').serve({
  port: 0,
  hostname: '127.0.0.1',
  onListen: () => undefined,
  handler: (req, info) => echo.upgrade(req, info),
});
const client = await echoOnce(`ws://127.0.0.1:${denoServer.addr.port}/`);
const code = closeCode(client);
await echo.closeConnections();
await denoServer.shutdown();
console.log(`closed ${await code}`);
