import { describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS, normalizeOptions, selectSubprotocol } from '../../src/websock/options.js';
import type { UpgradeRequest } from '../../src/websock/upgrade-validation.js';

function typeErrorOf(input: unknown, context?: string): string {
  try {
    normalizeOptions(input, context);
  } catch (e) {
    expect(e).toBeInstanceOf(TypeError);
    return (e as TypeError).message;
  }
  throw new Error('expected normalizeOptions to throw');
}

describe('normalizeOptions defaults', () => {
  it('gives DEFAULT_OPTIONS for undefined, null and {}', () => {
    expect(normalizeOptions(undefined)).toBe(DEFAULT_OPTIONS);
    expect(normalizeOptions(null)).toBe(DEFAULT_OPTIONS);
    expect(normalizeOptions({})).toEqual(DEFAULT_OPTIONS);
  });

  it.each([
    ['timeout', 60_000],
    ['compress', false],
    ['maxFrameSize', 10_000_000],
    ['maxMessageTime', 60_000],
    ['validateUtf8', true],
    ['maxHeapSize', { size: 0, kill: true, errorLogger: true }],
    ['fullsweepAfter', 65535],
    ['activeN', 100],
    ['highWaterMark', 1_048_576],
    ['lowWaterMark', 262_144],
    ['maxBufferedAmount', 16_777_216],
    ['earlyValidateUpgrade', true],
    ['checkOrigin', true],
    ['subprotocols', []],
    ['headers', {}],
    ['shutdownTimeout', 15_000],
  ] as const)('defaults %s to %j', (name, value) => {
    expect(normalizeOptions({})[name]).toEqual(value);
  });

  it.each([
    ['level', 6],
    ['memLevel', 8],
    ['strategy', 'default'],
    ['serverNoContextTakeover', false],
    ['clientNoContextTakeover', false],
    ['serverMaxWindowBits', undefined],
    ['clientMaxWindowBits', undefined],
    ['threshold', 1024],
  ] as const)('defaults deflateOptions.%s to %j', (name, value) => {
    expect(normalizeOptions({ deflateOptions: {} }).deflateOptions[name]).toBe(value);
  });

  it('has a default for every option', () => {
    expect(Object.keys(DEFAULT_OPTIONS)).toHaveLength(17);
  });

  it('is deeply frozen', () => {
    expect(Object.isFrozen(DEFAULT_OPTIONS)).toBe(true);
    expect(Object.isFrozen(DEFAULT_OPTIONS.deflateOptions)).toBe(true);
    expect(Object.isFrozen(DEFAULT_OPTIONS.maxHeapSize)).toBe(true);
    expect(Object.isFrozen(DEFAULT_OPTIONS.subprotocols)).toBe(true);
    expect(Object.isFrozen(DEFAULT_OPTIONS.headers)).toBe(true);
  });

  it('treats an option set to undefined as unset', () => {
    expect(normalizeOptions({ timeout: undefined, compress: undefined })).toEqual(DEFAULT_OPTIONS);
  });

  it('keeps given values and fills the rest', () => {
    const o = normalizeOptions({ timeout: 120_000, compress: true, activeN: 5 });
    expect(o.timeout).toBe(120_000);
    expect(o.compress).toBe(true);
    expect(o.activeN).toBe(5);
    expect(o.maxFrameSize).toBe(10_000_000);
    expect(Object.isFrozen(o)).toBe(true);
  });
});

