import { describe, expect, it } from 'vitest';
import { bunDeflateConfig, negotiate } from '../../../src/adapters/bun/deflate.js';
import { normalizeOptions, type DeflateOptions } from '../../../src/websock/options.js';

const deflate = (d: DeflateOptions) => normalizeOptions({ compress: true, deflateOptions: d }).deflateOptions;

describe("deflateOptions as Bun's compressor presets", () => {
  for (const [options, compress, decompress] of [
    [{}, 'dedicated', 'dedicated'],
    [{ serverNoContextTakeover: true }, 'shared', 'dedicated'],
    [{ clientNoContextTakeover: true }, 'dedicated', 'shared'],
    [{ serverMaxWindowBits: 15 }, 'dedicated', 'dedicated'],
    [{ serverMaxWindowBits: 10 }, '8KB', 'dedicated'],
    [{ serverMaxWindowBits: 9 }, '4KB', 'dedicated'],
    [{ serverMaxWindowBits: 8 }, '4KB', 'dedicated'],
    [{ clientMaxWindowBits: 13 }, 'dedicated', '8KB'],
    [{ clientMaxWindowBits: 11 }, 'dedicated', '3KB'],
    [{ clientMaxWindowBits: 9 }, 'dedicated', '3KB'],
    [{ serverNoContextTakeover: true, serverMaxWindowBits: 10 }, 'shared', 'dedicated'],
  ] as const) {
    it(`${JSON.stringify(options)} becomes compress '${compress}', decompress '${decompress}'`, () => {
      expect(bunDeflateConfig(deflate(options))).toEqual({ compress, decompress });
    });
  }
});

describe('what Bun negotiates', () => {
  it('nothing without compress or without an offer', () => {
    expect(negotiate('permessage-deflate', false, deflate({})).compressed).toBe(false);
    expect(negotiate(null, true, deflate({})).compressed).toBe(false);
    expect(negotiate('x-webkit-deflate-frame', true, deflate({})).compressed).toBe(false);
  });

  it('a plain offer, keeping context unless the server or the client says otherwise', () => {
    expect(negotiate('permessage-deflate', true, deflate({}))).toEqual({ compressed: true, serverNoContextTakeover: false });
    expect(negotiate('permessage-deflate', true, deflate({ serverNoContextTakeover: true }))).toEqual({ compressed: true, serverNoContextTakeover: true });
    expect(negotiate('permessage-deflate; server_no_context_takeover', true, deflate({}))).toEqual({ compressed: true, serverNoContextTakeover: true });
  });

  it('declines a smaller server window from the shared compressor, but not from a dedicated one', () => {
    expect(negotiate('permessage-deflate; server_max_window_bits=10', true, deflate({ serverNoContextTakeover: true })).compressed).toBe(false);
    expect(negotiate('permessage-deflate; server_max_window_bits=15', true, deflate({ serverNoContextTakeover: true })).compressed).toBe(true);
    expect(negotiate('permessage-deflate; server_max_window_bits=8', true, deflate({})).compressed).toBe(true);
  });

  it('declines a smaller server window without context takeover, whichever side asked for no context', () => {
    expect(negotiate('permessage-deflate; server_no_context_takeover; server_max_window_bits=9', true, deflate({})).compressed).toBe(false);
    expect(negotiate('permessage-deflate; server_max_window_bits=8; server_no_context_takeover', true, deflate({})).compressed).toBe(false);
    expect(negotiate('permessage-deflate; server_no_context_takeover; server_max_window_bits=15', true, deflate({}))).toEqual({ compressed: true, serverNoContextTakeover: true });
  });

  for (const offer of [
    'permessage-deflate; foo',
    'permessage-deflate; server_max_window_bits',
    'permessage-deflate; server_max_window_bits=16',
    'permessage-deflate; server_max_window_bits=010',
    'permessage-deflate; server_max_window_bits= 10',
    'permessage-deflate; client_max_window_bits=7',
    'permessage-deflate; server_no_context_takeover=1',
    'permessage-deflate; client_no_context_takeover; client_no_context_takeover',
  ]) {
    it(`declines '${offer}'`, () => {
      expect(negotiate(offer, true, deflate({})).compressed).toBe(false);
    });
  }

  it('takes the first offer it can accept', () => {
    expect(negotiate('permessage-deflate; server_max_window_bits=10, permessage-deflate', true, deflate({ serverNoContextTakeover: true })).compressed).toBe(true);
    expect(negotiate('foo, permessage-deflate; client_max_window_bits="12"', true, deflate({})).compressed).toBe(true);
  });
});
