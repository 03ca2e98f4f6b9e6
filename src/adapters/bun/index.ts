/**
 * `beamsock/bun`: hosts WebSock handlers on Bun's native WebSocket server
 * (`Bun.serve`), each connection a process, with the behaviour handlers see on
 * `beamsock/ws`. Runs on Bun only.
 */
export { createBunHandler, type BunHandler, type BunHandlerOptions } from './upgrade.js';
export { serve, type ServeOptions, type BeamsockServer, type BunServeMount, type BunMountContext } from './server.js';
export type { FetchMount, FetchMountContext, MountUpgrade } from '../../websock/mount.js';
export { BunProtocolError } from './protocol-errors.js';
export type { BunServer, BunSocket, BunUpgrader, BunWebSocketHandler, BunCompressor } from './native.js';
export type { BunTransport } from './transport.js';
