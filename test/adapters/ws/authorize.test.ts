/**
 * The `authorize` hook on every ws server (`serve`, `attach`, `upgrade`): it sees
 * the request after validation and the origin check, may be async, refuses with
 * 401 or 403 and a reason, or hands `init` its args; every refusal and failure
 * goes to the logger and the `beamsock:upgrade` channel, and nothing to stderr.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { serve } from '../../../src/adapters/ws/server.js';
import { attach, upgrade, type UpgradeOptions } from '../../../src/adapters/ws/upgrade.js';
import type { Authorize } from '../../../src/websock/admission.js';
import { ok, push, type WebSock } from '../../../src/websock/behaviour.js';
import { rawRequest, TestClient } from '../../conformance/client.js';
import { gate } from '../../conformance/handlers.js';
import { captureReports } from '../../support/reports.js';

/** Greets with the args `init` got. */
const Greeter: WebSock<unknown, unknown> = {
  init: (args) => push(['text', `hello ${JSON.stringify(args)}`], args),
  handleIn: (_frame, state) => ok(state),
  handleInfo: (_m, state) => ok(state),
};

const reports = captureReports();
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

async function served(authorize: Authorize<unknown, IncomingMessage>, args: unknown = 'from args'): Promise<string> {
  const server = await serve(Greeter, { port: 0, authorize, args });
  closers.push(() => server.close());
  return server.url;
}

async function attached(authorize: Authorize<unknown, IncomingMessage>): Promise<string> {
  const http = createServer();
  attach(http, Greeter, { path: '/ws', authorize, args: 'from args' });
  return listen(http, '/ws');
}

async function upgraded(authorize: Authorize<unknown, IncomingMessage>): Promise<string> {
  const http = createServer();
  const opts: UpgradeOptions<unknown> = { authorize };
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrade(req, socket, head, Greeter, 'from args', opts).catch(() => undefined);
  });
  return listen(http, '/ws');
}

async function listen(http: Server, path: string): Promise<string> {
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
  });
  return `ws://127.0.0.1:${(http.address() as AddressInfo).port}${path}`;
}

async function greeting(url: string, headers: Record<string, string> = {}): Promise<string> {
  const u = new URL(url);
  const client = await TestClient.open(`${u.protocol}//${u.host}`, { path: u.pathname + u.search, headers });
  closers.push(async () => client.ws.terminate());
  return client.text();
}

const servers = { serve: served, attach: attached, upgrade: upgraded } as const;

for (const [name, start] of Object.entries(servers)) {
  describe(`authorize on ${name}`, () => {
    it('false refuses with 403 Forbidden, reported to the logger and the upgrade channel', async () => {
      const events: unknown[] = [];
      const onUpgrade = (e: unknown): void => void events.push(e);
      subscribe('beamsock:upgrade', onUpgrade);
      try {
        const url = await start(() => false);
        const res = await rawRequest(url, { path: new URL(url).pathname });
        expect(res.status).toBe(403);
        expect(res.body).toBe('Forbidden');
        expect(reports).toEqual([{ kind: 'upgrade', server: 'ws', path: new URL(url).pathname, status: 403, reason: 'Forbidden', error: undefined }]);
        expect(events).toEqual([{ server: 'ws', path: new URL(url).pathname, status: 403, reason: 'Forbidden' }]);
      } finally {
        unsubscribe('beamsock:upgrade', onUpgrade);
      }
    });

    it('a 401 carries its reason as the body and its headers', async () => {
      const url = await start(() => ({ status: 401, reason: 'log in first', headers: { 'WWW-Authenticate': 'Bearer realm="chat"' } }));
      const res = await rawRequest(url, { path: new URL(url).pathname });
      expect(res.status).toBe(401);
      expect(res.body).toBe('log in first');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="chat"');
      expect(reports.map((r) => r.kind === 'upgrade' && r.reason)).toEqual(['log in first']);
    });

    it('sees the request, may be async, and its { args } reach init in place of the args option', async () => {
      const url = await start(async (req) => {
        await new Promise((r) => setTimeout(r, 10));
        const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
        return token === 'secret' ? { args: { user: 'ada', cookie: req.headers.cookie } } : { status: 401 };
      });
      expect(await greeting(`${url}?token=secret`, { Cookie: 'sid=1' })).toBe('hello {"user":"ada","cookie":"sid=1"}');
      expect((await rawRequest(url, { path: `${new URL(url).pathname}?token=wrong` })).status).toBe(401);
    });

    it('true lets the request through with the args as they would be without it', async () => {
      expect(await greeting(await start(() => true))).toBe('hello "from args"');
    });

    it('a throw or rejection answers 500, goes to the logger with the error, and nothing is written to stderr', async () => {
      const stderr = vi.spyOn(process.stderr, 'write');
      try {
        let calls = 0;
        const url = await start(() => {
          if (++calls === 1) throw new Error('session store down');
          return Promise.reject(new Error('session store still down'));
        });
        const path = new URL(url).pathname;
        const first = await rawRequest(url, { path });
        const second = await rawRequest(url, { path });
        expect([first.status, second.status]).toEqual([500, 500]);
        expect(first.body).toBe('internal server error while upgrading');
        expect(reports.map((r) => r.kind === 'upgrade' && [r.status, r.reason, (r.error as Error).message])).toEqual([
          [500, 'session store down', 'session store down'],
          [500, 'session store still down', 'session store still down'],
        ]);
        expect(stderr).not.toHaveBeenCalled();
      } finally {
        stderr.mockRestore();
      }
    });

    it('an answer that is not an Authorization answers 500 with a TypeError naming the option', async () => {
      const url = await start(() => 'yes' as never);
      expect((await rawRequest(url, { path: new URL(url).pathname })).status).toBe(500);
      expect(reports.map((r) => r.kind === 'upgrade' && String(r.error))).toEqual([
        `TypeError: option 'authorize' returned "yes": expected true, false, { args } or { status: 401 | 403, reason?, headers? }`,
      ]);
    });

    it('is not asked about a request that fails validation or the origin check', async () => {
      const asked: string[] = [];
      const url = await start((req) => {
        asked.push(req.url ?? '');
        return true;
      });
      const path = new URL(url).pathname;
      expect((await rawRequest(url, { path, headers: { 'Sec-WebSocket-Version': '8' } })).status).toBe(426);
      expect((await rawRequest(url, { path, headers: { Origin: 'http://evil.example' } })).status).toBe(403);
      expect(asked).toEqual([]);
      expect(reports.map((r) => r.kind === 'upgrade' && r.status)).toEqual([426, 403]);
    });
  });
}

describe('authorize with serve', () => {
  it('an upgrade still waiting for authorize when the server closes is refused with 503', async () => {
    const decided = gate();
    const entered = gate();
    const server = await serve(Greeter, {
      port: 0,
      authorize: async () => {
        entered.open();
        await decided.promise;
        return true;
      },
    });
    const res = rawRequest(server.url, {});
    await entered.promise;
    const closing = server.close();
    decided.open();
    expect((await res).status).toBe(503);
    await closing;
  });

  it('an authorize option that is not a function is refused at start-up, naming it', async () => {
    await expect(serve(Greeter, { port: 0, authorize: 'admin' as never })).rejects.toThrow(`option 'authorize' must be a function of the upgrade request, got "admin"`);
  });
});