describe('normalizeOptions normalisation', () => {
  it('takes the low-water mark as a quarter of a high-water mark given alone, and raises the limit to a high-water mark over it', () => {
    expect(normalizeOptions({ highWaterMark: 64_000 })).toMatchObject({ highWaterMark: 64_000, lowWaterMark: 16_000, maxBufferedAmount: 16_777_216 });
    expect(normalizeOptions({ highWaterMark: 32 * 1024 * 1024 })).toMatchObject({ lowWaterMark: 8 * 1024 * 1024, maxBufferedAmount: 32 * 1024 * 1024 });
  });

  it('reads 0 as no high-water mark and no limit; the limit may stand without the mark', () => {
    expect(normalizeOptions({ highWaterMark: 0, maxBufferedAmount: 0 })).toMatchObject({ highWaterMark: Infinity, maxBufferedAmount: Infinity });
    expect(normalizeOptions({ highWaterMark: Infinity, maxBufferedAmount: 1_000 })).toMatchObject({ highWaterMark: Infinity, maxBufferedAmount: 1_000 });
  });

  it('turns a timeout of 0 or Infinity into Infinity (no timeout)', () => {
    expect(normalizeOptions({ timeout: 0 }).timeout).toBe(Infinity);
    expect(normalizeOptions({ timeout: Infinity }).timeout).toBe(Infinity);
  });

  it('turns a maxFrameSize of 0 or Infinity into Infinity (no limit)', () => {
    expect(normalizeOptions({ maxFrameSize: 0 }).maxFrameSize).toBe(Infinity);
    expect(normalizeOptions({ maxFrameSize: Infinity }).maxFrameSize).toBe(Infinity);
    expect(normalizeOptions({ maxFrameSize: 65_536 }).maxFrameSize).toBe(65_536);
  });

  it('turns a maxMessageTime of 0 or Infinity into Infinity (no bound)', () => {
    expect(normalizeOptions({ maxMessageTime: 0 }).maxMessageTime).toBe(Infinity);
    expect(normalizeOptions({ maxMessageTime: Infinity }).maxMessageTime).toBe(Infinity);
    expect(normalizeOptions({ maxMessageTime: 5_000 }).maxMessageTime).toBe(5_000);
  });

  it('keeps a shutdownTimeout of 0 as "do not wait"', () => {
    expect(normalizeOptions({ shutdownTimeout: 0 }).shutdownTimeout).toBe(0);
    expect(normalizeOptions({ shutdownTimeout: Infinity }).shutdownTimeout).toBe(Infinity);
  });

  it('expands maxHeapSize bytes into the map form', () => {
    expect(normalizeOptions({ maxHeapSize: 1_000_000 }).maxHeapSize).toEqual({ size: 1_000_000, kill: true, errorLogger: true });
    expect(normalizeOptions({ maxHeapSize: { size: 10, kill: false } }).maxHeapSize).toEqual({
      size: 10,
      kill: false,
      errorLogger: true,
    });
  });

  it('fills deflate defaults around given values', () => {
    const d = normalizeOptions({ deflateOptions: { level: 9, serverMaxWindowBits: 10, strategy: 'rle' } }).deflateOptions;
    expect(d).toEqual({ ...DEFAULT_OPTIONS.deflateOptions, level: 9, serverMaxWindowBits: 10, strategy: 'rle' });
  });

  it('freezes copies of lists and header maps', () => {
    const protocols = ['chat'];
    const headers = { 'X-Server': 'beamsock' };
    const o = normalizeOptions({ subprotocols: protocols, headers, checkOrigin: ['//a.com'] });
    expect(o.subprotocols).toEqual(['chat']);
    expect(o.subprotocols).not.toBe(protocols);
    expect(Object.isFrozen(o.subprotocols)).toBe(true);
    expect(o.headers).toEqual(headers);
    expect(Object.isFrozen(o.headers)).toBe(true);
    expect(Object.isFrozen(o.checkOrigin)).toBe(true);
  });

  it('keeps functions as they are', () => {
    const pick = (offered: readonly string[]): string | false => offered[0] ?? false;
    const origin = (): boolean => true;
    const o = normalizeOptions({ subprotocols: pick, checkOrigin: origin });
    expect(o.subprotocols).toBe(pick);
    expect(o.checkOrigin).toBe(origin);
  });
});

