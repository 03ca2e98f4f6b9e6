/**
 * Bare `ws` that corks the TCP socket when it handles a read and uncorks on the
 * next tick, so every echo of one read leaves in one write.
 */
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { startControl } from './control.js';

const http = createServer();
const wss = new WebSocketServer({ server: http });

wss.on('connection', (ws, req) => {
  // The upgrade request's socket is the one ws reads and writes.
  const socket: Socket = req.socket;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  ws.on('message', (data, isBinary) => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    ws.send(data, { binary: isBinary });
  });
});

http.listen(0, '127.0.0.1', () => startControl(http, { count: () => wss.clients.size }));
