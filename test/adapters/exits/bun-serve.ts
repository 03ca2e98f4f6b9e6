// serve() from beamsock/bun, run by `bun`, closed with a client connected.
import { serve } from '../../../src/adapters/bun/server.js';
import { closeCode, echoOnce } from './client.js';
import { Echo } from './echo.js';

const server = await serve(Echo, { port: 0 });
const client = await echoOnce(server.url);
const code = closeCode(client);
await server.close();
console.log(`closed ${await code}`);