describe('normalizeOptions errors', () => {
  it('rejects a non-object', () => {
    expect(typeErrorOf(5)).toBe('upgrade options must be an object, got 5');
    expect(typeErrorOf([1])).toBe('upgrade options must be an object, got [1]');
  });

  it('rejects an unknown key with a did-you-mean', () => {
    expect(typeErrorOf({ timout: 1 })).toBe(`unknown option 'timout' in upgrade options (did you mean 'timeout'?)`);
    expect(typeErrorOf({ compresss: true })).toBe(`unknown option 'compresss' in upgrade options (did you mean 'compress'?)`);
    expect(typeErrorOf({ activen: 1 })).toBe(`unknown option 'activen' in upgrade options (did you mean 'activeN'?)`);
  });

  it("suggests the camelCase name for websock_adapter's snake_case", () => {
    expect(typeErrorOf({ max_frame_size: 1 })).toBe(`unknown option 'max_frame_size' in upgrade options (did you mean 'maxFrameSize'?)`);
    expect(typeErrorOf({ early_validate_upgrade: false })).toMatch(/did you mean 'earlyValidateUpgrade'\?/);
  });

  it('lists the known options when nothing is close', () => {
    expect(typeErrorOf({ frobnicate: 1 })).toBe(
      `unknown option 'frobnicate' in upgrade options (known: timeout, compress, deflateOptions, maxFrameSize, maxMessageTime, validateUtf8, ` +
        `maxHeapSize, fullsweepAfter, activeN, highWaterMark, lowWaterMark, maxBufferedAmount, earlyValidateUpgrade, checkOrigin, subprotocols, headers, shutdownTimeout)`,
    );
  });

  it('names the given context', () => {
    expect(typeErrorOf({ timout: 1 }, 'server options')).toBe(`unknown option 'timout' in server options (did you mean 'timeout'?)`);
  });

  it.each([
    [{ timeout: '60s' }, `option 'timeout' must be a non-negative number of milliseconds, got "60s"`],
    [{ timeout: -1 }, `option 'timeout' must be a non-negative number of milliseconds, got -1`],
    [{ timeout: NaN }, `option 'timeout' must be a non-negative number of milliseconds, got NaN`],
    [
      { timeout: 3_000_000_000 },
      `option 'timeout' must be at most 2147483647 ms (about 24.8 days; longer timers overflow) or Infinity, got 3000000000`,
    ],
    [{ maxMessageTime: '1m' }, `option 'maxMessageTime' must be a non-negative number of milliseconds, got "1m"`],
    [{ maxMessageTime: -5 }, `option 'maxMessageTime' must be a non-negative number of milliseconds, got -5`],
    [
      { maxMessageTime: 2 ** 31 },
      `option 'maxMessageTime' must be at most 2147483647 ms (about 24.8 days; longer timers overflow) or Infinity, got 2147483648`,
    ],
    [{ shutdownTimeout: null }, `option 'shutdownTimeout' must be a non-negative number of milliseconds, got null`],
    [{ compress: 'yes' }, `option 'compress' must be a boolean, got "yes"`],
    [{ validateUtf8: 1 }, `option 'validateUtf8' must be a boolean, got 1`],
    [{ earlyValidateUpgrade: 'false' }, `option 'earlyValidateUpgrade' must be a boolean, got "false"`],
    [{ maxFrameSize: -1 }, `option 'maxFrameSize' must be a non-negative integer of bytes (0 or Infinity for no limit), got -1`],
    [{ maxFrameSize: 1.5 }, `option 'maxFrameSize' must be a non-negative integer of bytes (0 or Infinity for no limit), got 1.5`],
    [{ fullsweepAfter: -1 }, `option 'fullsweepAfter' must be a non-negative integer, got -1`],
    [{ activeN: 0 }, `option 'activeN' must be a positive integer, got 0`],
    [{ activeN: 2.5 }, `option 'activeN' must be a positive integer, got 2.5`],
    [{ highWaterMark: -1 }, `option 'highWaterMark' must be a non-negative integer of bytes (0 or Infinity for no limit), got -1`],
    [{ highWaterMark: '1MB' }, `option 'highWaterMark' must be a non-negative integer of bytes (0 or Infinity for no limit), got "1MB"`],
    [{ lowWaterMark: 0.5 }, `option 'lowWaterMark' must be a non-negative integer, got 0.5`],
    [{ maxBufferedAmount: -1 }, `option 'maxBufferedAmount' must be a non-negative integer of bytes (0 or Infinity for no limit), got -1`],
    [
      { highWaterMark: 1000, lowWaterMark: 1000 },
      `option 'lowWaterMark' (1000) must be under 'highWaterMark' (1000): reading resumes once unwritten bytes drain to it`,
    ],
    [
      { highWaterMark: 2000, maxBufferedAmount: 1000 },
      `option 'maxBufferedAmount' (1000) must be at least 'highWaterMark' (2000): a connection is paused at the high-water mark and closed only past the limit`,
    ],
    [{ maxHeapSize: -5 }, `option 'maxHeapSize' must be a non-negative integer of bytes or { size, kill?, errorLogger? }, got -5`],
    [{ maxHeapSize: 'big' }, `option 'maxHeapSize' must be a non-negative integer of bytes or { size, kill?, errorLogger? }, got "big"`],
    [{ maxHeapSize: { kill: true } }, `option 'maxHeapSize.size' must be a non-negative integer of bytes, got undefined`],
    [{ maxHeapSize: { size: 1, kill: 'yes' } }, `option 'maxHeapSize.kill' must be a boolean, got "yes"`],
    [{ maxHeapSize: { size: 1, errorLogger: 0 } }, `option 'maxHeapSize.errorLogger' must be a boolean, got 0`],
    [{ maxHeapSize: { size: 1, error_logger: true } }, `unknown option 'error_logger' in maxHeapSize (did you mean 'errorLogger'?)`],
    [{ deflateOptions: 'best' }, `option 'deflateOptions' must be an object, got "best"`],
    [{ deflateOptions: { lvl: 1 } }, `unknown option 'lvl' in deflateOptions (did you mean 'level'?)`],
    [{ deflateOptions: { level: 10 } }, `option 'deflateOptions.level' must be an integer from 0 to 9, got 10`],
    [{ deflateOptions: { memLevel: 0 } }, `option 'deflateOptions.memLevel' must be an integer from 1 to 9, got 0`],
    [
      { deflateOptions: { strategy: 'huffman_only' } },
      `option 'deflateOptions.strategy' must be one of 'default', 'filtered', 'huffmanOnly', 'rle', 'fixed', got "huffman_only"`,
    ],
    [{ deflateOptions: { serverNoContextTakeover: 1 } }, `option 'deflateOptions.serverNoContextTakeover' must be a boolean, got 1`],
    [{ deflateOptions: { clientNoContextTakeover: 'no' } }, `option 'deflateOptions.clientNoContextTakeover' must be a boolean, got "no"`],
    [{ deflateOptions: { serverMaxWindowBits: 7 } }, `option 'deflateOptions.serverMaxWindowBits' must be an integer from 8 to 15, got 7`],
    [{ deflateOptions: { clientMaxWindowBits: 16 } }, `option 'deflateOptions.clientMaxWindowBits' must be an integer from 8 to 15, got 16`],
    [{ deflateOptions: { threshold: -1 } }, `option 'deflateOptions.threshold' must be a non-negative integer, got -1`],
    [
      { checkOrigin: 'yes' },
      `option 'checkOrigin' must be true, false, a list of origins or a function (origin, req) => boolean, got "yes"`,
    ],
    [
      { checkOrigin: ['example.com'] },
      `option 'checkOrigin' has an origin without a parsable host: "example.com"; write it as 'https://example.com' or '//example.com'`,
    ],
    [
      { subprotocols: 'chat' },
      `option 'subprotocols' must be a list of subprotocol names or a function (offered, req) => string | false, got "chat"`,
    ],
    [
      { subprotocols: ['a b'] },
      `option 'subprotocols' has an invalid name "a b": use visible ASCII without separators such as spaces or commas (RFC 6455 §4.1)`,
    ],
    [{ headers: [] }, `option 'headers' must be an object, got []`],
    [{ headers: { 'bad name': 'x' } }, `option 'headers' has an invalid header name "bad name"`],
    [{ headers: { 'X-A': 1 } }, `option 'headers' value for 'X-A' must be a string without CR, LF or NUL, got 1`],
    [{ headers: { 'X-A': 'a\r\nb' } }, `option 'headers' value for 'X-A' must be a string without CR, LF or NUL, got "a\\r\\nb"`],
    [
      { headers: { 'Sec-WebSocket-Accept': 'x' } },
      `option 'headers' cannot set 'Sec-WebSocket-Accept': the server sets it during the handshake`,
    ],
    [
      { headers: { 'sec-websocket-protocol': 'x' } },
      `option 'headers' cannot set 'sec-websocket-protocol': the server sets it during the handshake (use the 'subprotocols' option)`,
    ],
  ])('rejects %j', (input, message) => {
    expect(typeErrorOf(input)).toBe(message);
  });
});

