/**
 * What the Deno adapter does beyond the conformance suite: how it reports Deno's
 * protocol errors, which options it refuses at start-up and why, the
 * `maxFrameSize` it enforces itself, and `createDenoHandler` inside an
 * application's own `Deno.serve`. Runs in vitest under Deno
 * (`run-under-deno.test.ts` starts it).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createDenoHandler, serve, DenoProtocolError, type BeamsockServer, type DenoHandler } from '../../../src/adapters/deno/index.js';
import type { DenoGlobal, DenoHttpServer } from '../../../src/adapters/deno/native.js';
import { processInfo } from '../../../src/runtime/process.js';
import { push, type WebSock } from '../../../src/websock/behaviour.js';
import { setActive, setConnectionOptions } from '../../../src/websock/commands.js';
import type { ConnectionOptions } from '../../../src/websock/options.js';
import { Op, RawWebSocket, rawRequest, TestClient } from '../../conformance/client.js';
import { Recorder, runIn, scripted, type State } from '../../conformance/handlers.js';

declare const Deno: DenoGlobal;

const servers: { close(): Promise<void> }[] = [];
const clients: (TestClient | RawWebSocket)[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) (c instanceof TestClient ? c.ws.terminate() : c.destroy());
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(handler: WebSock<State>, options: ConnectionOptions & { maxConnections?: number } = {}): Promise<BeamsockServer> {
  const server = await serve(handler, { ...options, port: 0 });
  servers.push(server);
  return server;
}

async function raw(url: string): Promise<RawWebSocket> {
  const r = await RawWebSocket.open(url);
  clients.push(r);
  return r;
}

async function client(url: string): Promise<TestClient> {
  const c = await TestClient.open(url);
  clients.push(c);
  return c;
}

/** Deno.serve with a beamsock handler under /ws and a plain route elsewhere. */
function ownServer<A>(beam: DenoHandler<A>, args?: (req: Request) => A): { url: string; server: DenoHttpServer } {
  const server = Deno.serve({
    port: 0,
    hostname: '127.0.0.1',
    onListen: () => undefined,
    handler: (req, info) => (new URL(req.url).pathname === '/ws' ? beam.upgrade(req, info, args?.(req)) : new Response('plain route')),
  });
  servers.push({
    close: async () => {
      await beam.closeConnections(1_000);
      await server.shutdown();
    },
  });
  return { url: `ws://127.0.0.1:${server.addr.port}`, server };
}

