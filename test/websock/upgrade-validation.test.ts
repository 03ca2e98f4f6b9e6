import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  UpgradeError,
  acceptKey,
  fromFetchRequest,
  renderRefusal,
  validateUpgrade,
  validateUpgradeOrThrow,
  type UpgradeRequest,
} from '../../src/websock/upgrade-validation.js';

type Headers = UpgradeRequest['headers'];

function http1(headers: Headers = {}, method = 'GET'): UpgradeRequest {
  return {
    method,
    httpVersion: '1.1',
    headers: {
      host: 'server.example.com',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version': '13',
      ...headers,
    },
  };
}

function reasonOf(req: UpgradeRequest): string {
  const r = validateUpgrade(req);
  if (r.ok) throw new Error('expected a refusal');
  return r.reason;
}

describe('validateUpgrade on HTTP/1.1', () => {
  it('accepts a well-formed request with mixed-case header values', () => {
    expect(validateUpgrade(http1({ upgrade: 'WeBsOcKeT', connection: 'UpGrAdE' }))).toEqual({ ok: true });
  });

  it('accepts tokens inside comma lists, as browsers send them', () => {
    expect(validateUpgrade(http1({ connection: 'keep-alive, Upgrade' }))).toEqual({ ok: true });
    expect(validateUpgrade(http1({ connection: ['keep-alive', 'upgrade'] }))).toEqual({ ok: true });
  });

  it('refuses other methods with the method named', () => {
    expect(validateUpgrade(http1({}, 'POST'))).toEqual({ ok: false, status: 400, reason: 'HTTP method POST unsupported' });
  });

  it('refuses a missing or empty host', () => {
    expect(reasonOf(http1({ host: undefined }))).toBe(`'host' header is absent`);
    expect(reasonOf(http1({ host: '' }))).toBe(`'host' header is absent`);
  });

  it('refuses a connection header without upgrade, showing the values as sent', () => {
    expect(reasonOf(http1({ connection: 'close' }))).toBe(`'connection' header must contain 'upgrade', got ["close"]`);
    expect(reasonOf(http1({ connection: 'Keep-Alive, Close' }))).toBe(
      `'connection' header must contain 'upgrade', got ["Keep-Alive, Close"]`,
    );
    expect(reasonOf(http1({ connection: ['keep-alive', 'close'] }))).toBe(
      `'connection' header must contain 'upgrade', got ["keep-alive", "close"]`,
    );
  });

  it('reports an absent contains-checked header as got []', () => {
    expect(reasonOf(http1({ connection: undefined }))).toBe(`'connection' header must contain 'upgrade', got []`);
  });

  it('does not accept a token that only contains the needle', () => {
    expect(reasonOf(http1({ connection: 'upgrades' }))).toBe(`'connection' header must contain 'upgrade', got ["upgrades"]`);
  });

  it('refuses an upgrade to another protocol', () => {
    expect(reasonOf(http1({ upgrade: 'h2c' }))).toBe(`'upgrade' header must contain 'websocket', got ["h2c"]`);
  });

  it('refuses a missing key', () => {
    expect(reasonOf(http1({ 'sec-websocket-key': undefined }))).toBe(`'sec-websocket-key' header is absent`);
  });

  it('refuses a key that is not base64 of 16 bytes', () => {
    expect(reasonOf(http1({ 'sec-websocket-key': 'abc' }))).toBe(
      `'sec-websocket-key' header must be a base64-encoded 16-byte value, got "abc"`,
    );
    // 18 bytes of base64 is well-formed base64 but the wrong length
    expect(reasonOf(http1({ 'sec-websocket-key': 'AAAAAAAAAAAAAAAAAAAAAAAA' }))).toMatch(/16-byte value/);
    expect(reasonOf(http1({ 'sec-websocket-key': ['dGhlIHNhbXBsZSBub25jZQ==', 'dGhlIHNhbXBsZSBub25jZQ=='] }))).toBe(
      `'sec-websocket-key' header must be a base64-encoded 16-byte value, got "dGhlIHNhbXBsZSBub25jZQ==, dGhlIHNhbXBsZSBub25jZQ=="`,
    );
  });

  it('answers a wrong version with 426 naming version 13', () => {
    expect(validateUpgrade(http1({ 'sec-websocket-version': '12' }))).toEqual({
      ok: false,
      status: 426,
      reason: `'sec-websocket-version' header must equal '13', got ["12"]`,
      headers: { 'Sec-WebSocket-Version': '13', Upgrade: 'websocket' },
    });
  });

  it('answers a missing version with 426 and got []', () => {
    const r = validateUpgrade(http1({ 'sec-websocket-version': undefined }));
    expect(r).toMatchObject({ ok: false, status: 426, reason: `'sec-websocket-version' header must equal '13', got []` });
  });

  it('refuses a repeated version header, joined or as an array', () => {
    expect(reasonOf(http1({ 'sec-websocket-version': '13, 13' }))).toBe(
      `'sec-websocket-version' header must equal '13', got ["13, 13"]`,
    );
    expect(reasonOf(http1({ 'sec-websocket-version': ['13', '13'] }))).toBe(
      `'sec-websocket-version' header must equal '13', got ["13", "13"]`,
    );
  });

  it('shows equals-checked values lowercased', () => {
    expect(reasonOf(http1({ 'sec-websocket-version': 'ABC' }))).toBe(`'sec-websocket-version' header must equal '13', got ["abc"]`);
  });

  it('reports the first failing check when several fail', () => {
    expect(reasonOf(http1({ host: undefined, connection: 'close' }, 'POST'))).toBe('HTTP method POST unsupported');
    expect(reasonOf(http1({ host: undefined, connection: 'close' }))).toBe(`'host' header is absent`);
    expect(reasonOf(http1({ connection: 'close', upgrade: 'h2c' }))).toMatch(/^'connection'/);
    expect(reasonOf(http1({ upgrade: 'h2c', 'sec-websocket-key': undefined }))).toMatch(/^'upgrade'/);
    expect(reasonOf(http1({ 'sec-websocket-key': undefined, 'sec-websocket-version': '12' }))).toBe(
      `'sec-websocket-key' header is absent`,
    );
    expect(reasonOf(http1({ 'sec-websocket-key': 'abc', 'sec-websocket-version': '12' }))).toMatch(/16-byte/);
  });

  it('escapes quotes and control characters in the got list as Elixir inspect does', () => {
    expect(reasonOf(http1({ upgrade: 'a"b\\c\t#{x}' }))).toBe(
      `'upgrade' header must contain 'websocket', got ["a\\"b\\\\c\\t\\#{x}"]`,
    );
  });
});

