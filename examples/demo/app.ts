/**
 * The demo as a function, so that `main.ts` runs it and tests start it
 * in-process: the chat page at `/`, chat WebSockets at `/chat?room=&username=`,
 * the observer at `/observer`, and Phoenix Channels with Presence at `/channels`
 * (socket `/socket`).
 */
import { serve, type BeamsockServer } from './server.js';
import type { Observer } from 'beamsock/observer';
import type { WebSock } from 'beamsock';
import { ChatServer, type ChatArgs, type ChatInfo, type ChatState } from '../chat/chat-server.js';
import { demoObserver } from './observer.js';
import { chatPage } from './page.js';
import { channelsMount } from './channels.js';

export interface DemoOptions {
  /** Default 4000; 0 picks a free port. */
  readonly port?: number;
  /** Default 'localhost'. */
  readonly host?: string;
  /** Protects the observer; without it only loopback clients may open it. */
  readonly observerToken?: string;
  /** The chat handler; default `ChatServer` (rooms in this process). */
  readonly chat?: WebSock<ChatState, ChatArgs, ChatInfo>;
}

export interface Demo {
  readonly server: BeamsockServer;
  readonly observer: Observer;
  /** `http://host:port`, for a browser. */
  readonly url: string;
  /** Closes the observer's connections and the server's (1001 to each). */
  close(timeoutMs?: number): Promise<void>;
}

/** Starts the demo server; resolves once it listens. */
export async function startDemo(opts: DemoOptions = {}): Promise<Demo> {
  const host = opts.host ?? 'localhost';
  const observer = demoObserver(opts.observerToken);
  const server = await serve(opts.chat ?? ChatServer, {
    mounts: [observer, channelsMount()],
    port: opts.port ?? 4000,
    host,
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
  return {
    server,
    observer,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${server.port}`,
    close: (timeoutMs) => server.close(timeoutMs),
  };
}
