import { describe, expect, it } from 'vitest';
import { normalizeOptions, type DeflateOptions } from '../../src/websock/options.js';
import { negotiateDeflate } from '../../src/websock/permessage-deflate.js';
import { AUTOBAHN_OFFERS } from '../support/deflate-offers.js';

const deflate = (d: DeflateOptions = {}) => normalizeOptions({ compress: true, deflateOptions: d }).deflateOptions;
const answer = (header: string | readonly string[] | undefined, d?: DeflateOptions) => negotiateDeflate(header, deflate(d))?.response;

describe('negotiateDeflate', () => {
  it('takes nothing when there is no offer, or none of permessage-deflate', () => {
    expect(negotiateDeflate(undefined, deflate())).toBeUndefined();
    expect(negotiateDeflate(null, deflate())).toBeUndefined();
    expect(answer('x-webkit-deflate-frame')).toBeUndefined();
  });

  for (const [id, offer, response] of AUTOBAHN_OFFERS) {
    it(`takes Autobahn ${id}'s offer under the default options`, () => {
      expect(answer(offer)).toBe(response);
    });
  }

  it('answers every well-formed single offer under the default options', () => {
    for (const server of ['', '; server_no_context_takeover'])
      for (const client of ['', '; client_no_context_takeover'])
        for (const bits of ['', ...[8, 9, 10, 11, 12, 13, 14, 15].map((b) => `; server_max_window_bits=${b}`)])
          for (const clientBits of ['', '; client_max_window_bits', '; client_max_window_bits=8', '; client_max_window_bits=15']) {
            const offer = `permessage-deflate${server}${client}${bits}${clientBits}`;
            expect(answer(offer), offer).toBeDefined();
          }
  });

  it('declines an offer with an unknown parameter and takes the next one (issue 11)', () => {
    expect(answer('permessage-deflate; foo=bar, permessage-deflate')).toBe('permessage-deflate');
    expect(negotiateDeflate('permessage-deflate; foo=bar, permessage-deflate', deflate())?.offer).toBe('permessage-deflate');
  });

  for (const bad of [
    'permessage-deflate; foo',
    'permessage-deflate; server_max_window_bits',
    'permessage-deflate; server_max_window_bits=7',
    'permessage-deflate; server_max_window_bits=16',
    'permessage-deflate; server_max_window_bits=010',
    'permessage-deflate; server_max_window_bits=1.5',
    'permessage-deflate; client_max_window_bits=7',
    'permessage-deflate; client_max_window_bits=',
    'permessage-deflate; server_no_context_takeover=1',
    'permessage-deflate; client_no_context_takeover; client_no_context_takeover',
    'permessage-deflate; server_max_window_bits="a b"',
  ]) {
    it(`declines '${bad}', and takes a plain offer after it`, () => {
      expect(answer(bad)).toBeUndefined();
      expect(answer(`${bad}, permessage-deflate`)).toBe('permessage-deflate');
    });
  }

  it('reads quoted values, any case of names, and offers spread over repeated headers', () => {
    expect(answer('Permessage-Deflate; Server_Max_Window_Bits="10"')).toBe('permessage-deflate; server_max_window_bits=10');
    expect(answer(['permessage-deflate; bogus', 'permessage-deflate; server_max_window_bits=9'])).toBe('permessage-deflate; server_max_window_bits=9');
    expect(answer('permessage-deflate; x="a,b", permessage-deflate; client_max_window_bits=12')).toBe('permessage-deflate; client_max_window_bits=12');
  });

  it('answers with the server options whether or not the client asked', () => {
    expect(answer('permessage-deflate', { serverNoContextTakeover: true, clientNoContextTakeover: true })).toBe(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    );
    expect(answer('permessage-deflate', { serverMaxWindowBits: 10 })).toBe('permessage-deflate; server_max_window_bits=10');
  });

  it('declines a server window smaller than serverMaxWindowBits, taking a later offer that allows it', () => {
    expect(answer('permessage-deflate; server_max_window_bits=9', { serverMaxWindowBits: 10 })).toBeUndefined();
    expect(answer('permessage-deflate; server_max_window_bits=9, permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 })).toBe(
      'permessage-deflate; server_max_window_bits=10',
    );
  });

  it('with clientMaxWindowBits, takes only offers that let the client limit its window, never raising the client’s own limit', () => {
    expect(answer('permessage-deflate', { clientMaxWindowBits: 10 })).toBeUndefined();
    expect(answer('permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 10 })).toBe('permessage-deflate; client_max_window_bits=10');
    expect(answer('permessage-deflate; client_max_window_bits=9', { clientMaxWindowBits: 10 })).toBe('permessage-deflate; client_max_window_bits=9');
  });
});
