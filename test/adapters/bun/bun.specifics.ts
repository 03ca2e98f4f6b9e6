/**
 * What the Bun adapter does beyond the conformance suite: how it normalises
 * Bun's own behaviour (protocol errors, compression negotiation, backpressure,
 * per-server limits) and `createBunHandler` inside an application's own
 * `Bun.serve`. Runs under Bun's test runner (`run-under-bun.test.ts` starts it).
 */
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createBunHandler, serve, BunProtocolError, type BeamsockServer, type BunHandler } from '../../../src/adapters/bun/index.js';
import { negotiate } from '../../../src/adapters/bun/deflate.js';
import { bunOffer } from '../../../src/adapters/bun/upgrade.js';
import type { BunServer } from '../../../src/adapters/bun/native.js';
import { DynamicSupervisor } from '../../../src/runtime/dynamic-supervisor.js';
import type { Pid } from '../../../src/runtime/pid.js';
import { PubSub } from '../../../src/runtime/pubsub.js';
import { isAlive, processInfo, send } from '../../../src/runtime/process.js';
import { ok, push, type WebSock } from '../../../src/websock/behaviour.js';
import { setActive, setConnectionOptions } from '../../../src/websock/commands.js';
import { fastlane, outbound } from '../../../src/websock/fastlane.js';
import { normalizeOptions, type ConnectionOptions } from '../../../src/websock/options.js';
import { Op, RawWebSocket, rawRequest, TestClient, within } from '../../conformance/client.js';
import { pushMessage, Recorder, runIn, scripted, sleep, type State } from '../../conformance/handlers.js';

declare const Bun: { serve(options: object): BunServer };

const servers: { close(): Promise<void> | void }[] = [];
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

async function raw(url: string, headers?: Record<string, string | undefined>): Promise<RawWebSocket> {
  const r = await RawWebSocket.open(url, headers === undefined ? {} : { headers });
  clients.push(r);
  return r;
}

async function client(url: string, opts?: ConstructorParameters<typeof TestClient>[1]): Promise<TestClient> {
  const c = await TestClient.open(url, opts);
  clients.push(c);
  return c;
}

/** Starts Bun.serve with a beamsock handler under /ws and a plain route elsewhere. */
function ownServer<A>(beam: BunHandler<A>, args?: (req: Request) => A): { url: string; beam: BunHandler<A> } {
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: (req: Request, s: BunServer) =>
      new URL(req.url).pathname === '/ws' ? beam.upgrade(req, s, args?.(req)) : new Response('plain route'),
    websocket: beam.websocket,
  });
  servers.push({ close: async () => {
    await beam.closeConnections(1_000);
    await server.stop(true);
  } });
  return { url: `ws://127.0.0.1:${server.port}`, beam };
}

