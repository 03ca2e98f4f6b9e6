import { describe, expect, it } from 'vitest';
import { checkOrigin, validateCheckOrigin, type CheckOriginOption } from '../../src/websock/origin.js';
import type { UpgradeRequest } from '../../src/websock/upgrade-validation.js';

function req(origin: string | undefined, host: string | null = 'localhost:4000'): UpgradeRequest {
  return { method: 'GET', httpVersion: '1.1', headers: { host: host ?? undefined, origin } };
}

function allowed(origin: string | undefined, option?: CheckOriginOption, host?: string | null): boolean {
  return checkOrigin(req(origin, host), option).ok;
}

describe('checkOrigin by default (same host)', () => {
  it('allows a page served by the same host and port', () => {
    expect(allowed('http://localhost:4000')).toBe(true);
    expect(allowed('https://LOCALHOST:4000')).toBe(true);
  });

  it('refuses a foreign origin with 403 and both names', () => {
    expect(checkOrigin(req('https://evil.example'))).toEqual({
      ok: false,
      status: 403,
      reason: `origin 'https://evil.example' is not allowed for host 'localhost:4000'`,
    });
  });

  it('refuses the same host on another port', () => {
    expect(allowed('http://localhost:4001')).toBe(false);
    expect(allowed('http://localhost')).toBe(false);
  });

  it("uses the origin scheme's default port when Host has none", () => {
    expect(allowed('https://example.com', true, 'example.com')).toBe(true);
    expect(allowed('https://example.com', true, 'example.com:443')).toBe(true);
    expect(allowed('https://example.com:8443', true, 'example.com')).toBe(false);
    expect(allowed('http://example.com', true, 'example.com:443')).toBe(false);
  });

  it('compares IPv6 hosts with their brackets', () => {
    expect(allowed('http://[::1]:4000', true, '[::1]:4000')).toBe(true);
    expect(allowed('http://[::2]:4000', true, '[::1]:4000')).toBe(false);
  });

  it('allows requests without an Origin header (non-browser clients)', () => {
    expect(checkOrigin(req(undefined))).toEqual({ ok: true });
    expect(allowed(undefined, true, null)).toBe(true);
  });

  it('refuses Origin: null', () => {
    expect(checkOrigin(req('null'))).toEqual({
      ok: false,
      status: 403,
      reason: `origin 'null' is not allowed for host 'localhost:4000'`,
    });
  });

  it('refuses an origin that does not parse, and a repeated Origin header', () => {
    expect(allowed('not a url')).toBe(false);
    expect(checkOrigin({ method: 'GET', httpVersion: '1.1', headers: { host: 'localhost:4000', origin: ['http://localhost:4000', 'https://evil.example'] } }).ok).toBe(false);
  });

  it('refuses when there is no Host to compare with', () => {
    expect(checkOrigin(req('http://localhost:4000', null))).toEqual({
      ok: false,
      status: 403,
      reason: `origin 'http://localhost:4000' is not allowed: the request has no 'host' header to compare it with`,
    });
  });

  it("reads HTTP/2's :authority when there is no Host", () => {
    const h2: UpgradeRequest = { method: 'CONNECT', httpVersion: '2.0', headers: { ':authority': 'example.com', origin: 'https://example.com' } };
    expect(checkOrigin(h2).ok).toBe(true);
  });
});

describe('checkOrigin with false', () => {
  it('allows any origin, null included', () => {
    expect(allowed('https://evil.example', false)).toBe(true);
    expect(allowed('null', false)).toBe(true);
  });
});