describe('validateUpgrade on other HTTP versions', () => {
  it('refuses HTTP/1.0 with the HTTP/ prefix', () => {
    expect(validateUpgrade({ ...http1(), httpVersion: '1.0' })).toEqual({
      ok: false,
      status: 400,
      reason: 'HTTP version HTTP/1.0 unsupported',
    });
  });

  it('names HTTP/3 without a minor version', () => {
    expect(reasonOf({ ...http1(), httpVersion: '3.0' })).toBe('HTTP version HTTP/3 unsupported');
  });

  it('accepts an HTTP/2 extended CONNECT with version 13 and no HTTP/1.1 headers', () => {
    expect(validateUpgrade({ method: 'CONNECT', httpVersion: '2.0', headers: { 'sec-websocket-version': '13' } })).toEqual({
      ok: true,
    });
  });

  it('refuses an HTTP/2 GET', () => {
    expect(reasonOf({ method: 'GET', httpVersion: '2.0', headers: { 'sec-websocket-version': '13' } })).toBe(
      'HTTP method GET unsupported',
    );
  });

  it('refuses a wrong HTTP/2 version with 400, since 426 is HTTP/1.1 only', () => {
    expect(validateUpgrade({ method: 'CONNECT', httpVersion: '2.0', headers: { 'sec-websocket-version': '12' } })).toEqual({
      ok: false,
      status: 400,
      reason: `'sec-websocket-version' header must equal '13', got ["12"]`,
      headers: { 'Sec-WebSocket-Version': '13' },
    });
  });
});

