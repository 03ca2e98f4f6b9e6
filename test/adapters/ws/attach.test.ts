import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { attach, type Attachment } from '../../../src/adapters/ws/upgrade.js';
import { DynamicSupervisor } from '../../../src/runtime/dynamic-supervisor.js';
import type { Pid } from '../../../src/runtime/pid.js';
import { isAlive, processInfo, whereis } from '../../../src/runtime/process.js';
import { rawRequest, TestClient, within } from '../../conformance/client.js';
import { Recorder, scripted } from '../../conformance/handlers.js';

/** An app's own HTTP server: one route, listening on a free port. */
async function appServer(): Promise<{ server: Server; http: string; ws: string }> {
  const server = createServer((req, res) => {
    if (req.url === '/health') res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` };
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setUp(rec: Recorder, opts: Parameters<typeof attach>[2] = {}): Promise<{ server: Server; http: string; ws: string; attachment: Attachment }> {
  const app = await appServer();
  const attachment = attach(app.server, scripted(rec), opts);
  cleanup.push(async () => {
    await attachment.close(1_000);
    app.server.closeAllConnections();
    await new Promise((resolve) => app.server.close(resolve));
  });
  return { ...app, attachment };
}

async function childOf(sup: Pid, pid: Pid): Promise<void> {
  await within(
    (async () => {
      while (!(await DynamicSupervisor.whichChildren(sup)).some((c) => c.pid === pid)) await new Promise((r) => setTimeout(r, 5));
    })(),
    'the connection to join the attachment supervisor',
  );
}

describe('attach(): WebSockets on an HTTP server of your own', () => {
  it('serves the routes and the WebSocket path on one port; init gets the args of the request', async () => {
    const rec = new Recorder();
    const { http, ws } = await setUp(rec, { path: '/ws', args: (req: IncomingMessage) => req.url });
    const client = await TestClient.open(ws, { path: '/ws?room=1' });
    const res = await fetch(`${http}/health`);
    expect([res.status, await res.text()]).toEqual([200, 'ok']);
    client.send('hello');
    expect(await client.text()).toBe('hello');
    expect((await rec.nth('init', 0)).input).toBe('/ws?room=1');
  });

  it('answers 404 for an upgrade to another path when it is the only upgrade listener', async () => {
    const { ws } = await setUp(new Recorder(), { path: '/ws' });
    const res = await rawRequest(ws, { path: '/elsewhere' });
    expect([res.status, res.body]).toEqual([404, 'no WebSocket endpoint at /elsewhere']);
  });

  it("leaves an upgrade to another path to the server's other upgrade listeners", async () => {
    const rec = new Recorder();
    const app = await appServer();
    const seen: string[] = [];
    app.server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      if (req.url === '/theirs') {
        seen.push('theirs');
        socket.end('HTTP/1.1 418 I\'m a teapot\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      }
    });
    const attachment = attach(app.server, scripted(rec), { path: '/ws' });
    cleanup.push(async () => {
      await attachment.close(1_000);
      await new Promise((resolve) => app.server.close(resolve));
    });
    expect((await rawRequest(app.ws, { path: '/theirs' })).status).toBe(418);
    expect(seen).toEqual(['theirs']);
    const client = await TestClient.open(app.ws, { path: '/ws' });
    client.send('mine');
    expect(await client.text()).toBe('mine');
  });

  it('makes each connection a temporary child of its own supervisor, listed by connections()', async () => {
    const rec = new Recorder();
    const { ws, attachment } = await setUp(rec);
    await TestClient.open(ws);
    const pid = await rec.pid();
    const sup = await attachment.supervisor;
    await childOf(sup, pid);
    expect(processInfo(pid)?.parent).toBe(sup);
    expect(sup).not.toBe(whereis('beamsock.connections'));
    expect(attachment.connections()).toEqual([pid]);
  });

  it('closes a connection over maxConnections with 1013', async () => {
    const rec = new Recorder();
    const { ws, attachment } = await setUp(rec, { maxConnections: 1 });
    await TestClient.open(ws);
    await childOf(await attachment.supervisor, await rec.pid(0));
    const second = await TestClient.open(ws);
    expect((await second.closeSeen()).code).toBe(1013);
  });

  it('names a bad option', async () => {
    const { server } = await appServer();
    cleanup.push(() => new Promise((resolve) => server.close(resolve)));
    expect(() => attach(server, scripted(new Recorder()), { timout: 5 } as never)).toThrow(/unknown option 'timout'.*'timeout'/);
    expect(() => attach(server, scripted(new Recorder()), { path: 'ws' })).toThrow("option 'path' must be a string starting with '/', got ws");
    expect(() => attach(server, scripted(new Recorder()), { maxConnections: 0 })).toThrow("option 'maxConnections' must be a positive integer or Infinity, got 0");
    expect(server.listenerCount('upgrade')).toBe(0);
  });
});

describe('attach(): closing', () => {
  it('lets httpServer.close() resolve promptly with a client open: the client sees 1001, terminate sees shutdown', async () => {
    const rec = new Recorder();
    const app = await appServer();
    const attachment = attach(app.server, scripted(rec), { shutdownTimeout: 60_000 });
    const client = await TestClient.open(app.ws);
    const pid = await rec.pid();
    const sup = await attachment.supervisor;
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => app.server.close((err) => (err ? reject(err) : resolve())));
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect((await client.closeSeen()).code).toBe(1001);
    expect((await rec.terminated(pid)).reason).toBe('shutdown');
    expect(isAlive(sup)).toBe(false);
    expect(attachment.connections()).toEqual([]);
  });

  it('close() closes its connections with 1001 and stops taking upgrades; the HTTP server keeps its routes', async () => {
    const rec = new Recorder();
    const { http, ws, server, attachment } = await setUp(rec);
    const client = await TestClient.open(ws);
    await rec.pid();
    await attachment.close();
    expect((await client.closeSeen()).code).toBe(1001);
    expect(server.listenerCount('upgrade')).toBe(0);
    expect((await fetch(`${http}/health`)).status).toBe(200);
    expect(attachment.close()).toBe(attachment.close());
  });

  it('closes when its AbortSignal aborts, and on [Symbol.asyncDispose]', async () => {
    const abort = new AbortController();
    const aborted = await setUp(new Recorder(), { signal: abort.signal });
    const disposed = await setUp(new Recorder());
    const clients = [await TestClient.open(aborted.ws), await TestClient.open(disposed.ws)];
    abort.abort();
    await disposed.attachment[Symbol.asyncDispose]();
    for (const c of clients) expect((await c.closeSeen()).code).toBe(1001);
  });
});
