// serve() from beamsock/bun, run by `bun`, with the observer mounted and open, closed with a client connected to each.
import { serve } from '../../../src/adapters/bun/server.js';
import { mountObserver } from '../../../src/observer/mount.js';
import { closeCode, echoOnce } from './client.js';
import { Echo } from './echo.js';

const server = await serve(Echo, { port: 0, path: '/ws', mounts: [mountObserver({ intervalMs: 50 })] });
const client = await echoOnce(`${server.url}/ws`);
const observer = await echoOnce(`${server.url}/observer/ws`);
const codes = Promise.all([closeCode(client), closeCode(observer)]);
await server.close();
console.log(`closed ${(await codes).join(' ')}`);
