// examples/quickstart.ts — run: node --conditions=beamsock-source --import tsx examples/quickstart.ts
import { ok, push, send, type WebSock } from 'beamsock';
import { serve } from 'beamsock/ws';

// A handler: its state is a counter of messages seen.
const Counter: WebSock<number> = {
  init: () => ok(0),
  handleIn: ([data], n) => push(['text', `#${n + 1}: ${String(data)}`], n + 1),
  handleInfo: (msg, n) => push(['text', `server says: ${String(msg)}`], n),
};

const server = await serve(Counter, { port: Number(process.env.PORT ?? 4001) });
console.log(`connect a WebSocket to ${server.url}`);

// Any code can message a connection by its pid.
setInterval(() => {
  for (const pid of server.connections()) send(pid, new Date().toISOString());
}, 5_000).unref();
