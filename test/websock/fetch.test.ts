import { describe, expect, it } from 'vitest';
import { fetchRoute, pathOf, textResponse } from '../../src/websock/fetch.js';

describe('pathOf', () => {
  it("is the path and query of a Fetch request's URL, as node:http's req.url", () => {
    expect(pathOf('http://localhost:4000/chat?room=1')).toBe('/chat?room=1');
    expect(pathOf('http://[::1]:4000/')).toBe('/');
    expect(pathOf('http://localhost:4000')).toBe('/');
  });
});

describe('textResponse', () => {
  it('is a plain-text response with the status, the body and any extra headers', async () => {
    const res = textResponse(426, "'sec-websocket-version' header must equal '13'", { 'Sec-WebSocket-Version': '13' });
    expect(res.status).toBe(426);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('sec-websocket-version')).toBe('13');
    expect(await res.text()).toBe("'sec-websocket-version' header must equal '13'");
  });
});

describe('fetchRoute', () => {
  it('hands plain requests elsewhere to onRequest and upgrades on the path to the handler', () => {
    expect(fetchRoute('/other', false, '/ws')).toBe('request');
    expect(fetchRoute('/ws?room=1', true, '/ws')).toBe('upgrade');
    expect(fetchRoute('/anything', true, undefined)).toBe('upgrade');
    expect(fetchRoute('/ws', false, undefined)).toBe('request');
  });

  it('answers a plain request to the path with 426 and an upgrade elsewhere with 404', async () => {
    const plain = fetchRoute('/ws', false, '/ws') as Response;
    expect([plain.status, plain.headers.get('upgrade')]).toEqual([426, 'websocket']);
    const elsewhere = fetchRoute('/nope', true, '/ws') as Response;
    expect([elsewhere.status, await elsewhere.text()]).toEqual([404, 'no WebSocket endpoint at /nope']);
  });
});
