/**
 * beamsock: WebSocket connections hosted the way Elixir hosts them on the BEAM.
 * The root entry point exports the runtime and the WebSock behaviour; server
 * adapters live at `beamsock/ws` and `beamsock/bun`.
 */
export * from './runtime/index.js';
export * from './websock/index.js';
