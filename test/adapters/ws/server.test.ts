import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { serve, type BeamsockServer } from '../../../src/adapters/ws/server.js';
import { DynamicSupervisor } from '../../../src/runtime/dynamic-supervisor.js';
import { isAlive, processInfo } from '../../../src/runtime/process.js';
import { rawRequest, TestClient, within } from '../../conformance/client.js';
import { Recorder, scripted } from '../../conformance/handlers.js';

let server: BeamsockServer | undefined;
afterEach(async () => {
  await server?.close(1_000);
  server = undefined;
});

async function childOf(sup: BeamsockServer['supervisor'], rec: Recorder, n = 0): Promise<ReturnType<Recorder['pid']>> {
  const pid = await rec.pid(n);
  await within(
    (async () => {
      while (!(await DynamicSupervisor.whichChildren(sup)).some((c) => c.pid === pid)) await new Promise((r) => setTimeout(r, 5));
    })(),
    'the connection to join its server supervisor',
  );
  return pid;
}

describe('serve: every connection a supervised process', () => {
  it('makes each connection a temporary child of the server DynamicSupervisor, its parent', async () => {
    const rec = new Recorder();
    server = await serve(scripted(rec), { port: 0 });
    const client = await TestClient.open(server.url);
    const pid = await childOf(server.supervisor, rec);
    expect(processInfo(pid)?.parent).toBe(server.supervisor);
    expect(processInfo(server.supervisor)?.kind).toBe('supervisor');
    const [child] = await DynamicSupervisor.whichChildren(server.supervisor);
    expect(child?.restart).toBe('temporary');
    client.ws.close(1000);
    await client.closeSeen();
  });

  it('shuts its connections down through the supervisor on close: 1001, terminate shutdown, supervisor gone', async () => {
    const rec = new Recorder();
    server = await serve(scripted(rec), { port: 0 });
    const clients = await Promise.all([TestClient.open(server.url), TestClient.open(server.url)]);
    await childOf(server.supervisor, rec, 1);
    const sup = server.supervisor;
    await server.close(2_000);
    server = undefined;
    for (const c of clients) expect((await c.closeSeen()).code).toBe(1001);
    expect(rec.of('terminate').map((c) => c.input)).toEqual(['shutdown', 'shutdown']);
    expect(isAlive(sup)).toBe(false);
  });

  it('closes a connection over maxConnections with 1013 and terminate { error: max_children }', async () => {
    const rec = new Recorder();
    server = await serve(scripted(rec), { port: 0, maxConnections: 1 });
    const first = await TestClient.open(server.url);
    await childOf(server.supervisor, rec);
    const second = await TestClient.open(server.url);
    expect((await second.closeSeen()).code).toBe(1013);
    const pid2 = await rec.pid(1);
    expect((await rec.terminated(pid2)).reason).toEqual({ error: 'max_children' });
    first.ws.close(1000);
    await first.closeSeen();
  });

  it('rejects an invalid maxConnections at start-up, naming it', async () => {
    await expect(serve(scripted(new Recorder()), { port: 0, maxConnections: 0 })).rejects.toThrow(
      "option 'maxConnections' must be a positive integer or Infinity, got 0",
    );
  });

  it('rejects an invalid upgradeTimeout at start-up, naming it', async () => {
    await expect(serve(scripted(new Recorder()), { port: 0, upgradeTimeout: 0 })).rejects.toThrow("option 'upgradeTimeout' must be a positive integer of milliseconds");
  });
});

describe('serve: mounts', () => {
  it('asks each mount first for requests and upgrades, and closes it with the server', async () => {
    const seen: string[] = [];
    const mount = {
      handleRequest(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) {
        if (req.url !== '/mounted') return false;
        res.end('from the mount');
        return true;
      },
      handleUpgrade(req: import('node:http').IncomingMessage, socket: import('node:stream').Duplex) {
        if (req.url !== '/mounted-ws') return false;
        seen.push('upgrade');
        socket.destroy();
        return true;
      },
      async close() {
        seen.push('closed');
      },
    };
    server = await serve(scripted(new Recorder()), { port: 0, mounts: [mount] });
    const base = `http://127.0.0.1:${server.port}`;
    expect(await (await fetch(`${base}/mounted`)).text()).toBe('from the mount');
    expect((await fetch(`${base}/elsewhere`)).status).toBe(404);
    await TestClient.open(server.url, { path: '/mounted-ws' }).catch(() => undefined);
    expect(seen).toEqual(['upgrade']);
    await server.close(1_000);
    server = undefined;
    expect(seen).toEqual(['upgrade', 'closed']);
  });

  it('rejects mounts that lack the mount methods, naming the option', async () => {
    await expect(serve(scripted(new Recorder()), { port: 0, mounts: [{} as never] })).rejects.toThrow("option 'mounts' must be a list of");
  });
});

