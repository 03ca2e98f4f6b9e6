/**
 * The WebSock conformance suite against `beamsock/bun`. Runs under Bun's own test
 * runner (`bun test ./test/adapters/bun/bun.conformance.ts`), started by
 * `run-under-bun.test.ts` from vitest.
 */
import { serve } from '../../../src/adapters/bun/server.js';
import { conformance } from '../../conformance/suite.js';

conformance({
  name: 'bun',
  start: (handler, options) => serve(handler, { ...options, port: 0 }),
  quirks: {
    upgradesHttp10: 'a Fetch Request carries no HTTP version, and Bun upgrades HTTP/1.0 requests itself',
    refusesHostlessItself: "Bun's HTTP parser answers 400 with an empty body before fetch runs",
    alwaysValidatesUtf8: 'Bun always validates text and closes with 1007 on invalid UTF-8',
    answersCloseAtOnce: 'Bun answers a close frame or a protocol error while it parses the read, before the connection has handled the messages before it',
    idleSeesMessagesOnly: 'Bun shows JavaScript whole messages, pings and pongs, never the bytes of one still arriving',
  },
});
