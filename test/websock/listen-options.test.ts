import { describe, expect, it } from 'vitest';
import { listenOptions } from '../../src/websock/listen-options.js';

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
