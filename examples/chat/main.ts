/**
 * The chat example: `npm run example:chat`, then connect to
 * ws://127.0.0.1:4000/chat?room=lobby&username=ada and send
 * {"type":"chat","content":"hello"}.
 */
import { serve } from 'beamsock/ws';
import { ChatServer } from './chat-server.js';

const server = await serve(ChatServer, {
  port: Number(process.env.PORT ?? 4000),
  path: '/chat',
  args: (req) => {
    const q = new URL(req.url ?? '/', 'http://localhost').searchParams;
    return { room: q.get('room') ?? 'lobby', username: q.get('username') ?? 'anonymous' };
  },
});
console.log(`chat listening on ${server.url}/chat?room=lobby&username=you`);
process.once('SIGINT', () => void server.close().then(() => process.exit(0)));