describe('protocol errors Bun closes for', () => {
  for (const [what, act, closeCode, wsCode] of [
    ['invalid UTF-8', (r: RawWebSocket) => r.send(Op.TEXT, Buffer.from([0xc3, 0x28])), 1007, 'WS_ERR_INVALID_UTF8'],
    ['a message over maxFrameSize', (r: RawWebSocket) => r.send(Op.BINARY, Buffer.alloc(65)), 1009, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'],
    ['an unmasked frame', (r: RawWebSocket) => r.send(Op.TEXT, 'x', { mask: false }), 1002, 'WS_ERR_EXPECTED_MASK'],
  ] as const) {
    it(`${what} reaches terminate as a BunProtocolError with the code sent and ws's error code`, async () => {
      const rec = new Recorder();
      const server = await start(scripted(rec), { maxFrameSize: 64 });
      const r = await raw(server.url);
      await rec.pid();
      act(r);
      expect((await r.closeFrame()).code).toBe(closeCode);
      const { reason, info } = await rec.terminated();
      const error = (reason as { error: unknown }).error;
      expect(error).toBeInstanceOf(BunProtocolError);
      expect(error).toMatchObject({ closeCode, code: wsCode });
      expect(info.sentCode).toBe(closeCode);
    });
  }

  it('a dropped connection is told apart from a protocol error: terminate sees closed', async () => {
    const rec = new Recorder();
    const server = await start(scripted(rec));
    (await raw(server.url)).destroy();
    expect((await rec.terminated()).reason).toEqual({ error: 'closed' });
  });
});

describe('maxFrameSize at run time', () => {
  it('can be lowered per connection, and a larger message then closes with 1009 and a BunProtocolError', async () => {
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
    const error = ((await rec.terminated()).reason as { error: unknown }).error;
    expect(error).toMatchObject({ name: 'BunProtocolError', closeCode: 1009 });
  });

  it('cannot be raised over the server limit: the command throws a RangeError naming both limits', async () => {
    const rec = new Recorder();
    const server = await start(scripted(rec), { maxFrameSize: 100 });
    await client(server.url);
    const pid = await rec.pid();
    await expect(runIn(pid, () => setConnectionOptions({ maxFrameSize: 1000 }))).rejects.toThrow(/1000.*100.*per server/);
    await expect(runIn(pid, () => setConnectionOptions({ maxFrameSize: 0 }))).rejects.toThrow(RangeError);
    await runIn(pid, () => setConnectionOptions({ maxFrameSize: 100 }));
  });
});

/** The offers of Autobahn's cases 13.1 to 13.7, as its client writes them. */
const AUTOBAHN_13_OFFERS = [
  [false, 0],
  [true, 0],
  [false, 8],
  [false, 15],
  [true, 8],
  [true, 15],
].map(([noContext, bits]) => {
  let offer = 'permessage-deflate; client_no_context_takeover; client_max_window_bits';
  if (noContext === true) offer += '; server_no_context_takeover';
  if (bits !== 0) offer += `; server_max_window_bits=${bits}`;
  return offer;
});
AUTOBAHN_13_OFFERS.push([AUTOBAHN_13_OFFERS[4], AUTOBAHN_13_OFFERS[1], AUTOBAHN_13_OFFERS[0]].join(', '));

describe('compression', () => {
  // Offers whose answers differ between Bun's compressor presets, and offers Bun declines.
  const offers = [
    'permessage-deflate',
    'permessage-deflate; client_max_window_bits',
    'permessage-deflate; server_max_window_bits=10',
    'permessage-deflate; server_max_window_bits=8',
    'permessage-deflate; server_max_window_bits',
    'permessage-deflate; server_no_context_takeover',
    'permessage-deflate; client_max_window_bits=16',
    'permessage-deflate; foo',
    'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
    'permessage-deflate; server_max_window_bits=10, permessage-deflate',
    'permessage-deflate; server_max_window_bits= 10',
    'x-webkit-deflate-frame',
    // Autobahn 13.1-13.7: (server_no_context_takeover?, server_max_window_bits) requested beside
    // client_no_context_takeover and client_max_window_bits, and 13.7's three offers in one header.
    ...AUTOBAHN_13_OFFERS,
    'permessage-deflate; server_no_context_takeover; server_max_window_bits=9',
    'permessage-deflate; server_max_window_bits=9; server_no_context_takeover',
  ];
  for (const deflateOptions of [{}, { serverNoContextTakeover: true }, { serverMaxWindowBits: 10, clientNoContextTakeover: true }]) {
    it(`the adapter predicts what Bun negotiates for each offer (deflateOptions ${JSON.stringify(deflateOptions)})`, async () => {
      const rec = new Recorder();
      const server = await start(scripted(rec), { compress: true, deflateOptions });
      const o = normalizeOptions({ compress: true, deflateOptions });
      const d = o.deflateOptions;
      for (const [i, offer] of offers.entries()) {
        const r = await raw(server.url, { 'Sec-WebSocket-Extensions': offer });
        const answer = r.response.headers['sec-websocket-extensions'];
        // The adapter hands Bun the one offer beamsock's negotiation took.
        const predicted = negotiate(bunOffer(offer, o), true, d);
        expect({ offer, compressed: answer !== undefined }).toEqual({ offer, compressed: predicted.compressed });
        if (answer !== undefined) expect(answer.includes('server_no_context_takeover')).toBe(predicted.serverNoContextTakeover);
        expect(processInfo(await rec.pid(i))?.details['compress']).toBe(answer !== undefined);
      }
    });
  }

  it('with context takeover the threshold does not apply, as in ws: short messages are compressed too', async () => {
    const server = await start(scripted(new Recorder()), { compress: true, deflateOptions: { threshold: 100 } });
    const r = await raw(server.url, { 'Sec-WebSocket-Extensions': 'permessage-deflate' });
    expect(r.response.headers['sec-websocket-extensions']).toBe('permessage-deflate');
    r.send(Op.TEXT, 'tiny');
    expect((await r.nextFrame()).rsv & 4).toBe(4);
  });
});

describe('backpressure', () => {
  it('frames past Bun’s 16 MiB default backpressure limit are queued, not dropped, and bufferedAmount shows them', async () => {
    const rec = new Recorder();
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const server = await start(scripted(rec));
    const r = await raw(server.url);
    const pid = await rec.pid();
    r.pause();
    send(pid, pushMessage(Array.from({ length: 24 }, () => ['binary', chunk] as const)));
    await within(
      (async () => {
        while (((processInfo(pid)?.details['bufferedAmount'] as number | undefined) ?? 0) < 16 * 1024 * 1024) await sleep(10);
      })(),
      'more than 16 MiB buffered',
    );
    // RawWebSocket has pause() but no resume(); its socket is resumed directly.
    (r as unknown as { socket: Socket }).socket.resume();
    for (let i = 0; i < 24; i++) expect((await r.nextFrame()).payload.length).toBe(chunk.length);
  });

  it('setActive(false) pauses reading through Bun’s ws.pause()', async () => {
    const rec = new Recorder();
    const server = await start(scripted(rec));
    const c = await client(server.url);
    const pid = await rec.pid();
    await runIn(pid, () => setActive(false));
    c.send('held back');
    await sleep(100);
    expect(rec.count('handleIn')).toBe(0);
    await runIn(pid, () => setActive(true));
    expect(await c.text()).toBe('held back');
  });
});

describe('broadcast', () => {
  it('a fastlane broadcast keeps its place among the frames a connection pushes itself', async () => {
    const topic = new PubSub();
    try {
      const rec = new Recorder();
      const server = await start(
        scripted(rec, {
          init: () => {
            topic.subscribe('room');
            return ok(null);
          },
        }),
      );
      const c = await client(server.url);
      const pid = await rec.pid();
      send(pid, pushMessage(['text', 'own 1']));
      void topic.broadcast('room', outbound(['text', 'broadcast']), fastlane);
      send(pid, pushMessage(['text', 'own 2']));
      expect([await c.text(), await c.text(), await c.text()]).toEqual(['own 1', 'broadcast', 'own 2']);
    } finally {
      topic.close();
    }
  });
});

describe('createBunHandler in an application’s own Bun.serve', () => {
  it('upgrades on the application’s route, with args from the request, and leaves other routes alone', async () => {
    const rec = new Recorder();
    const { url } = ownServer(createBunHandler(scripted(rec)), (req) => new URL(req.url).searchParams.get('user'));
    await client(url, { path: '/ws?user=ada' });
    expect((await rec.nth('init')).input).toBe('ada');
    expect((await fetch(url.replace('ws:', 'http:') + '/other')).status).toBe(200);
  });

  it('answers refusals as Responses with the reason as a plain-text body', async () => {
    const { url } = ownServer(createBunHandler(scripted(new Recorder())));
    const res = await rawRequest(url, { method: 'POST', path: '/ws' });
    expect([res.status, res.body, res.headers['content-type']]).toEqual([400, 'HTTP method POST unsupported', 'text/plain; charset=utf-8']);
  });

  it('closeConnections closes every connection with 1001 and refuses new upgrades with 503', async () => {
    const rec = new Recorder();
    const { url, beam } = ownServer(createBunHandler(scripted(rec)));
    const c = await client(url, { path: '/ws' });
    await rec.pid();
    expect(beam.connections()).toHaveLength(1);
    await beam.closeConnections();
    expect((await c.closeSeen()).code).toBe(1001);
    expect((await rec.terminated()).reason).toBe('shutdown');
    expect(beam.connections()).toEqual([]);
    expect((await rawRequest(url, { path: '/ws' })).status).toBe(503);
  });
});

/** The pid of the `n`th connection once it has joined `sup`. */
async function childOf(sup: Pid, rec: Recorder, n = 0): Promise<Pid> {
  const pid = await rec.pid(n);
  await within(
    (async () => {
      while (!(await DynamicSupervisor.whichChildren(sup)).some((c) => c.pid === pid)) await sleep(5);
    })(),
    'the connection to join its server supervisor',
  );
  return pid;
}

describe('serve: every connection a supervised process', () => {
  it('makes each connection a temporary child of the server DynamicSupervisor, its parent', async () => {
    const rec = new Recorder();
    const server = await start(scripted(rec));
    await client(server.url);
    const pid = await childOf(server.supervisor, rec);
    expect(processInfo(pid)?.parent).toBe(server.supervisor);
    expect((await DynamicSupervisor.whichChildren(server.supervisor))[0]?.restart).toBe('temporary');
  });

  it('shuts its connections down through the supervisor on close: 1001, terminate shutdown, supervisor gone', async () => {
    const rec = new Recorder();
    const server = await serve(scripted(rec), { port: 0 });
    servers.push(server);
    const clients = [await client(server.url), await client(server.url)];
    await childOf(server.supervisor, rec, 1);
    await server.close(2_000);
    for (const c of clients) expect((await c.closeSeen()).code).toBe(1001);
    expect(rec.of('terminate').map((c) => c.input)).toEqual(['shutdown', 'shutdown']);
    expect(isAlive(server.supervisor)).toBe(false);
  });

  it('closes a connection over maxConnections with 1013 and terminate { error: max_children }', async () => {
    const rec = new Recorder();
    const server = await start(scripted(rec), { maxConnections: 1 });
    await client(server.url);
    await childOf(server.supervisor, rec);
    const second = await client(server.url);
    expect((await second.closeSeen()).code).toBe(1013);
    expect((await rec.terminated(await rec.pid(1))).reason).toEqual({ error: 'max_children' });
  });

  it('rejects an invalid maxConnections at start-up, naming it', async () => {
    await expect(serve(scripted(new Recorder()), { port: 0, maxConnections: 0 })).rejects.toThrow(
      "option 'maxConnections' must be a positive integer or Infinity, got 0",
    );
  });
});

describe('serve', () => {
  it('asks each mount first, lets a mount upgrade with its own handler, and closes mounts with the server', async () => {
    const mounted = new Recorder();
    const beam = createBunHandler(scripted(mounted, { handleIn: ([data], st) => push(['text', `mounted: ${String(data)}`], st) }));
    let closedWith: number | undefined;
    const server = await serve(scripted(new Recorder()), {
      port: 0,
      mounts: [
        {
          handleFetch: (req, { server: s }) => {
            const { pathname } = new URL(req.url);
            if (pathname === '/mounted') return new Response('from the mount');
            if (pathname === '/mounted/ws') return beam.upgrade(req, s);
            return false;
          },
          close: async (ms) => {
            closedWith = ms;
            await beam.closeConnections(ms);
          },
        },
      ],
    });
    servers.push(server);
    expect(await (await fetch(server.url.replace('ws:', 'http:') + '/mounted')).text()).toBe('from the mount');
    const c = await client(server.url, { path: '/mounted/ws' });
    c.send('hi');
    expect(await c.text()).toBe('mounted: hi');
    await server.close(1_500);
    expect(closedWith).toBe(1_500);
    expect((await c.closeSeen()).code).toBe(1001);
  });


  it("lends a mount the client's address and an upgrade to any handler, whose connections close with the server", async () => {
    const mounted = new Recorder();
    const MountedSocket = scripted(mounted, { handleIn: ([data], st) => push(['text', `mounted: ${String(data)}`], st) });
    const addresses: (string | undefined)[] = [];
    const server = await serve(scripted(new Recorder()), {
      port: 0,
      mounts: [
        {
          handleFetch: (req, context) => {
            addresses.push(context.remoteAddress);
            const { pathname } = new URL(req.url);
            return pathname === '/mounted/ws' ? context.upgrade({ handler: MountedSocket, args: 'from the mount', path: '/mounted/ws' }) : false;
          },
          close: async () => undefined,
        },
      ],
    });
    servers.push(server);
    const c = await client(server.url, { path: '/mounted/ws?token=secret' });
    c.send('hi');
    expect(await c.text()).toBe('mounted: hi');
    expect(mounted.of('init').map((call) => call.input)).toEqual(['from the mount']);
    expect(addresses).toEqual(['127.0.0.1']);
    expect(server.connections()).toEqual([]);
    const refused = await rawRequest(server.url, { path: '/mounted/ws', headers: { 'Sec-WebSocket-Version': '12' } });
    expect(refused.status).toBe(426);
    await server.close(1_000);
    expect((await c.closeSeen()).code).toBe(1001);
    expect((await mounted.terminated()).reason).toBe('shutdown');
  });

  it('upgrades only on its path and hands other requests to onRequest', async () => {
    const server = await serve(scripted(new Recorder()), {
      port: 0,
      path: '/socket',
      onRequest: (req) => new Response(`page ${new URL(req.url).pathname}`),
    });
    servers.push(server);
    const elsewhere = await rawRequest(server.url, { path: '/nope?x=1' });
    expect([elsewhere.status, elsewhere.body]).toEqual([404, 'no WebSocket endpoint at /nope?x=1']);
    expect(await (await fetch(server.url.replace('ws:', 'http:') + '/home')).text()).toBe('page /home');
    const c = await client(server.url, { path: '/socket?token=1' });
    c.send('on the path');
    expect(await c.text()).toBe('on the path');
  });

  it('an upgrade with Connection: close gets 400 with its reason, on the path or on any path without one', async () => {
    const onRequest = (req: Request): Response => new Response(`page ${new URL(req.url).pathname}`);
    const server = await serve(scripted(new Recorder()), { port: 0, path: '/ws', onRequest });
    servers.push(server);
    const refused = await rawRequest(server.url, { path: '/ws?room=1', headers: { Connection: 'close' } });
    expect([refused.status, refused.body]).toEqual([400, `'connection' header must contain 'upgrade', got ["close"]`]);
    const elsewhere = await rawRequest(server.url, { path: '/other', headers: { Connection: 'close' } });
    expect([elsewhere.status, elsewhere.body]).toEqual([404, 'no WebSocket endpoint at /other']);
    const anyPath = await serve(scripted(new Recorder()), { port: 0, onRequest });
    servers.push(anyPath);
    const anywhere = await rawRequest(anyPath.url, { path: '/anywhere', headers: { Connection: 'keep-alive' } });
    expect([anywhere.status, anywhere.body]).toEqual([400, `'connection' header must contain 'upgrade', got ["keep-alive"]`]);
  });

  it('a plain request to the path gets 426 with Upgrade: websocket; other paths, and every path without one, go to onRequest', async () => {
    const onRequest = (req: Request): Response => new Response(`page ${new URL(req.url).pathname}`);
    const server = await serve(scripted(new Recorder()), { port: 0, path: '/ws', onRequest });
    servers.push(server);
    const http = server.url.replace('ws:', 'http:');
    for (const method of ['GET', 'POST']) {
      const plain = await fetch(`${http}/ws?x=1`, { method });
      expect([plain.status, plain.headers.get('upgrade')]).toEqual([426, 'websocket']);
      expect(await plain.text()).toContain('/ws is a WebSocket endpoint');
    }
    expect(await (await fetch(`${http}/home`)).text()).toBe('page /home');
    const anyPath = await serve(scripted(new Recorder()), { port: 0, onRequest });
    servers.push(anyPath);
    expect(await (await fetch(`${anyPath.url.replace('ws:', 'http:')}/ws`)).text()).toBe('page /ws');
  });

  it('an aborted signal shuts the server down gracefully', async () => {
    const abort = new AbortController();
    const rec = new Recorder();
    const server = await serve(scripted(rec), { port: 0, signal: abort.signal });
    servers.push(server);
    const c = await client(server.url);
    await rec.pid();
    abort.abort();
    expect((await c.closeSeen()).code).toBe(1001);
    expect((await rec.terminated()).reason).toBe('shutdown');
  });

  it('reusePort: true lets a second server listen on the same port (how runOnCores workers share one on Bun); without it the port is refused', async () => {
    const first = await serve(scripted(new Recorder()), { port: 0, reusePort: true });
    servers.push(first);
    const second = await serve(scripted(new Recorder()), { port: first.port, reusePort: true });
    servers.push(second);
    expect(second.port).toBe(first.port);
    const rec = new Recorder();
    await expect(serve(scripted(rec), { port: first.port })).rejects.toThrow();
    await client(first.url);
  });

  it('rejects a reusePort that is not a boolean at start-up, naming it', async () => {
    await expect(serve(scripted(new Recorder()), { port: 0, reusePort: 'yes' as unknown as boolean })).rejects.toThrow("option 'reusePort' must be a boolean, got yes");
  });
});

describe('several handlers on one Bun.serve', () => {
  it("share one handler's websocket: each connection runs its own handler, with its own smaller maxFrameSize", async () => {
    const echoes = new Recorder();
    const shouts = new Recorder();
    const echo = createBunHandler(scripted(echoes), { maxFrameSize: 1000 });
    const shout = createBunHandler(
      scripted(shouts, { handleIn: ([data], st) => push(['text', String(data).toUpperCase()], st) }),
      { maxFrameSize: 10 },
    );
    const server = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: (req: Request, s: BunServer) => (new URL(req.url).pathname === '/shout' ? shout.upgrade(req, s) : echo.upgrade(req, s)),
      websocket: echo.websocket,
    });
    servers.push({ close: async () => {
      await Promise.all([echo.closeConnections(1_000), shout.closeConnections(1_000)]);
      await server.stop(true);
    } });
    const url = `ws://127.0.0.1:${server.port}`;
    const a = await client(url, { path: '/echo' });
    const b = await client(url, { path: '/shout' });
    a.send('same server');
    b.send('hey');
    expect([await a.text(), await b.text()]).toEqual(['same server', 'HEY']);
    expect([echo.connections(), shout.connections()]).toEqual([[await echoes.pid()], [await shouts.pid()]]);
    a.send('x'.repeat(100));
    expect(await a.text()).toBe('x'.repeat(100));
    b.send('x'.repeat(11));
    expect((await b.closeSeen()).code).toBe(1009);
  });
});
