/**
 * `createBunHandler` and `serve` without Bun: the options they hand Bun, and the
 * refusals `upgrade` answers before Bun ever sees a request. The behaviour over
 * real sockets is tested under Bun (`run-under-bun.test.ts`).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBunHandler, serve } from '../../../src/adapters/bun/index.js';
import type { BunUpgrader } from '../../../src/adapters/bun/native.js';
import { Recorder, scripted } from '../../conformance/handlers.js';

/** A Bun server stand-in that records upgrades and accepts none. */
function fakeServer(): BunUpgrader & { calls: { headers?: Record<string, string>; data?: unknown }[] } {
  const calls: { headers?: Record<string, string>; data?: unknown }[] = [];
  return {
    calls,
    upgrade: (_req, options) => {
      calls.push(options ?? {});
      return false;
    },
  };
}

function upgradeRequest(headers: Record<string, string> = {}, method = 'GET', path = '/ws'): Request {
  return new Request(`http://localhost:4000${path}`, {
    method,
    headers: {
      host: 'localhost:4000',
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version': '13',
      ...headers,
    },
  });
}

const events: unknown[] = [];
const onUpgrade = (e: unknown): void => void events.push(e);
beforeAll(() => subscribe('beamsock:upgrade', onUpgrade));
afterAll(() => unsubscribe('beamsock:upgrade', onUpgrade));
afterEach(() => {
  events.length = 0;
});

describe('createBunHandler', () => {
  it("turns Bun's idle timeout, automatic pings and backpressure limit off: the connection process keeps its own", () => {
    const { websocket } = createBunHandler(scripted(new Recorder()));
    expect(websocket).toMatchObject({ idleTimeout: 0, sendPings: false, backpressureLimit: 0, closeOnBackpressureLimit: false, publishToSelf: false });
  });

  it('maps maxFrameSize to maxPayloadLength ("no limit" to the most Bun takes) and compress to perMessageDeflate', () => {
    expect(createBunHandler(scripted(new Recorder())).websocket).toMatchObject({ maxPayloadLength: 10_000_000, perMessageDeflate: false });
    expect(createBunHandler(scripted(new Recorder()), { maxFrameSize: 0, compress: true }).websocket).toMatchObject({
      maxPayloadLength: 0xffff_ffff,
      perMessageDeflate: { compress: 'dedicated', decompress: 'dedicated' },
    });
  });

  it('refuses validateUtf8: false, which Bun cannot honour, and names it', () => {
    expect(() => createBunHandler(scripted(new Recorder()), { validateUtf8: false })).toThrow(/'validateUtf8: false' cannot be honoured on Bun/);
  });

  it('refuses an invalid option like every adapter, naming it', () => {
    expect(() => createBunHandler(scripted(new Recorder()), { timout: 5 } as never)).toThrow(/unknown option 'timout'.*'timeout'/);
  });

  for (const [what, req, status, reason] of [
    ['a POST', upgradeRequest({}, 'POST'), 400, 'HTTP method POST unsupported'],
    ['an Upgrade that is not websocket', upgradeRequest({ upgrade: 'h2c' }), 400, `'upgrade' header must contain 'websocket', got ["h2c"]`],
    ['a wrong version', upgradeRequest({ 'sec-websocket-version': '12' }), 426, `'sec-websocket-version' header must equal '13', got ["12"]`],
    ['a foreign origin', upgradeRequest({ origin: 'http://evil.example' }), 403, "origin 'http://evil.example' is not allowed for host 'localhost:4000'"],
  ] as const) {
    it(`answers ${what} with ${status} and the reason as a plain-text body, without asking Bun`, async () => {
      const server = fakeServer();
      const res = createBunHandler(scripted(new Recorder())).upgrade(req, server) as Response;
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(await res.text()).toBe(reason);
      expect(server.calls).toEqual([]);
      expect(events).toEqual([{ server: 'bun', path: '/ws', status, reason }]);
    });
  }

  it('a 426 names the version to use', () => {
    const res = createBunHandler(scripted(new Recorder())).upgrade(upgradeRequest({ 'sec-websocket-version': '12' }), fakeServer()) as Response;
    expect([res.headers.get('sec-websocket-version'), res.headers.get('upgrade')]).toEqual(['13', 'websocket']);
  });

  it('hands Bun the headers option, the chosen subprotocol, and an empty one when none is chosen (Bun would pick the first offered)', () => {
    const server = fakeServer();
    const beam = createBunHandler(scripted(new Recorder()), { subprotocols: ['v2'], headers: { 'X-Served-By': 'beamsock' } });
    beam.upgrade(upgradeRequest({ 'sec-websocket-protocol': 'v1, v2' }), server);
    beam.upgrade(upgradeRequest({ 'sec-websocket-protocol': 'v1' }), server);
    expect(server.calls.map((c) => c.headers)).toEqual([
      { 'X-Served-By': 'beamsock', 'Sec-WebSocket-Protocol': 'v2' },
      { 'X-Served-By': 'beamsock', 'Sec-WebSocket-Protocol': '' },
    ]);
  });

  it('hands Bun only the headers option when no subprotocol was offered, and no headers at all when there is none', () => {
    const server = fakeServer();
    createBunHandler(scripted(new Recorder()), { headers: { 'X-Served-By': 'beamsock' } }).upgrade(upgradeRequest(), server);
    createBunHandler(scripted(new Recorder())).upgrade(upgradeRequest(), server);
    expect(server.calls.map((c) => c.headers)).toEqual([{ 'X-Served-By': 'beamsock' }, undefined]);
    expect('headers' in (server.calls[1] as object)).toBe(false);
  });

  it('answers 400 when Bun refuses an upgrade that was not validated early', async () => {
    const res = createBunHandler(scripted(new Recorder()), { earlyValidateUpgrade: false }).upgrade(upgradeRequest({}, 'POST'), fakeServer()) as Response;
    expect([res.status, await res.text()]).toEqual([400, 'not a valid WebSocket upgrade request']);
  });

  it('answers 500 when an application function throws, and publishes why', async () => {
    const beam = createBunHandler(scripted(new Recorder()), {
      args: () => {
        throw new Error('session store down');
      },
    });
    const stderr = process.stderr.write;
    process.stderr.write = () => true;
    try {
      const res = beam.upgrade(upgradeRequest(), fakeServer()) as Response;
      expect([res.status, await res.text()]).toEqual([500, 'internal server error while upgrading']);
    } finally {
      process.stderr.write = stderr;
    }
    expect(events).toEqual([{ server: 'bun', path: '/ws', status: 500, reason: 'session store down' }]);
  });
});

describe('serve', () => {
  it('on Node rejects with a TypeError that points to beamsock/ws', async () => {
    await expect(serve(scripted(new Recorder()))).rejects.toThrow(/needs the Bun runtime.*'beamsock\/ws'/);
  });
});

