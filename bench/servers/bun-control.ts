/**
 * `control.ts` for a server child running on Bun: Bun has no `--expose-gc` (its
 * full collection is `Bun.gc(true)`), and `Bun.serve` is not a node:http server,
 * so the port is handed over as a listening address.
 */
import type { Server } from 'node:http';
import { startControl, type ServerHooks } from './control.js';

declare const Bun: { gc(force: boolean): void };

/**
 * Tells the parent the port and answers its requests with `hooks`, as `startControl` does.
 *
 * @example
 * const server = Bun.serve({ ... });
 * startBunControl(server.port, { count: () => open });
 */
export function startBunControl(port: number, hooks: ServerHooks): void {
  // control.ts collects with global.gc() (its only use of it, called with no arguments).
  globalThis.gc ??= (() => Bun.gc(true)) as NodeJS.GCFunction;
  startControl({ address: () => ({ port, family: 'IPv4', address: '127.0.0.1' }) } as Server, hooks);
}
