/**
 * permessage-deflate negotiation on ws, over real sockets: every offer shape of
 * Autobahn's 13.x cases is taken (never a 400), an offer the options cannot take
 * is declined for the next one, and what was agreed actually carries messages.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, type PerMessageDeflateOptions } from 'ws';
import { serve, type BeamsockServer } from '../../../src/adapters/ws/server.js';
import { upgrade } from '../../../src/adapters/ws/upgrade.js';
import { ok, push, type WebSock } from '../../../src/websock/behaviour.js';
import { rawRequest, within } from '../../conformance/client.js';
import { AUTOBAHN_OFFERS } from '../../support/deflate-offers.js';

const Echo: WebSock<null> = {
  init: () => ok(null),
  handleIn: ([data, { opcode }], state) => push([opcode, data], state),
  handleInfo: (_m, state) => ok(state),
};

let loose: BeamsockServer;
let strict: BeamsockServer;
beforeAll(async () => {
  loose = await serve(Echo, { port: 0, compress: true });
  strict = await serve(Echo, { port: 0, compress: true, deflateOptions: { serverMaxWindowBits: 12, clientMaxWindowBits: 11 } });
});
afterAll(async () => {
  await Promise.all([loose.close(), strict.close()]);
});

const offers: readonly (readonly [string, string, string])[] = [
  ...AUTOBAHN_OFFERS,
  ['issue 10', 'permessage-deflate; server_no_context_takeover', 'permessage-deflate; server_no_context_takeover'],
  ['issue 11', 'permessage-deflate; foo=bar, permessage-deflate', 'permessage-deflate'],
];

describe('permessage-deflate offers on ws', () => {
  for (const [id, offer, response] of offers) {
    it(`takes the ${id} offer with a 101 and answers '${response}'`, async () => {
      const res = await rawRequest(loose.url, { headers: { 'Sec-WebSocket-Extensions': offer } });
      expect(res.status).toBe(101);
      expect(res.headers['sec-websocket-extensions']).toBe(response);
    });
  }

  it('goes on uncompressed, with a 101, when no offer can be taken', async () => {
    for (const offer of ['permessage-deflate; server_max_window_bits', 'permessage-deflate; foo=bar', 'permessage-deflate; server_max_window_bits=16']) {
      const res = await rawRequest(loose.url, { headers: { 'Sec-WebSocket-Extensions': offer } });
      expect(res.status, offer).toBe(101);
      expect(res.headers['sec-websocket-extensions'], offer).toBeUndefined();
    }
  });

  it('declines what the options cannot honour and takes the next offer', async () => {
    const smaller = await rawRequest(strict.url, { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits=9; client_max_window_bits, permessage-deflate; client_max_window_bits=10' } });
    expect(smaller.status).toBe(101);
    expect(smaller.headers['sec-websocket-extensions']).toBe('permessage-deflate; server_max_window_bits=12; client_max_window_bits=10');
    const unlimited = await rawRequest(strict.url, { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate' } });
    expect(unlimited.status).toBe(101);
    expect(unlimited.headers['sec-websocket-extensions']).toBeUndefined();
  });

  it('leaves the request’s header as the client sent it', async () => {
    const server = createServer();
    const seen: (string | undefined)[] = [];
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      void upgrade(req, socket, head, Echo, null, { compress: true }).then(() => seen.push(req.headers['sec-websocket-extensions']));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, { perMessageDeflate: { serverNoContextTakeover: true } });
      await within(new Promise((r) => client.once('open', r)), 'open');
      const closed = new Promise((r) => client.once('close', r));
      client.close();
      await within(closed, 'the close');
      expect(seen).toEqual(['permessage-deflate; server_no_context_takeover; client_max_window_bits']);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  const clients: readonly PerMessageDeflateOptions[] = [
    { serverNoContextTakeover: true, clientNoContextTakeover: true },
    { serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
    { serverNoContextTakeover: true, serverMaxWindowBits: 9, threshold: 0 },
    { serverMaxWindowBits: 15, clientNoContextTakeover: true, threshold: 0 },
  ];
  for (const offer of clients) {
    it(`carries compressed messages both ways once ${JSON.stringify(offer)} is agreed`, async () => {
      const client = new WebSocket(loose.url, { perMessageDeflate: offer });
      await within(new Promise((r) => client.once('open', r)), 'open');
      expect(client.extensions).toMatch(/^permessage-deflate/);
      const big = 'beamsock '.repeat(20_000) + Math.random().toString(36).repeat(500);
      const echoes: string[] = [];
      const got = new Promise<void>((resolve) =>
        client.on('message', (data) => {
          echoes.push(String(data));
          if (echoes.length === 3) resolve();
        }),
      );
      client.send(big);
      client.send('short');
      client.send(big);
      await within(got, 'three echoes');
      expect(echoes).toEqual([big, 'short', big]);
      client.close();
    });
  }
});
