import { describe, expect, it, vi } from 'vitest';
import { closeOnAbort, connectionOptionsOf, listenOptions, maxConnectionsOption, noEndpoint, onPath, routeOf, upgradeRequired, upgradeTimeoutOption, wsUrl } from '../../src/websock/listen-options.js';

describe('listenOptions', () => {
  it('fills in the defaults: port 4000, host 127.0.0.1, any path', () => {
    expect(listenOptions({})).toEqual({ port: 4000, host: '127.0.0.1', path: undefined });
    expect(listenOptions({ port: 0, host: '::1', path: '/ws' })).toEqual({ port: 0, host: '::1', path: '/ws' });
  });

  it.each([
    [{ port: 70_000 }, "option 'port' must be an integer from 0 to 65535, got 70000"],
    [{ port: '80' }, "option 'port' must be an integer from 0 to 65535, got 80"],
    [{ host: 1 }, "option 'host' must be a string, got 1"],
    [{ path: 'ws' }, "option 'path' must be a string starting with '/', got ws"],
    [{ onRequest: 'index.html' }, "option 'onRequest' must be a function"],
  ])('refuses %o naming the option', (opts, message) => {
    expect(() => listenOptions(opts)).toThrow(new TypeError(message));
  });
});

describe('maxConnectionsOption', () => {
  it('is Infinity by default and takes a positive integer or Infinity', () => {
    expect(maxConnectionsOption(undefined)).toBe(Infinity);
    expect(maxConnectionsOption(1)).toBe(1);
    expect(maxConnectionsOption(Infinity)).toBe(Infinity);
  });

  it.each([0, -1, 1.5, '10'])('refuses %o naming the option', (value) => {
    expect(() => maxConnectionsOption(value)).toThrow(
      new TypeError(`option 'maxConnections' must be a positive integer or Infinity, got ${String(value)}`),
    );
  });
});

describe('upgradeTimeoutOption', () => {
  it('is 10 s by default and takes a positive integer of ms up to 2^31-1', () => {
    expect(upgradeTimeoutOption(undefined)).toBe(10_000);
    expect(upgradeTimeoutOption(1)).toBe(1);
    expect(upgradeTimeoutOption(2 ** 31 - 1)).toBe(2 ** 31 - 1);
  });

  it.each([0, -1, 1.5, 2 ** 31, Infinity, '10'])('refuses %o naming the option', (value) => {
    expect(() => upgradeTimeoutOption(value)).toThrow(
      new TypeError(`option 'upgradeTimeout' must be a positive integer of milliseconds, at most ${2 ** 31 - 1}, got ${String(value)}`),
    );
  });

  it('is a serve() option, not a connection option', () => {
    expect(connectionOptionsOf({ upgradeTimeout: 5_000, timeout: 1 })).toEqual({ timeout: 1 });
  });
});

describe('wsUrl and closeOnAbort', () => {
  it('brackets an IPv6 host', () => {
    expect(wsUrl('127.0.0.1', 4000)).toBe('ws://127.0.0.1:4000');
    expect(wsUrl('::1', 4000)).toBe('ws://[::1]:4000');
  });

  it('closes at once for an aborted signal, on abort for a live one, never without one', async () => {
    const close = vi.fn(async () => undefined);
    await closeOnAbort(undefined, close);
    expect(close).not.toHaveBeenCalled();
    await closeOnAbort(AbortSignal.abort(), close);
    expect(close).toHaveBeenCalledTimes(1);
    const abort = new AbortController();
    await closeOnAbort(abort.signal, close);
    expect(close).toHaveBeenCalledTimes(1);
    abort.abort();
    expect(close).toHaveBeenCalledTimes(2);
  });
});

describe('routeOf', () => {
  it('sends upgrades on the path to validation and elsewhere to 404; plain requests on the path to 426, elsewhere to onRequest', () => {
    expect(routeOf('/ws?room=1', true, '/ws')).toBe('upgrade');
    expect(routeOf('/other', true, '/ws')).toBe('notFound');
    expect(routeOf('/ws?room=1', false, '/ws')).toBe('upgradeRequired');
    expect(routeOf('/other', false, '/ws')).toBe('request');
  });

  it('without a path: every upgrade to validation, every plain request to onRequest', () => {
    expect(routeOf('/anything', true, undefined)).toBe('upgrade');
    expect(routeOf('/anything', false, undefined)).toBe('request');
  });

  it('says what the 404 and the 426 carry', () => {
    expect(noEndpoint('/nope?x=1')).toEqual({ status: 404, reason: 'no WebSocket endpoint at /nope?x=1' });
    expect(upgradeRequired('/ws')).toMatchObject({ status: 426, reason: expect.stringMatching(/^\/ws is a WebSocket endpoint/), headers: { Upgrade: 'websocket', Connection: 'Upgrade' } });
  });
});

describe('onPath', () => {
  it('matches the path of a request target, ignoring its query; any target when no path is set', () => {
    expect(onPath('/ws?room=1', '/ws')).toBe(true);
    expect(onPath('/ws', '/ws')).toBe(true);
    expect(onPath('/wss', '/ws')).toBe(false);
    expect(onPath('/other?x=/ws', '/ws')).toBe(false);
    expect(onPath('/anything', undefined)).toBe(true);
  });
});

describe('connectionOptionsOf', () => {
  it("keeps the connection options of serve()'s options, leaving the serving ones out", () => {
    const signal = AbortSignal.abort();
    expect(connectionOptionsOf({ port: 0, host: '::1', path: '/ws', args: 1, onRequest: () => undefined, signal, maxConnections: 2, mounts: [], timeout: 5_000, compress: true })).toEqual({
      timeout: 5_000,
      compress: true,
    });
  });
});
