import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { authorize } from '../../src/observer/auth.js';
import { mountObserver } from '../../src/observer/mount.js';
import { idle, send, setLogger, spawn, type Report } from '../../src/runtime/index.js';
import { rawRequest } from '../conformance/client.js';
import { ObserverClient, observed, type Observed } from './observer-client.js';

let env: Observed | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
  vi.restoreAllMocks();
});

const start = async (...args: Parameters<typeof observed>): Promise<Observed> => (env = await observed(...args));
const get = (url: string, init?: RequestInit): Promise<Response> => fetch(url, init);
const upgradeTo = (e: Observed, path: string, headers: Record<string, string> = {}) => rawRequest(e.ws, { path, headers });
const fakeRequest = (remoteAddress: string): IncomingMessage => ({ socket: { remoteAddress }, headers: {}, url: '/observer' }) as unknown as IncomingMessage;

describe('mountObserver pages', () => {
  it('serves the page at its path, with or without a trailing slash, pointing at its socket', async () => {
    const e = await start();
    for (const path of ['/observer', '/observer/', '/observer?x=1']) {
      const res = await get(e.http + path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(await res.text()).toContain('const SOCKET_PATH = "/observer/ws";');
    }
    const head = await get(`${e.http}/observer`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it("leaves every other path to the server's own listeners, and detach gives them back all paths", async () => {
    const e = await start();
    expect(await (await get(`${e.http}/`)).text()).toBe('app');
    expect(await (await get(`${e.http}/observerx`)).text()).toBe('app');
    const other = mountObserver({ path: '/other' });
    const detach = other.attach(e.server);
    expect((await get(`${e.http}/other`)).status).toBe(200);
    detach();
    expect(await (await get(`${e.http}/other`)).text()).toBe('app');
  });

  it('refuses other methods on the page and plain requests to the socket path', async () => {
    const e = await start();
    const post = await get(`${e.http}/observer`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const plain = await get(`${e.http}/observer/ws`);
    expect(plain.status).toBe(426);
    expect(plain.headers.get('upgrade')).toBe('websocket');
    expect(await plain.text()).toContain('open /observer in a browser');
    const notUpgrading = await upgradeTo(e, '/observer/ws', { Connection: 'close' });
    expect([notUpgrading.status, notUpgrading.body]).toEqual([400, `'connection' header must contain 'upgrade', got ["close"]`]);
  });

  it('mounts at a custom path', async () => {
    const e = await start({ path: '/ops/observer/' });
    expect(e.observer.path).toBe('/ops/observer');
    expect(e.observer.socketPath).toBe('/ops/observer/ws');
    expect(await (await get(`${e.http}/ops/observer`)).text()).toContain('"/ops/observer/ws"');
    const page = await ObserverClient.open(e.ws, '/ops/observer/ws');
    expect((await page.next('hello')).intervalMs).toBe(1000);
    page.close();
  });

  it('refuses a WebSocket from a foreign origin', async () => {
    const e = await start();
    const res = await upgradeTo(e, '/observer/ws', { Origin: 'https://evil.example' });
    expect(res.status).toBe(403);
  });
});

describe('mountObserver auth', () => {
  it('with a token: 401 without one, 403 for a wrong one, in for ?token= or a Bearer header', async () => {
    const e = await start({ auth: { token: 's3cret' } });
    const none = await get(`${e.http}/observer`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="beamsock observer"');
    expect((await get(`${e.http}/observer?token=nope`)).status).toBe(403);
    expect((await get(`${e.http}/observer?token=s3cret`)).status).toBe(200);
    expect((await get(`${e.http}/observer`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);

    const noToken = await upgradeTo(e, '/observer/ws');
    expect(noToken.status).toBe(401);
    expect(noToken.headers['www-authenticate']).toBe('Bearer realm="beamsock observer"');
    expect((await upgradeTo(e, '/observer/ws?token=nope')).status).toBe(403);
    expect((await upgradeTo(e, '/observer/ws', { Authorization: 'Bearer s3cret' })).status).toBe(101);
  });

  it('keeps the token out of what the observer shows about its own connection', async () => {
    const e = await start({ auth: { token: 's3cret' } });
    const page = await ObserverClient.open(e.ws, '/observer/ws?token=s3cret');
    const snap = await page.next('snapshot');
    expect(snap.page.rows.filter((r) => r.kind === 'connection').map((r) => r.label)).toEqual(['/observer/ws']);
    expect(JSON.stringify(snap)).not.toContain('s3cret');
    page.close();
  });

  it('with a predicate: its verdict decides, and a throwing predicate is a 500', async () => {
    const seen: string[] = [];
    const e = await start({
      auth: (req) => {
        if (req instanceof Request) throw new TypeError('node:http serves an IncomingMessage');
        seen.push(req.url ?? '');
        if (req.headers['x-boom'] !== undefined) throw new Error('boom');
        return req.headers['x-admin'] === 'yes';
      },
    });
    expect((await get(`${e.http}/observer`)).status).toBe(403);
    expect((await get(`${e.http}/observer`, { headers: { 'x-admin': 'yes' } })).status).toBe(200);
    expect((await upgradeTo(e, '/observer/ws', { 'X-Admin': 'yes' })).status).toBe(101);
    expect((await upgradeTo(e, '/observer/ws')).status).toBe(403);
    const reports: Report[] = [];
    const previous = setLogger((r) => reports.push(r));
    const stderr = vi.spyOn(process.stderr, 'write');
    try {
      expect((await get(`${e.http}/observer`, { headers: { 'x-boom': '1' } })).status).toBe(500);
    } finally {
      setLogger(previous);
    }
    // The operator hears of it through the logger (as any failed upgrade), nothing past it on stderr.
    expect(reports).toEqual([expect.objectContaining({ kind: 'upgrade', server: 'observer', status: 500, error: expect.objectContaining({ message: 'boom' }) })]);
    expect(stderr).not.toHaveBeenCalled();
    stderr.mockRestore();
    expect(seen).toContain('/observer/ws');
  });

  it('without auth, lets in loopback clients only', async () => {
    const e = await start();
    expect((await get(`${e.http}/observer`)).status).toBe(200);
    expect(authorize(fakeRequest('::1'), undefined)).toEqual({ ok: true });
    expect(authorize(fakeRequest('::ffff:127.0.0.1'), undefined)).toEqual({ ok: true });
    expect(authorize(fakeRequest('10.1.2.3'), undefined)).toMatchObject({ ok: false, status: 403, reason: expect.stringContaining("unless mounted with an 'auth' option") });
  });

  it('refuses bad options without echoing a token', () => {
    expect(() => mountObserver({ auth: { token: '' } })).toThrow(/'auth' must be \{ token: <non-empty string> \} or a function/);
    expect(() => mountObserver({ auth: { token: 'hunter2', extra: 1 } as never })).toThrow(/token of length 7/);
    expect(() => mountObserver({ auth: { token: 'hunter2', extra: 1 } as never })).not.toThrow(/hunter2/);
    expect(() => mountObserver({ path: 'observer' })).toThrow(/'path' must start with '\/'.*got "observer"/);
    expect(() => mountObserver({ intervalMs: 5 })).toThrow(/'intervalMs' must be an integer of at least 10, got 5/);
    expect(() => mountObserver({ port: 1 } as never)).toThrow(/unknown option 'port' in observer options/);
    expect(() => mountObserver({ readOnly: 'yes' } as never)).toThrow(/observer option 'readOnly' must be true or false, got "yes"/);
    expect(() => mountObserver({ maxReports: 0 })).toThrow(/observer option 'maxReports' must be an integer from 1 to 10000, got 0/);
    expect(() => mountObserver({ maxReports: 10_001 })).toThrow(/got 10001/);
    expect(() => mountObserver({ readonly: true } as never)).toThrow(/unknown option 'readonly' in observer options \(did you mean 'readOnly'\?\)/);
  });
});

describe('mountObserver readOnly', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  const greeting = async (e: Observed): Promise<boolean> => {
    const page = await ObserverClient.open(e.ws);
    try {
      return (await page.next('hello')).readOnly;
    } finally {
      page.close();
    }
  };

  it('serves a page without exit-signal controls, and a socket that refuses them', async () => {
    const e = await start({ readOnly: true });
    const html = await (await get(`${e.http}/observer`)).text();
    expect(html).not.toContain('id="kill"');
    expect(html).toContain('read-only: exit signals are off');
    expect(await greeting(e)).toBe(true);
  });

  it('is read-only by default when NODE_ENV is production, unless mounted with readOnly: false', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    const e = await start();
    expect(await (await get(`${e.http}/observer`)).text()).not.toContain('id="kill"');
    expect(await greeting(e)).toBe(true);
    await e.close();
    env = undefined;
    const open = await start({ readOnly: false });
    expect(await (await get(`${open.http}/observer`)).text()).toContain('id="kill"');
    expect(await greeting(open)).toBe(false);
  });

  it('lets exit signals through by default elsewhere', async () => {
    vi.stubEnv('NODE_ENV', 'development');
    const e = await start();
    expect(await (await get(`${e.http}/observer`)).text()).toContain('id="kill"');
    expect(await greeting(e)).toBe(false);
  });
});

describe('mountObserver reports', () => {
  it('keeps reports from mount on, so a page opened later sees earlier crashes, and stops keeping them once closed', async () => {
    const logger = setLogger(() => undefined);
    try {
      const e = await start({ maxReports: 2 });
      for (const why of ['one', 'two', 'three']) {
        const pid = spawn(() => {
          throw new Error(why);
        });
        send(pid, 'go');
      }
      await idle();
      const page = await ObserverClient.open(e.ws);
      const { reports } = await page.next('hello');
      expect(reports.reports.map((r) => r.summary)).toEqual([expect.stringContaining('two'), expect.stringContaining('three')]);
      expect(reports.dropped).toBe(1);
      page.close();
    } finally {
      setLogger(logger);
    }
  });
});

describe('Observer.close', () => {
  it('closes open pages with 1001 and refuses new ones with 503', async () => {
    const e = await start();
    const page = await ObserverClient.open(e.ws);
    await page.next('snapshot');
    expect(e.observer.connections()).toHaveLength(1);
    await e.observer.close(1_000);
    expect((await page.client.closeSeen()).code).toBe(1001);
    expect(e.observer.connections()).toEqual([]);
    expect((await upgradeTo(e, '/observer/ws')).status).toBe(503);
  });
});
