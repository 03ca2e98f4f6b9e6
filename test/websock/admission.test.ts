import { describe, expect, it } from 'vitest';
import { admit, authorization, authorizeOption } from '../../src/websock/admission.js';
import { normalizeOptions } from '../../src/websock/options.js';
import type { UpgradeRequest } from '../../src/websock/upgrade-validation.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
function request(headers: Record<string, string | undefined> = {}, method = 'GET'): UpgradeRequest {
  return {
    method,
    httpVersion: '1.1',
    headers: { host: 'localhost:4000', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': KEY, 'sec-websocket-version': '13', ...headers },
  };
}

describe('admit: the checks before an upgrade', () => {
  it('admits a valid request, with the first offered subprotocol the server speaks', () => {
    const o = normalizeOptions({ subprotocols: ['mqtt', 'graphql-ws'] });
    expect(admit(request({ 'sec-websocket-protocol': 'graphql-ws, mqtt' }), o)).toEqual({ ok: true, protocol: 'graphql-ws' });
    expect(admit(request(), normalizeOptions({}))).toEqual({ ok: true, protocol: undefined });
  });

  it('validates the upgrade first, then the origin', () => {
    const bad = request({ origin: 'http://evil.example' }, 'POST');
    expect(admit(bad, normalizeOptions({}))).toEqual({ ok: false, status: 400, reason: 'HTTP method POST unsupported' });
    expect(admit(request({ origin: 'http://evil.example' }), normalizeOptions({}))).toEqual({
      ok: false,
      status: 403,
      reason: "origin 'http://evil.example' is not allowed for host 'localhost:4000'",
    });
  });

  it('skips the upgrade validation with earlyValidateUpgrade: false', () => {
    expect(admit(request({}, 'POST'), normalizeOptions({ earlyValidateUpgrade: false })).ok).toBe(true);
  });

  it('lets what a checkOrigin function throws reach the adapter (which answers 500)', () => {
    const o = normalizeOptions({
      checkOrigin: () => {
        throw new Error('origin service down');
      },
    });
    expect(() => admit(request({ origin: 'http://a.example' }), o)).toThrow('origin service down');
  });
});

describe('authorization: what an authorize hook answers', () => {
  it('true lets the request through with the args option, { args } with its own args', () => {
    expect(authorization(true)).toEqual({ ok: true });
    expect(authorization({ args: { user: 'ada' } })).toEqual({ ok: true, args: { user: 'ada' } });
    expect(authorization({ args: undefined })).toEqual({ ok: true, args: undefined });
  });

  it('false refuses with 403; a status refuses with it, its reason (a default per status) and headers', () => {
    expect(authorization(false)).toEqual({ ok: false, status: 403, reason: 'Forbidden' });
    expect(authorization({ status: 401 })).toEqual({ ok: false, status: 401, reason: 'Unauthorized', headers: undefined });
    expect(authorization({ status: 403, reason: 'banned', headers: { 'Retry-After': '60' } })).toEqual({ ok: false, status: 403, reason: 'banned', headers: { 'Retry-After': '60' } });
  });

  for (const bad of [undefined, null, 'yes', 1, {}, { status: 500 }, { status: 401, reason: 7 }, { status: 403, headers: { a: 1 } }]) {
    it(`throws a TypeError naming the option for ${JSON.stringify(bad)}`, () => {
      expect(() => authorization(bad)).toThrow(/^option 'authorize' returned .*: expected true, false, \{ args \} or \{ status: 401 \| 403, reason\?, headers\? \}$/);
    });
  }

  it('authorizeOption accepts a function or nothing, and names the option otherwise', () => {
    const f = () => true;
    expect(authorizeOption(f)).toBe(f);
    expect(authorizeOption(undefined)).toBeUndefined();
    expect(() => authorizeOption('admin')).toThrow(`option 'authorize' must be a function of the upgrade request, got "admin"`);
  });
});
