/**
 * Admission and telemetry on Bun, over real sockets: permessage-deflate offers
 * as beamsock's negotiation takes them, the `authorize` hook on `serve` and
 * `createBunHandler`, refusals reported to the logger, and the plain telemetry
 * fields. Runs under Bun's test runner (`run-under-bun.test.ts` starts it).
 */
import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { createBunHandler, serve } from '../../../src/adapters/bun/index.js';
import { negotiate } from '../../../src/adapters/bun/deflate.js';
import type { BunServer } from '../../../src/adapters/bun/native.js';
import { bunOffer } from '../../../src/adapters/bun/upgrade.js';
import { Pid } from '../../../src/runtime/pid.js';
import type { Authorize } from '../../../src/websock/admission.js';
import { ok, push, type WebSock } from '../../../src/websock/behaviour.js';
import { normalizeOptions } from '../../../src/websock/options.js';
import type { MessageTrace } from '../../../src/websock/telemetry.js';
import { rawRequest, TestClient } from '../../conformance/client.js';
import { AUTOBAHN_OFFERS } from '../../support/deflate-offers.js';
import { captureReports } from '../../support/reports.js';
import { until } from '../../support/until.js';

declare const Bun: { serve(options: object): BunServer };

const reports = captureReports();
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Greets with init's args; echoes; throws on "boom". */
const Greeter: WebSock<unknown, unknown> = {
  name: 'Greeter',
  init: (args) => push(['text', `hello ${JSON.stringify(args)}`], args),
  handleIn([data, { opcode }], state) {
    if (data === 'boom') throw new Error('boom');
    return push([opcode, data] as never, state);
  },
  handleInfo: (_m, state) => ok(state),
};

async function served(options: Parameters<typeof serve<unknown, unknown>>[1]): Promise<string> {
  const server = await serve(Greeter, { port: 0, ...options });
  cleanups.push(() => server.close());
  return server.url;
}

function handled(authorize: Authorize<unknown, Request>): string {
  const beam = createBunHandler(Greeter, { authorize, args: 'from args' });
  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: (req: Request, s: BunServer) => beam.upgrade(req, s), websocket: beam.websocket });
  cleanups.push(async () => {
    await beam.closeConnections(1_000);
    await server.stop(true);
  });
  return `ws://127.0.0.1:${server.port}`;
}

async function greeting(url: string, path = '/'): Promise<string> {
  const client = await TestClient.open(url, { path });
  cleanups.push(() => client.ws.terminate());
  return client.text();
}

