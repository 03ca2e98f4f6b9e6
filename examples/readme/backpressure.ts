// examples/readme/backpressure.ts
import { ok, push, send, self, setLogger, formatReport, type Pid, type WebSock } from 'beamsock';
import { serve } from 'beamsock/ws';
import { WebSocket } from 'ws';

setLogger((report) => console.log(formatReport(report)));
let feed: Pid | undefined;
// Every message sent to the connection becomes a 64 KiB frame for its client.
const Feed: WebSock<null> = {
  init: () => ((feed = self()), ok(null)),
  handleIn: (_frame, state) => ok(state),
  handleInfo: (n, state) => push(['binary', Buffer.alloc(64 * 1024, n as number)], state),
};

// Lower marks than the defaults (1 MiB, 256 KiB, 16 MiB), to see them at work quickly.
const server = await serve(Feed, { port: 0, highWaterMark: 256 * 1024, maxBufferedAmount: 4 * 1024 * 1024 });
const client = new WebSocket(server.url);
await new Promise((r) => client.once('open', r));
while (feed === undefined) await new Promise((r) => setTimeout(r, 5));
client.pause(); // a client that stops reading

for (let i = 0; i < 1_000; i++) {
  send(feed, i);
  if (i % 50 === 0) await new Promise((r) => setImmediate(r)); // a stream of events, not one burst
}
const closed = new Promise<number>((r) => client.once('close', r));
client.resume(); // reads what was written before the limit, then the close frame
console.log(`closed with ${await closed}`); // closed with 1008
await server.close();
