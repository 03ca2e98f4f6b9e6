/**
 * The WebSock conformance suite against `beamsock/deno`. Runs in vitest under
 * Deno itself (`deno run -A node_modules/vitest/vitest.mjs`), started by
 * `run-under-deno.test.ts`. Each quirk is a difference of Deno's server that the
 * README's Deno section lists; the suite asserts what Deno does instead.
 */
import { serve } from '../../../src/adapters/deno/server.js';
import { conformance } from '../../conformance/suite.js';

conformance({
  name: 'deno',
  start: (handler, options) => serve(handler, { ...options, port: 0 }),
  quirks: {
    upgradesHttp10: 'a Fetch Request carries no HTTP version, and Deno upgrades HTTP/1.0 requests itself',
    alwaysValidatesUtf8: 'Deno always validates text and drops the connection on invalid UTF-8',
    noControlFrames: "Deno answers pings itself and its WebSocket shows JavaScript no ping or pong, nor sends one",
    dropsOnProtocolError: 'Deno cuts the TCP connection on a protocol error, sending a close frame (1002) only for a bad close code',
    acceptsUnmaskedFrames: 'Deno reads an unmasked client frame as a message',
    upgradesAnyMethod: "Deno.upgradeWebSocket does not check the request's method",
    noCompression: "Deno's WebSocket server does not negotiate permessage-deflate",
    cannotPauseReading: 'Deno cannot stop reading a WebSocket, so the peer cannot be slowed down',
    idleSeesMessagesOnly: "Deno's WebSocket shows JavaScript whole messages only, not the bytes of one still arriving",
    answersCloseAtOnce: 'Deno answers a close frame as it reads it, before the replies to messages read with it',
    cannotCutSocket: "Deno's WebSocket has no way to cut its TCP connection: a killed connection is closed with 1001",
  },
});
