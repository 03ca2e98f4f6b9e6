/**
 * Baseline: bare `ws` on a `node:http` server. Echoes every message with
 * `ws.send(data, { binary })`; broadcasts with the naive loop over its clients.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { startControl } from './control.js';

const http = createServer();
const wss = new WebSocketServer({ server: http });

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

http.listen(0, '127.0.0.1', () =>
  startControl(http, {
    count: () => wss.clients.size,
    broadcast(message) {
      for (const c of wss.clients) c.send(message);
    },
  }),
);
