// examples/readme/observer.ts
import { serve } from 'beamsock/ws';
import { mountObserver } from 'beamsock/observer';
import { Echo } from '../echo/echo-server.js';

// readOnly: the page shows everything, and the socket refuses exit signals.
const observer = mountObserver({ auth: { token: 'let-me-in' }, readOnly: true });
const server = await serve(Echo, { port: 0, mounts: [observer] });
const page = `http://127.0.0.1:${server.port}/observer`;
console.log((await fetch(page)).status); // 401: no token
console.log((await fetch(`${page}?token=let-me-in`)).status); // 200: the observer page
await server.close();