describe('checkOrigin with a list', () => {
  const list = validateCheckOrigin([
    'https://app.example.com',
    '//other.com',
    '//ported.com:888',
    '//*.example.net',
    'http://*.example.org',
  ]);

  it('allows an exact origin, with its default port', () => {
    expect(allowed('https://app.example.com', list)).toBe(true);
    expect(allowed('https://app.example.com:443', list)).toBe(true);
  });

  it('refuses another scheme or port for an exact origin', () => {
    expect(allowed('http://app.example.com', list)).toBe(false);
    expect(allowed('https://app.example.com:8443', list)).toBe(false);
  });

  it('refuses with the origin and host named', () => {
    expect(checkOrigin(req('https://evil.example'), list)).toEqual({
      ok: false,
      status: 403,
      reason: `origin 'https://evil.example' is not allowed for host 'localhost:4000'`,
    });
  });

  it('matches any scheme and port for //host', () => {
    expect(allowed('http://other.com', list)).toBe(true);
    expect(allowed('https://other.com:9000', list)).toBe(true);
    expect(allowed('https://sub.other.com', list)).toBe(false);
  });

  it('matches the given port for //host:port', () => {
    expect(allowed('http://ported.com:888', list)).toBe(true);
    expect(allowed('http://ported.com', list)).toBe(false);
  });

  it('matches a domain and its subdomains for a wildcard, on label boundaries only', () => {
    expect(allowed('https://a.example.net', list)).toBe(true);
    expect(allowed('https://a.b.example.net:1234', list)).toBe(true);
    expect(allowed('https://example.net', list)).toBe(true);
    expect(allowed('https://evilexample.net', list)).toBe(false);
  });

  it('keeps the scheme of a wildcard entry', () => {
    expect(allowed('http://x.example.org', list)).toBe(true);
    expect(allowed('https://x.example.org', list)).toBe(false);
  });

  it('refuses Origin: null', () => {
    expect(allowed('null', list)).toBe(false);
  });

  it('does not compare with Host', () => {
    expect(allowed('http://localhost:4000', list)).toBe(false);
  });

  it('accepts an unvalidated list too', () => {
    expect(allowed('https://a.example.com', ['//*.example.com'])).toBe(true);
  });
});

describe('checkOrigin with a function', () => {
  it('passes the raw origin and the request, and allows only on true', () => {
    const seen: [string, UpgradeRequest][] = [];
    const r = req('https://Trusted.example');
    const fn = (origin: string, request: UpgradeRequest): boolean => {
      seen.push([origin, request]);
      return origin === 'https://Trusted.example';
    };
    expect(checkOrigin(r, fn)).toEqual({ ok: true });
    expect(seen).toEqual([['https://Trusted.example', r]]);
    expect(checkOrigin(req('https://evil.example'), fn)).toMatchObject({ ok: false, status: 403 });
    expect(allowed('https://x', (() => 1) as unknown as CheckOriginOption)).toBe(false);
  });

  it('is not called without an Origin header', () => {
    let calls = 0;
    expect(allowed(undefined, () => ++calls > 0)).toBe(true);
    expect(calls).toBe(0);
  });

  it('may allow Origin: null', () => {
    expect(allowed('null', (o) => o === 'null')).toBe(true);
  });
});

describe('validateCheckOrigin', () => {
  it('returns booleans and functions as they are', () => {
    const fn = (): boolean => true;
    expect(validateCheckOrigin(true)).toBe(true);
    expect(validateCheckOrigin(false)).toBe(false);
    expect(validateCheckOrigin(fn)).toBe(fn);
  });

  it('returns a frozen copy of a list', () => {
    const input = ['//a.com'];
    const out = validateCheckOrigin(input);
    expect(out).toEqual(input);
    expect(out).not.toBe(input);
    expect(Object.isFrozen(out)).toBe(true);
  });

  it('rejects other types', () => {
    expect(() => validateCheckOrigin('https://a.com')).toThrow(
      new TypeError(`option 'checkOrigin' must be true, false, a list of origins or a function (origin, req) => boolean, got "https://a.com"`),
    );
    expect(() => checkOrigin(req('https://a.com'), 'https://a.com' as unknown as CheckOriginOption)).toThrow(TypeError);
  });

  it('rejects a non-string entry', () => {
    expect(() => validateCheckOrigin(['//a.com', 5])).toThrow(new TypeError(`option 'checkOrigin' must list origins as strings, got 5`));
  });

  it('rejects an entry without a host and says how to write it', () => {
    expect(() => validateCheckOrigin(['example.com'])).toThrow(
      new TypeError(
        `option 'checkOrigin' has an origin without a parsable host: "example.com"; write it as 'https://example.com' or '//example.com'`,
      ),
    );
    expect(() => validateCheckOrigin(['https://'])).toThrow(/without a parsable host/);
    expect(() => validateCheckOrigin(['//a.com:99999'])).toThrow(/without a parsable host/);
  });

  it('rejects a wildcard anywhere but the front', () => {
    expect(() => validateCheckOrigin(['//a.*.com'])).toThrow(
      new TypeError(`option 'checkOrigin' has a misplaced wildcard in "//a.*.com": only a leading '*.' is allowed`),
    );
    expect(() => validateCheckOrigin(['//*.'])).toThrow(/misplaced wildcard/);
  });

  it('names the option it validates', () => {
    expect(() => validateCheckOrigin(1, 'server.checkOrigin')).toThrow(/^option 'server.checkOrigin' must be/);
  });
});
