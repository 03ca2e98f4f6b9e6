// serve() from beamsock/deno, run by `deno`, closed with a client connected.
import { serve } from '../../../src/adapters/deno/server.js';
import { closeCode, echoOnce } from './client.js';
import { Echo } from './echo.js';

const server = await serve(Echo, { port: 0 });
const client = await echoOnce(server.url);
const code = closeCode(client);
await server.close();
console.log(`closed ${await code}`);
