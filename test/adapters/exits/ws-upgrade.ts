// upgrade() on a node:http server of one's own, its connections closed by stopping their default supervisor.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { upgrade } from '../../../src/adapters/ws/upgrade.js';
import { DynamicSupervisor } from '../../../src/runtime/dynamic-supervisor.js';
import { closeCode, echoOnce } from './client.js';
import { Echo } from './echo.js';

const http = createServer((_req, res) => res.end('ok'));
http.on('upgrade', (req, socket, head) => void upgrade(req, socket, head, Echo, null));
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
const client = await echoOnce(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/`);
const code = closeCode(client);
await DynamicSupervisor.stop('beamsock.connections');
await new Promise((resolve) => http.close(resolve));
console.log(`closed ${await code}`);
