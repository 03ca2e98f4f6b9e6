/**
 * The WebSock conformance suite against `beamsock/deno`. Runs in vitest under
 * Deno itself, started by `run-under-deno.test.ts`.
 */
import { serve } from '../../../src/adapters/deno/server.js';
import { conformance } from '../../conformance/suite.js';

conformance({
  name: 'deno',
  start: (handler, options) => serve(handler, { ...options, port: 0 }),
  quirks: {},
});
