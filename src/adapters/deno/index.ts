/**
 * `beamsock/deno`: hosts WebSock handlers on Deno's own server (`Deno.serve` and
 * `Deno.upgradeWebSocket`), each connection a process, with the behaviour
 * handlers see on `beamsock/ws`. Runs on Deno only; what Deno cannot do is
 * listed in the README's Deno section.
 */
export { createDenoHandler, type DenoHandler, type DenoHandlerOptions } from './upgrade.js';
export { serve, type ServeOptions, type BeamsockServer, type DenoMountContext, type DenoServeMount } from './server.js';
export { DenoProtocolError } from './transport.js';
export type { DenoHttpServer, DenoServeHandlerInfo, DenoWebSocket } from './native.js';
