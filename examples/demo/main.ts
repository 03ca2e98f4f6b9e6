/**
 * The demo behind `npm start`: a chat with rooms on http://localhost:4000
 * (`PORT` to change). Ctrl-C shuts down gracefully: every connection gets 1001
 * and its `terminate` runs.
 */
import { serve } from 'beamsock/ws';
import { ChatServer } from '../chat/chat-server.js';
import { chatPage } from './page.js';

const port = Number(process.env.PORT ?? 4000);
const server = await serve(ChatServer, {
  port,
  host: process.env.HOST ?? 'localhost',
  path: '/chat',
  args: (req) => {
    const q = new URL(req.url ?? '/', 'http://localhost').searchParams;
    return { room: q.get('room') || 'lobby', username: q.get('username') || 'guest' };
  },
  onRequest(req, res) {
    if (req.url === '/' || req.url?.startsWith('/?')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(chatPage);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found');
    }
  },
});

console.log(`beamsock demo: open http://localhost:${server.port}/ in two tabs`);
const stop = (): void => {
  console.log('\nshutting down: closing connections with 1001');
  void server.close(5_000).then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
