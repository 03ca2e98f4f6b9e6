/**
 * Baseline: bare `ws` on a `node:http` server. Echoes every message with
 * `ws.send(data, { binary })`. Started with the argument `pubsub`, it keeps each
 * connection's TCP socket too and broadcasts in three ways: `naive`, the loop
 * `for (c of clients) c.send(m)`; `preframed`, the frame encoded once and
 * written to every socket; and `hop`, the message queued for each connection and
 * written, framed for each, from one `setImmediate` (as `hop` echoes below): the
 * floor under a broadcast that runs each connection's own code, as a `send` to
 * each pid does. `arm` gives every connection an idle timeout, as an
 * application on bare `ws` would: a timer each, put off by every message.
 * Started with the argument `als`, it uses an `AsyncLocalStorage` once, as
 * beamsock does to find the process running after an `await`: on Node 20 that
 * turns on async hooks for every callback of the process, which this measures.
 * Started with the argument `hop`, it echoes the way any actor runtime must, with
 * nothing else: a text message becomes a string, waits in its connection's queue
 * until a `setImmediate` drains every queue, and goes back as one frame written
 * with one `socket.write` (framed by beamsock's own `encodeFrame`, so that framing
 * costs the same on both sides): the floor under beamsock's per-message path.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { encodeFrame } from '../../src/adapters/ws/transport.js';
import { startControl } from './control.js';

if (process.argv.includes('als')) new AsyncLocalStorage<number>().run(1, () => undefined);

const http = createServer();
const wss = new WebSocketServer({ server: http });
// Only a broadcast server keeps the sockets (and a queue each, for the `hop` broadcast), so the idle-memory figure is ws's alone.
const sockets = process.argv.includes('pubsub') ? new Map<WebSocket, Hop>() : undefined;

/** `hop`: connections with queued messages, drained together from `setImmediate`. */
interface Hop {
  readonly socket: Duplex;
  readonly queue: (string | Buffer)[];
}
const hopRun: Hop[] = [];
function drainHops(): void {
  for (const hop of hopRun.splice(0)) {
    for (const m of hop.queue.splice(0)) hop.socket.write(encodeFrame(typeof m === 'string' ? ['text', m] : ['binary', m]));
  }
}

/** Queues `m` for `hop`'s connection, to be written by the next `drainHops`. */
function hopIn(hop: Hop, m: string | Buffer): void {
  if (hop.queue.length === 0) {
    if (hopRun.length === 0) setImmediate(drainHops);
    hopRun.push(hop);
  }
  hop.queue.push(m);
}

wss.on('connection', (ws, req) => {
  if (process.argv.includes('hop')) {
    const hop: Hop = { socket: req.socket, queue: [] };
    ws.on('message', (data: Buffer, isBinary) => hopIn(hop, isBinary ? data : data.toString()));
  } else {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
  if (sockets !== undefined) {
    sockets.set(ws, { socket: req.socket, queue: [] });
    ws.on('close', () => sockets.delete(ws));
  }
});

function arm(ms: number): void {
  for (const ws of wss.clients) {
    let timer = setTimeout(() => ws.close(1000), ms);
    ws.on('message', () => {
      clearTimeout(timer);
      timer = setTimeout(() => ws.close(1000), ms);
    });
    ws.on('close', () => clearTimeout(timer));
  }
}

http.listen(0, '127.0.0.1', () =>
  startControl(http, {
    count: () => wss.clients.size,
    broadcast(message, mode) {
      if (mode === undefined || mode === 'naive') {
        for (const c of wss.clients) c.send(message);
      } else if (mode === 'preframed' && sockets !== undefined) {
        const frame = encodeFrame(['text', message]);
        for (const h of sockets.values()) h.socket.write(frame);
      } else if (mode === 'hop' && sockets !== undefined) {
        // What any actor runtime must do to hand a message to each connection's own code:
        // queue it for each, drain every queue from one setImmediate, frame and write it per connection.
        for (const h of sockets.values()) hopIn(h, message);
        return new Promise<void>((resolve) => setImmediate(resolve));
      } else {
        throw new Error(`bare-ws broadcasts 'naive' or, started with 'pubsub', 'preframed' or 'hop'; got '${String(mode)}'`);
      }
      return undefined;
    },
    arm,
  }),
);