describe('protocol errors on Deno', () => {
  for (const [what, act, closeCode, wsCode] of [
    ['invalid UTF-8', (r: RawWebSocket) => r.send(Op.TEXT, Buffer.from([0xc3, 0x28])), undefined, 'WS_ERR_INVALID_UTF8'],
    ['RSV2 set', (r: RawWebSocket) => r.send(Op.TEXT, 'x', { rsv: 2 }), undefined, 'WS_ERR_UNEXPECTED_RSV_2_3'],
    ['a ping over 125 bytes', (r: RawWebSocket) => r.send(Op.PING, 'x'.repeat(126)), undefined, 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH'],
    ['a close code of 999', (r: RawWebSocket) => r.sendClose(999), 1002, 'WS_ERR_INVALID_CLOSE_CODE'],
    ['a message over maxFrameSize', (r: RawWebSocket) => r.send(Op.BINARY, Buffer.alloc(65)), 1009, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'],
  ] as const) {
    it(`${what} reaches terminate as a DenoProtocolError with the code sent (if any) and ws's error code`, async () => {
      const rec = new Recorder();
      const server = await start(scripted(rec), { maxFrameSize: 64 });
      const r = await raw(server.url);
      await rec.pid();
      act(r);
      const { reason, info } = await rec.terminated();
      const error = (reason as { error: unknown }).error;
      expect(error).toBeInstanceOf(DenoProtocolError);
      expect(error).toMatchObject({ closeCode, code: wsCode });
      expect(info.sentCode).toBe(closeCode);
      if (closeCode === undefined) await r.ended;
      else expect((await r.closeFrame()).code).toBe(closeCode);
    });
  }

  it('a dropped connection is told apart from a protocol error: terminate sees closed', async () => {
    const rec = new Recorder();
    const server = await start(scripted(rec));
    (await raw(server.url)).destroy();
    expect((await rec.terminated()).reason).toEqual({ error: 'closed' });
  });
});

describe('options Deno cannot honour are refused at start-up, naming them and why', () => {
  for (const [options, pattern] of [
    [{ compress: true }, /'compress: true'.*permessage-deflate/],
    [{ validateUtf8: false }, /'validateUtf8: false'.*validates/],
    [{ activeN: 10 }, /'activeN'.*cannot stop reading/],
    [{ maxFrameSize: 0 }, /'maxFrameSize: 0'.*64 MiB/],
    [{ maxFrameSize: Infinity }, /'maxFrameSize: Infinity'.*64 MiB/],
    [{ maxFrameSize: 64 * 1024 * 1024 + 1 }, /'maxFrameSize: 67108865'.*64 MiB/],
  ] as const) {
    it(`${JSON.stringify(options)} by serve() and by createDenoHandler()`, async () => {
      await expect(serve(scripted(new Recorder()), { ...options, port: 0 })).rejects.toThrow(pattern);
      expect(() => createDenoHandler(scripted(new Recorder()), options)).toThrow(pattern);
    });
  }

  it('a maxFrameSize of exactly 64 MiB is accepted', async () => {
    const server = await start(scripted(new Recorder()), { maxFrameSize: 64 * 1024 * 1024 });
    const c = await client(server.url);
    c.send('fits');
    expect(await c.text()).toBe('fits');
  });
});

describe('maxFrameSize at run time', () => {
  it('can be lowered per connection, and a larger message then closes with 1009', async () => {
    const rec = new Recorder();
    const server = await start(
      scripted(rec, {
        handleIn: ([data, { opcode }], st) => {
          if (data === 'lower') setConnectionOptions({ maxFrameSize: 8 });
          return push([opcode, data], st);
        },
      }),
    );
    const c = await client(server.url);
    c.send('lower');
    expect(await c.text()).toBe('lower');
    c.send('12345678');
    expect(await c.text()).toBe('12345678');
    c.send('123456789');
    expect((await c.closeSeen()).code).toBe(1009);
  });

  it("cannot be raised past Deno's 64 MiB or lifted: the command throws a RangeError saying so", async () => {
    const rec = new Recorder();
    const server = await start(scripted(rec));
    await client(server.url);
    const pid = await rec.pid();
    await expect(runIn(pid, () => setConnectionOptions({ maxFrameSize: 0 }))).rejects.toThrow(/0 \(no limit\).*64 MiB/);
    await expect(runIn(pid, () => setConnectionOptions({ maxFrameSize: 64 * 1024 * 1024 + 1 }))).rejects.toThrow(RangeError);
    await runIn(pid, () => setConnectionOptions({ maxFrameSize: 64 * 1024 * 1024 }));
  });
});

describe('setActive(false) on Deno', () => {
  it('holds what arrives back from the handler, in order, until setActive(true)', async () => {
    const rec = new Recorder();
    const server = await start(
      scripted(rec, {
        handleIn: ([data, { opcode }], st) => {
          if (data === 'pause') setActive(false);
          return push([opcode, data], st);
        },
      }),
    );
    const c = await client(server.url);
    const pid = await rec.pid();
    c.send('pause');
    expect(await c.text()).toBe('pause');
    for (const m of ['a', 'b', 'c']) c.send(m);
    // Deno reads on: the messages reach the adapter, which holds them.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(rec.count('handleIn')).toBe(1);
    await runIn(pid, () => setActive(true));
    expect([await c.text(), await c.text(), await c.text()]).toEqual(['a', 'b', 'c']);
  });
});

describe('createDenoHandler in your own Deno.serve', () => {
  it('serves plain routes and WebSockets on one port, with args, the remote address and subprotocol', async () => {
    const rec = new Recorder();
    const beam = createDenoHandler(scripted(rec), { subprotocols: ['v2', 'v1'] });
    const { url } = ownServer(beam, (req) => new URL(req.url).searchParams.get('room'));
    const plain = await fetch(url.replace('ws:', 'http:') + '/');
    expect(await plain.text()).toBe('plain route');
    const c = new TestClient(url, { path: '/ws?room=lobby', protocols: ['v1', 'v2'] });
    clients.push(c);
    await c.opened;
    expect(c.ws.protocol).toBe('v1');
    const pid = await rec.pid();
    expect(rec.of('init')[0]?.input).toBe('lobby');
    expect(processInfo(pid)?.details).toMatchObject({ server: 'deno', remoteAddress: '127.0.0.1', path: '/ws?room=lobby', protocol: 'v1' });
    expect(beam.connections()).toEqual([pid]);
  });

  it('closeConnections closes every connection with 1001 and refuses new upgrades with 503', async () => {
    const rec = new Recorder();
    const beam = createDenoHandler(scripted(rec));
    const { url } = ownServer(beam);
    const c = new TestClient(url, { path: '/ws' });
    clients.push(c);
    await c.opened;
    await rec.pid();
    await beam.closeConnections(1_000);
    expect((await c.closeSeen()).code).toBe(1001);
    expect((await rec.terminated()).reason).toBe('shutdown');
    expect(beam.connections()).toEqual([]);
    const res = await rawRequest(url, { path: '/ws' });
    expect([res.status, res.body]).toEqual([503, 'the server is shutting down']);
  });
});

describe('serve()', () => {
  it('close() shuts Deno.serve down too: its finished promise resolves', async () => {
    const server = await serve(scripted(new Recorder()), { port: 0 });
    const c = await client(server.url);
    await server.close();
    expect((await c.closeSeen()).code).toBe(1001);
    await server.denoServer.finished;
  });

  it('routes by path: a plain request to path gets 426, an upgrade elsewhere 404, other requests onRequest', async () => {
    const server = await serve(scripted(new Recorder()), { port: 0, path: '/ws', onRequest: () => new Response('app') });
    servers.push(server);
    const http = server.url.replace('ws:', 'http:');
    const plain = await fetch(`${http}/ws`);
    expect([plain.status, plain.headers.get('upgrade')]).toEqual([426, 'websocket']);
    await plain.body?.cancel();
    expect(await (await fetch(`${http}/other`)).text()).toBe('app');
    const elsewhere = await rawRequest(server.url, { path: '/nope' });
    expect([elsewhere.status, elsewhere.body]).toEqual([404, 'no WebSocket endpoint at /nope']);
    expect((await rawRequest(server.url, { path: '/ws' })).status).toBe(101);
  });

  it('asks mounts first: one answers a route, one upgrades to its own handler with the client address, and both close with the server', async () => {
    const rec = new Recorder();
    const admin = new Recorder();
    let closed = 0;
    const server = await serve(scripted(rec), {
      port: 0,
      path: '/ws',
      mounts: [
        { handleFetch: (req) => (new URL(req.url).pathname === '/health' ? new Response('ok') : false), close: async () => void closed++ },
        {
          handleFetch: (req, context) =>
            new URL(req.url).pathname === '/admin' ? context.upgrade({ handler: scripted(admin), args: context.remoteAddress, path: '/admin' }) : false,
          close: async () => void closed++,
        },
      ],
    });
    expect(await (await fetch(`${server.url.replace('ws:', 'http:')}/health`)).text()).toBe('ok');
    const c = new TestClient(server.url, { path: '/admin?token=x' });
    clients.push(c);
    await c.opened;
    const pid = await admin.pid();
    expect(admin.of('init')[0]?.input).toBe('127.0.0.1');
    expect(processInfo(pid)?.details).toMatchObject({ path: '/admin', server: 'deno' });
    expect(server.connections()).toEqual([]);
    await server.close();
    expect((await c.closeSeen()).code).toBe(1001);
    expect(closed).toBe(2);
  });

  it('answers ordinary requests through onRequest, beside the upgrades', async () => {
    const server = await serve(scripted(new Recorder()), { port: 0, onRequest: () => new Response('hello from deno') });
    servers.push(server);
    expect(await (await fetch(server.url.replace('ws:', 'http:'))).text()).toBe('hello from deno');
  });
});