describe('selectSubprotocol', () => {
  const req: UpgradeRequest = { method: 'GET', httpVersion: '1.1', headers: {} };

  it("picks the client's first offer that the server supports", () => {
    expect(selectSubprotocol('mqtt, graphql-ws', ['graphql-ws', 'mqtt'], req)).toBe('mqtt');
    expect(selectSubprotocol(' v2.chat ,v1.chat', ['v1.chat'], req)).toBe('v1.chat');
  });

  it('reads an array of header values', () => {
    expect(selectSubprotocol(['a', 'b, c'], ['c'], req)).toBe('c');
  });

  it('compares names case-sensitively', () => {
    expect(selectSubprotocol('Chat', ['chat'], req)).toBeUndefined();
  });

  it('gives undefined when nothing is offered or nothing matches', () => {
    expect(selectSubprotocol(undefined, ['chat'], req)).toBeUndefined();
    expect(selectSubprotocol(' , ', ['chat'], req)).toBeUndefined();
    expect(selectSubprotocol('other', ['chat'], req)).toBeUndefined();
    expect(selectSubprotocol('chat', DEFAULT_OPTIONS.subprotocols, req)).toBeUndefined();
  });

  it('lets a function choose from the parsed offers', () => {
    const calls: [readonly string[], UpgradeRequest][] = [];
    const choose = (offered: readonly string[], r: UpgradeRequest): string | false => {
      calls.push([offered, r]);
      return offered[1] ?? false;
    };
    expect(selectSubprotocol('a, b', choose, req)).toBe('b');
    expect(calls).toEqual([[['a', 'b'], req]]);
    expect(selectSubprotocol('a', choose, req)).toBeUndefined();
  });

  it('does not call the function when nothing is offered', () => {
    let called = false;
    expect(selectSubprotocol(undefined, () => ((called = true), 'x'), req)).toBeUndefined();
    expect(called).toBe(false);
  });

  it('rejects a function result the client did not offer', () => {
    expect(() => selectSubprotocol('a, b', () => 'c', req)).toThrow(
      new TypeError(`the 'subprotocols' function returned "c", which the client did not offer; return one of ["a","b"] or false`),
    );
    expect(() => selectSubprotocol('a', (() => undefined) as unknown as () => string, req)).toThrow(/returned undefined/);
  });
});
