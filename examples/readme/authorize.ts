// examples/readme/authorize.ts
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { ok, push, setLogger, type WebSock } from 'beamsock';
import { serve } from 'beamsock/ws';

const sessions = new Map([['s3cret', 'ada']]);

// init receives what authorize hands over, as Phoenix's connect/3 assigns.
const Chat: WebSock<{ user: string }, { user: string }> = {
  init: (assigns) => push(['text', `welcome, ${assigns.user}`], assigns),
  handleIn: (_frame, state) => ok(state),
  handleInfo: (_msg, state) => ok(state),
};

// Refused and failed upgrades are reports for the logger, like crashes.
setLogger((r) => console.log(r.kind === 'upgrade' ? `logged: ${r.status} ${r.reason}` : r.kind));

const server = await serve(Chat, {
  port: 0,
  async authorize(req: IncomingMessage) {
    const token = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token');
    const user = token === null ? undefined : sessions.get(token); // or await your session store
    if (user === undefined) return { status: 401, reason: 'unknown session', headers: { 'WWW-Authenticate': 'Bearer' } };
    return { args: { user } };
  },
});

const refused = new WebSocket(`${server.url}?token=guess`);
refused.on('error', () => undefined);
refused.on('unexpected-response', (_req, res) => {
  console.log(`refused with ${res.statusCode}`); // refused with 401 (after "logged: 401 unknown session")
  const client = new WebSocket(`${server.url}?token=s3cret`);
  client.on('message', (data) => {
    console.log(String(data)); // welcome, ada
    void server.close();
  });
});
