// attach() on a node:http server of one's own, closed by closing the HTTP server with a client connected.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { attach } from '../../../src/adapters/ws/upgrade.js';
import { closeCode, echoOnce } from './client.js';
import { Echo } from './echo.js';

const http = createServer((_req, res) => res.end('ok'));
attach(http, Echo, { path: '/ws' });
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
const client = await echoOnce(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/ws`);
const code = closeCode(client);
await new Promise((resolve) => http.close(resolve));
console.log(`closed ${await code}`);