describe('validateUpgradeOrThrow', () => {
  it('returns quietly for a valid request', () => {
    expect(validateUpgradeOrThrow(http1())).toBeUndefined();
  });

  it('throws an UpgradeError carrying reason, status and headers', () => {
    let caught: unknown;
    try {
      validateUpgradeOrThrow(http1({ 'sec-websocket-version': '8' }));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(UpgradeError);
    const e = caught as UpgradeError;
    expect(e.name).toBe('UpgradeError');
    expect(e.message).toBe(`'sec-websocket-version' header must equal '13', got ["8"]`);
    expect(e.reason).toBe(e.message);
    expect(e.status).toBe(426);
    expect(e.headers).toEqual({ 'Sec-WebSocket-Version': '13', Upgrade: 'websocket' });
  });

  it('throws with the method message for a POST', () => {
    expect(() => validateUpgradeOrThrow(http1({}, 'POST'))).toThrow(new UpgradeError({ ok: false, status: 400, reason: 'HTTP method POST unsupported' }));
  });
});

describe('acceptKey', () => {
  it('computes the RFC 6455 §1.3 example', () => {
    expect(acceptKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });
});

describe('request shapes', () => {
  it('takes a node IncomingMessage as it is', () => {
    const req = new IncomingMessage(new Socket());
    req.method = 'GET';
    req.httpVersion = '1.1';
    req.headers = { host: 'h' };
    const asUpgrade: UpgradeRequest = req;
    expect(reasonOf(asUpgrade)).toBe(`'connection' header must contain 'upgrade', got []`);
  });

  it('converts a Fetch Request, assuming HTTP/1.1 and lower-case names', () => {
    const req = new Request('http://server.example.com/ws', {
      headers: {
        Host: 'server.example.com',
        Upgrade: 'websocket',
        Connection: 'Upgrade',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version': '13',
      },
    });
    const converted = fromFetchRequest(req);
    expect(converted.httpVersion).toBe('1.1');
    expect(converted.method).toBe('GET');
    expect(converted.headers['sec-websocket-key']).toBe('dGhlIHNhbXBsZSBub25jZQ==');
    expect(validateUpgrade(converted)).toEqual({ ok: true });
  });

  it('sees a repeated Fetch header as one joined value', () => {
    const headers = new Headers();
    headers.append('sec-websocket-version', '13');
    headers.append('sec-websocket-version', '13');
    const converted = fromFetchRequest({ method: 'GET', headers });
    expect(converted.headers['sec-websocket-version']).toBe('13, 13');
  });
});

describe('renderRefusal', () => {
  it('renders a plain-text response that closes the connection', () => {
    expect(renderRefusal({ status: 400, reason: `'host' header is absent` })).toBe(
      'HTTP/1.1 400 Bad Request\r\n' +
        'Connection: close\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        'Content-Length: 23\r\n' +
        '\r\n' +
        `'host' header is absent`,
    );
  });

  it('adds extra headers and lists Upgrade in Connection for a 426', () => {
    const r = validateUpgrade(http1({ 'sec-websocket-version': '12' }));
    if (r.ok) throw new Error('expected a refusal');
    const text = renderRefusal(r);
    const [head, body] = text.split('\r\n\r\n');
    expect(head!.split('\r\n')).toEqual([
      'HTTP/1.1 426 Upgrade Required',
      'Connection: Upgrade, close',
      'Content-Type: text/plain; charset=utf-8',
      `Content-Length: ${r.reason.length}`,
      'Sec-WebSocket-Version: 13',
      'Upgrade: websocket',
    ]);
    expect(body).toBe(r.reason);
  });

  it('counts Content-Length in UTF-8 bytes', () => {
    const text = renderRefusal({ status: 403, reason: 'é' });
    expect(text).toContain('HTTP/1.1 403 Forbidden\r\n');
    expect(text).toContain('Content-Length: 2\r\n');
  });

  it('renders an UpgradeError directly', () => {
    const e = new UpgradeError({ ok: false, status: 400, reason: 'HTTP method PUT unsupported' });
    expect(renderRefusal(e).endsWith('\r\n\r\nHTTP method PUT unsupported')).toBe(true);
  });

  it('refuses header text that would split the response', () => {
    expect(() => renderRefusal({ status: 400, reason: 'x', headers: { 'X-A': 'a\r\nSet-Cookie: b' } })).toThrow(
      `refusal header 'X-A' has a value with CR, LF or NUL: "a\\r\\nSet-Cookie: b"`,
    );
    expect(() => renderRefusal({ status: 400, reason: 'x', headers: { 'X A': 'a' } })).toThrow(
      'refusal header name "X A" is not an HTTP token',
    );
  });
});

describe('case-insensitive header tokens are ASCII-only', () => {
  it('accepts any ASCII case of upgrade and websocket', () => {
    expect(validateUpgrade(http1({ connection: 'UpGrAdE', upgrade: 'WEBSOCKET' }))).toEqual({ ok: true });
  });

  it('refuses a token that only matches after Unicode case folding (KELVIN SIGN for k)', () => {
    expect(reasonOf(http1({ upgrade: 'websoc\u212aet' }))).toBe(`'upgrade' header must contain 'websocket', got ["websoc\u212aet"]`);
  });
});
