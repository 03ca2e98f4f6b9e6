/**
 * The WebSock behaviour, its results, connection commands, upgrade validation
 * and connection options. Knows no server: adapters live in `beamsock/ws`, `beamsock/bun`.
 */
export * from './behaviour.js';
export { setActive, setDeflate, setConnectionOptions, setShutdownReason } from './commands.js';
