/**
 * The observer mounted on `beamsock/bun`'s `serve`: the page, its socket, auth,
 * read-only mode and the runtime panel, on Bun's own server. Runs under Bun's
 * test runner (`run-under-bun.test.ts` starts it).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { serve, type BeamsockServer } from '../../src/adapters/bun/server.js';
import { mountObserver, type Observer, type ObserverOptions } from '../../src/observer/mount.js';
import { rawRequest } from '../conformance/client.js';
import { Recorder, scripted } from '../conformance/handlers.js';
import { ObserverClient } from './observer-client.js';

interface OnBun {
  readonly server: BeamsockServer;
  readonly observer: Observer;
  /** `http://127.0.0.1:port` */
  readonly http: string;
}

let running: BeamsockServer | undefined;
const pages: ObserverClient[] = [];
afterEach(async () => {
  for (const p of pages.splice(0)) p.client.ws.terminate();
  await running?.close(1_000);
  running = undefined;
});

/** The observer on a Bun server whose own routes answer 'app'. */
async function start(opts: ObserverOptions = {}): Promise<OnBun> {
  const observer = mountObserver(opts);
  const server = await serve(scripted(new Recorder()), { port: 0, path: '/chat', mounts: [observer], onRequest: () => new Response('app') });
  running = server;
  return { server, observer, http: `http://127.0.0.1:${server.port}` };
}

async function open(e: OnBun, path = '/observer/ws', headers?: Record<string, string>): Promise<ObserverClient> {
  const page = await ObserverClient.open(e.server.url, path, headers);
  pages.push(page);
  return page;
}

describe('mountObserver on Bun', () => {
  it('serves the page at its path and leaves every other path to the server', async () => {
    const e = await start();
    for (const path of ['/observer', '/observer/', '/observer?x=1']) {
      const res = await fetch(e.http + path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(await res.text()).toContain('const SOCKET_PATH = "/observer/ws";');
    }
    const head = await fetch(`${e.http}/observer`, { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
    expect(await (await fetch(`${e.http}/observerx`)).text()).toBe('app');
    const post = await fetch(`${e.http}/observer`, { method: 'POST' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    const plain = await fetch(`${e.http}/observer/ws`);
    expect([plain.status, plain.headers.get('upgrade')]).toEqual([426, 'websocket']);
    const notUpgrading = await rawRequest(e.server.url, { path: '/observer/ws', headers: { Connection: 'close' } });
    expect([notUpgrading.status, notUpgrading.body]).toEqual([400, `'connection' header must contain 'upgrade', got ["close"]`]);
  });

  it('streams snapshots over its socket, lists its own page without the token, and reports no GC on Bun', async () => {
    const e = await start({ auth: { token: 's3cret' }, intervalMs: 50 });
    const page = await open(e, '/observer/ws?token=s3cret');
    const hello = await page.next('hello');
    expect(hello.intervalMs).toBe(50);
    const snap = await page.snapshotWhere((m) => m.summary.runtime.eventLoopDelay !== null);
    expect(snap.summary.runtime.memory.heapUsed).toBeGreaterThan(0);
    expect(snap.summary.runtime.gc).toBeNull();
    expect(snap.page.rows.filter((r) => r.kind === 'connection').map((r) => r.label)).toEqual(['/observer/ws']);
    expect(JSON.stringify(snap)).not.toContain('s3cret');
    expect(e.observer.connections()).toHaveLength(1);
    expect(e.server.connections()).toEqual([]);
  });

  it('with a token: 401 without one, 403 for a wrong one, in for ?token= or a Bearer header, on the page and the socket', async () => {
    const e = await start({ auth: { token: 's3cret' } });
    const none = await fetch(`${e.http}/observer`);
    expect([none.status, none.headers.get('www-authenticate')]).toEqual([401, 'Bearer realm="beamsock observer"']);
    expect((await fetch(`${e.http}/observer?token=nope`)).status).toBe(403);
    expect((await fetch(`${e.http}/observer?token=s3cret`)).status).toBe(200);
    expect((await fetch(`${e.http}/observer`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
    expect((await rawRequest(e.server.url, { path: '/observer/ws' })).status).toBe(401);
    expect((await rawRequest(e.server.url, { path: '/observer/ws?token=nope' })).status).toBe(403);
    expect((await rawRequest(e.server.url, { path: '/observer/ws', headers: { Authorization: 'Bearer s3cret' } })).status).toBe(101);
  });

  it("with a predicate: it sees Bun's Request, and its verdict decides", async () => {
    const e = await start({ auth: (req) => req instanceof Request && req.headers.get('x-admin') === 'yes' });
    expect((await fetch(`${e.http}/observer`)).status).toBe(403);
    expect((await fetch(`${e.http}/observer`, { headers: { 'x-admin': 'yes' } })).status).toBe(200);
    expect((await rawRequest(e.server.url, { path: '/observer/ws', headers: { 'X-Admin': 'yes' } })).status).toBe(101);
    expect((await rawRequest(e.server.url, { path: '/observer/ws' })).status).toBe(403);
  });

  it('without auth, lets in a loopback client: the address comes from Bun', async () => {
    const e = await start();
    expect((await fetch(`${e.http}/observer`)).status).toBe(200);
    const page = await open(e);
    expect((await page.next('hello')).node).toBeTypeOf('string');
  });

  it('read-only: the page has no exit-signal controls and the socket refuses them', async () => {
    const e = await start({ readOnly: true });
    const html = await (await fetch(`${e.http}/observer`)).text();
    expect(html).not.toContain('id="kill"');
    const page = await open(e);
    expect((await page.next('hello')).readOnly).toBe(true);
    const [self] = e.observer.connections();
    page.send({ op: 'kill', pid: String(self), reason: 'kill' });
    expect((await page.next('error')).message).toContain('the observer is read-only');
  });

  it("closes with the server: its pages get 1001, the server's own connections too", async () => {
    const e = await start();
    const page = await open(e);
    await page.next('snapshot');
    const chat = await ObserverClient.open(e.server.url, '/chat');
    pages.push(chat);
    await e.server.close(1_000);
    running = undefined;
    expect((await page.client.closeSeen()).code).toBe(1001);
    expect((await chat.client.closeSeen()).code).toBe(1001);
    expect(e.observer.connections()).toEqual([]);
  });

  it('Observer.close alone closes its pages with 1001 and refuses new ones with 503, the server still serving', async () => {
    const e = await start();
    const page = await open(e);
    await page.next('snapshot');
    await e.observer.close(1_000);
    expect((await page.client.closeSeen()).code).toBe(1001);
    expect((await rawRequest(e.server.url, { path: '/observer/ws' })).status).toBe(503);
    expect(await (await fetch(`${e.http}/`)).text()).toBe('app');
  });
});
