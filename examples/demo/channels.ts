/**
 * The demo's Channels page, as Phoenix's Channels guide builds it: the socket at
 * `/socket` (the client connects to `/socket/websocket`), rooms `room:*` joined
 * with `{ user }`, a `new_msg` push `{ body }` broadcast to the room as
 * `new_msg` `{ user, body }`, and the room's Presence listing who is online.
 * The page at `/channels` uses the official `phoenix` client, served from
 * node_modules at `/phoenix.mjs`.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { createRequire } from 'node:module';
import { self, send, isAlive, type Pid } from 'beamsock';
import { Endpoint, Presence, createSocket, drainSocket, joinOk, noreply, type Channel } from 'beamsock/channels';
import type { FetchMountContext } from 'beamsock/websock';
import { upgrade } from 'beamsock/ws';
import { channelsPage } from './channels-page.js';
import type { DemoMount } from './server.js';

const SOCKET_PATH = '/socket/websocket';
const phoenixClient = readFileSync(createRequire(import.meta.url).resolve('phoenix').replace(/phoenix\.cjs\.js$/, 'phoenix.mjs'), 'utf8');

function roomChannel(presence: Presence): Channel<{ user: string }> {
  return {
    join(_topic, params) {
      const user = String((params as { user?: unknown }).user ?? '').trim() || 'guest';
      // Tracked once joined, as the guide's after_join does: the join reply reaches the client first.
      send(self(), 'after_join');
      return joinOk({ user });
    },
    handleInfo(msg, socket) {
      if (msg === 'after_join') {
        presence.track(socket, socket.assigns.user, { online_at: Date.now() });
        socket.push('presence_state', presence.list(socket));
      }
      return noreply(socket.assigns);
    },
    handleIn(event, payload, socket) {
      if (event === 'new_msg') void socket.broadcast('new_msg', { user: socket.assigns.user, body: String((payload as { body?: unknown }).body ?? '') });
      return noreply(socket.assigns);
    },
  };
}

/** The Channels page, its client script and its socket, as one mount of the demo server (ws or Bun). */
export function channelsMount(): DemoMount {
  const endpoint = new Endpoint();
  const presence = new Presence({ endpoint });
  const socket = createSocket({ endpoint, channels: { 'room:*': roomChannel(presence) } });
  const sockets = new Set<Pid>();
  const page = (path: string): { type: string; body: string } | undefined =>
    path === '/channels' ? { type: 'text/html; charset=utf-8', body: channelsPage } : path === '/phoenix.mjs' ? { type: 'text/javascript; charset=utf-8', body: phoenixClient } : undefined;

  return {
    handleRequest(req: IncomingMessage, res: ServerResponse) {
      const found = page(new URL(req.url ?? '/', 'http://localhost').pathname);
      if (found === undefined) return false;
      res.writeHead(200, { 'content-type': found.type }).end(found.body);
      return true;
    },
    handleUpgrade(req: IncomingMessage, duplex: Duplex, head: Buffer) {
      if (new URL(req.url ?? '/', 'http://localhost').pathname !== SOCKET_PATH) return false;
      void upgrade(req, duplex, head, socket.handler, undefined as never, { authorize: socket.authorize }).then((pid) => {
        for (const old of sockets) if (!isAlive(old)) sockets.delete(old);
        if (pid !== undefined) sockets.add(pid);
      });
      return true;
    },
    handleFetch(req: Request, context: FetchMountContext) {
      const path = new URL(req.url).pathname;
      const found = page(path);
      if (found !== undefined) return new Response(found.body, { headers: { 'content-type': found.type } });
      if (path !== SOCKET_PATH) return false;
      return socket.authorize(req).then((auth) => {
        if (typeof auth === 'object' && 'args' in auth) return context.upgrade({ handler: socket.handler, args: auth.args });
        return new Response('connect refused', { status: 403 });
      });
    },
    async close() {
      // Sockets upgraded on ws are not the server's own: drained here (1012, the client may reconnect elsewhere).
      for (const pid of sockets) drainSocket(pid);
      while ([...sockets].some((pid) => isAlive(pid))) await new Promise((r) => setTimeout(r, 10));
      presence.close();
    },
  };
}