describe('permessage-deflate offers on Bun', () => {
  const offers = [...AUTOBAHN_OFFERS.map(([id, offer]) => [id, offer] as const), ['issue 11', 'permessage-deflate; foo=bar, permessage-deflate'] as const];
  for (const deflateOptions of [{}, { serverNoContextTakeover: true }, { serverMaxWindowBits: 10 }]) {
    it(`every Autobahn 13.x offer gets a 101, compressed as beamsock's negotiation took it (deflateOptions ${JSON.stringify(deflateOptions)})`, async () => {
      const url = await served({ compress: true, deflateOptions });
      const o = normalizeOptions({ compress: true, deflateOptions });
      for (const [id, offer] of offers) {
        const res = await rawRequest(url, { headers: { 'Sec-WebSocket-Extensions': offer } });
        expect({ id, status: res.status }).toEqual({ id, status: 101 });
        const taken = bunOffer(offer, o);
        expect({ id, compressed: res.headers['sec-websocket-extensions'] !== undefined }).toEqual({ id, compressed: negotiate(taken, true, o.deflateOptions).compressed });
      }
    });
  }

  it('the default options compress for every Autobahn 13.x offer Bun can honour, taking 13.7’s second offer and the one after an unknown parameter', async () => {
    const url = await served({ compress: true });
    const answers: Record<string, string | undefined> = {};
    for (const [id, offer] of offers) answers[id] = (await rawRequest(url, { headers: { 'Sec-WebSocket-Extensions': offer } })).headers['sec-websocket-extensions'];
    // 13.5 asks for no context takeover with an 8-bit window: Bun's shared compressor always has the full one.
    expect(Object.keys(answers).filter((id) => answers[id] === undefined)).toEqual(['13.5']);
    expect(answers['13.7']).toMatch(/server_no_context_takeover/);
    expect(answers['13.7']).not.toMatch(/server_max_window_bits/);
  });

  it('a serverMaxWindowBits larger than the offer asks declines it, as on ws', async () => {
    const url = await served({ compress: true, deflateOptions: { serverMaxWindowBits: 12 } });
    const res = await rawRequest(url, { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits=9' } });
    expect(res.status).toBe(101);
    expect(res.headers['sec-websocket-extensions']).toBeUndefined();
  });
});

const starts = {
  serve: (authorize: Authorize<unknown, Request>) => served({ authorize, args: 'from args' }),
  createBunHandler: async (authorize: Authorize<unknown, Request>) => handled(authorize),
};

for (const [name, start] of Object.entries(starts)) {
  describe(`authorize on Bun ${name}`, () => {
    it('false refuses with 403 Forbidden, reported to the logger', async () => {
      const url = await start(() => false);
      const res = await rawRequest(url, { path: '/ws' });
      expect([res.status, res.body]).toEqual([403, 'Forbidden']);
      expect(reports).toEqual([{ kind: 'upgrade', server: 'bun', path: '/ws', status: 403, reason: 'Forbidden', error: undefined }]);
    });

    it('a 401 carries its reason and headers; an async { args } reaches init', async () => {
      const url = await start(async (req) => {
        await new Promise((r) => setTimeout(r, 10));
        return new URL(req.url).searchParams.get('token') === 'secret'
          ? { args: { user: 'ada' } }
          : { status: 401, reason: 'log in first', headers: { 'WWW-Authenticate': 'Bearer' } };
      });
      const res = await rawRequest(url, { path: '/ws?token=wrong' });
      expect([res.status, res.body, res.headers['www-authenticate']]).toEqual([401, 'log in first', 'Bearer']);
      expect(await greeting(url, '/ws?token=secret')).toBe('hello {"user":"ada"}');
    });

    it('true keeps the args option; a throw answers 500 and goes to the logger with its error', async () => {
      let calls = 0;
      const url = await start(() => {
        if (++calls === 1) return true;
        throw new Error('session store down');
      });
      expect(await greeting(url)).toBe('hello "from args"');
      expect((await rawRequest(url, {})).status).toBe(500);
      expect(reports.map((r) => r.kind === 'upgrade' && [r.status, (r.error as Error).message])).toEqual([[500, 'session store down']]);
    });
  });
}

describe('telemetry on Bun', () => {
  it('start, stop and crash carry the documented plain fields, and each message is traced', async () => {
    const events: Record<string, Record<string, unknown>[]> = { start: [], stop: [], crash: [] };
    const ons = Object.keys(events).map((k) => [`beamsock:connection:${k}`, (e: unknown) => void events[k]?.push(e as Record<string, unknown>)] as const);
    for (const [name, on] of ons) subscribe(name, on);
    cleanups.push(() => {
      for (const [name, on] of ons) unsubscribe(name, on);
    });
    const traced: string[] = [];
    const tc = tracingChannel<object, MessageTrace>('beamsock:connection:message');
    const handlers = {
      start: (m: MessageTrace) => void traced.push(`start ${m.server} ${m.opcode} ${m.bytes}`),
      end: (m: MessageTrace) => void traced.push(`end ${m.server}`),
      asyncStart: () => undefined,
      asyncEnd: () => undefined,
      error: (m: MessageTrace) => void traced.push(`error ${(m.error as Error).message}`),
    };
    tc.subscribe(handlers);
    cleanups.push(() => tc.unsubscribe(handlers));

    const url = await served({ args: null });
    const client = await TestClient.open(url, { path: '/t' });
    cleanups.push(() => client.ws.terminate());
    await client.text();
    client.send('echo');
    expect(await client.text()).toBe('echo');
    client.send('boom');
    await client.closeSeen();
    await until(() => events['stop']?.length === 1 && events['crash']?.length === 1, 'stop and crash');
    const fields = { handlerName: 'Greeter', server: 'bun', remoteAddress: '127.0.0.1', path: '/t', protocol: undefined };
    const [start] = events['start'] as Record<string, unknown>[];
    expect(Object.keys(start as object).sort()).toEqual(['compress', 'handlerName', 'path', 'pid', 'protocol', 'remoteAddress', 'server']);
    expect(start).toMatchObject({ ...fields, compress: false });
    expect(start?.['pid']).toBeInstanceOf(Pid);
    const [stop] = events['stop'] as Record<string, unknown>[];
    expect(Object.keys(stop as object).filter((k) => !/^(recv|send)[A-Z]/.test(k)).sort()).toEqual(['duration', 'handlerName', 'path', 'pid', 'protocol', 'reason', 'remoteAddress', 'server']);
    expect(stop).toMatchObject({ ...fields, recvTextCount: 2 });
    const [crash] = events['crash'] as Record<string, unknown>[];
    expect(Object.keys(crash as object).sort()).toEqual(['handlerName', 'path', 'pid', 'protocol', 'reason', 'remoteAddress', 'server']);
    expect(crash).toMatchObject(fields);
    expect(traced).toEqual(['start bun text 4', 'end bun', 'start bun text 4', 'error boom', 'end bun']);
  });
});
