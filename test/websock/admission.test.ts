import { describe, expect, it } from 'vitest';
import { admit } from '../../src/websock/admission.js';
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