describe('serve: every request to a WebSocket path goes through upgrade validation', () => {
  const onRequest = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void => void res.end(`page ${req.url ?? ''}`);

  it('an upgrade with Connection: close gets 400 with its reason, on the path or on any path without one, and the refusal is published', async () => {
    const published: unknown[] = [];
    const listener = (event: unknown): void => void published.push(event);
    subscribe('beamsock:upgrade', listener);
    try {
      server = await serve(scripted(new Recorder()), { port: 0, path: '/ws', onRequest });
      const refused = await rawRequest(server.url, { path: '/ws?room=1', headers: { Connection: 'close' } });
      expect([refused.status, refused.body]).toEqual([400, `'connection' header must contain 'upgrade', got ["close"]`]);
      expect(published).toEqual([{ server: 'ws', path: '/ws?room=1', status: 400, reason: `'connection' header must contain 'upgrade', got ["close"]` }]);
      const elsewhere = await rawRequest(server.url, { path: '/other', headers: { Connection: 'close' } });
      expect([elsewhere.status, elsewhere.body]).toEqual([404, 'no WebSocket endpoint at /other']);
      await server.close(1_000);

      server = await serve(scripted(new Recorder()), { port: 0, onRequest });
      const anywhere = await rawRequest(server.url, { path: '/anywhere', headers: { Connection: 'keep-alive' } });
      expect([anywhere.status, anywhere.body]).toEqual([400, `'connection' header must contain 'upgrade', got ["keep-alive"]`]);
    } finally {
      unsubscribe('beamsock:upgrade', listener);
    }
  });

  it('a plain request to the path gets 426 with Upgrade: websocket; other paths, and every path without one, go to onRequest', async () => {
    server = await serve(scripted(new Recorder()), { port: 0, path: '/ws', onRequest });
    const base = `http://127.0.0.1:${server.port}`;
    for (const method of ['GET', 'POST']) {
      const plain = await fetch(`${base}/ws?x=1`, { method });
      expect(plain.status).toBe(426);
      expect(plain.headers.get('upgrade')).toBe('websocket');
      expect(await plain.text()).toContain('/ws is a WebSocket endpoint');
    }
    expect(await (await fetch(`${base}/home`)).text()).toBe('page /home');
    const c = await TestClient.open(server.url, { path: '/ws' });
    c.ws.close(1000);
    await c.closeSeen();
    await server.close(1_000);

    server = await serve(scripted(new Recorder()), { port: 0, onRequest });
    expect(await (await fetch(`http://127.0.0.1:${server.port}/ws`)).text()).toBe('page /ws');
  });
});

describe('serve: stopping by signal or disposal', () => {
  it('shuts down gracefully when its AbortSignal aborts: 1001 to each connection, terminate shutdown', async () => {
    const rec = new Recorder();
    const abort = new AbortController();
    const s = await serve(scripted(rec), { port: 0, signal: abort.signal });
    const client = await TestClient.open(s.url);
    await rec.pid();
    abort.abort();
    expect((await client.closeSeen()).code).toBe(1001);
    expect((await rec.terminated()).reason).toBe('shutdown');
    await expect.poll(() => s.httpServer.listening).toBe(false);
  });

  it('does not listen at all when its signal is already aborted', async () => {
    const s = await serve(scripted(new Recorder()), { port: 0, signal: AbortSignal.abort() });
    expect(s.httpServer.listening).toBe(false);
  });

  it('closes on [Symbol.asyncDispose], as `await using` does', async () => {
    const rec = new Recorder();
    const s = await serve(scripted(rec), { port: 0 });
    const client = await TestClient.open(s.url);
    await rec.pid();
    await s[Symbol.asyncDispose]();
    expect((await client.closeSeen()).code).toBe(1001);
    expect(s.httpServer.listening).toBe(false);
  });
});
