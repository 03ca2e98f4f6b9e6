/**
 * The server every hostile test attacks, the same program on Node (ws), Bun and
 * Deno: `serve()` of the runtime it runs on, echoing every message, with
 * permessage-deflate where the server has it, a 1 MiB `maxFrameSize` and the
 * `upgradeTimeout` given in HOSTILE_UPGRADE_TIMEOUT (on ws only: Bun and Deno refuse it). `GET /stats` answers what
 * the tests compare with a baseline, measured in this process after a full GC:
 * RSS, connections, processes and (on Node) timers. Prints `listening <port>`.
 */
import { processCount } from '../../src/runtime/introspection.js';
import { ok, push, type WebSock } from '../../src/websock/behaviour.js';

declare const Bun: { gc(force: boolean): void } | undefined;
declare const Deno: unknown;

/** Connections whose `terminate` ran. */
let terminated = 0;

const Echo: WebSock<null> = {
  name: 'Echo',
  init: () => ok(null),
  handleIn: ([data, { opcode }], state) => push([opcode, data], state),
  handleInfo: (_message, state) => ok(state),
  terminate: () => void terminated++,
};

/** What `GET /stats` answers. */
export interface Stats {
  readonly rss: number;
  readonly connections: number;
  readonly processes: number;
  /** Connections whose `terminate` ran, since start. */
  readonly terminated: number;
  /** Live `setTimeout`/`setInterval` timers, where the runtime tells (Node); -1 elsewhere. */
  readonly timers: number;
}

const runtime = typeof Bun !== 'undefined' ? 'bun' : typeof Deno !== 'undefined' ? 'deno' : 'ws';
const { serve } = (await import(`../../src/adapters/${runtime}/server.js`)) as {
  serve(handler: WebSock<null>, opts: object): Promise<{ port: number; connections(): unknown[] }>;
};

function collect(): void {
  if (typeof Bun !== 'undefined') Bun.gc(true);
  else (globalThis as { gc?: () => void }).gc?.();
}

function stats(): Stats {
  collect();
  const resources = (process as { getActiveResourcesInfo?: () => string[] }).getActiveResourcesInfo;
  return {
    rss: process.memoryUsage().rss,
    connections: server.connections().length,
    processes: processCount(),
    terminated,
    timers: runtime === 'ws' && resources !== undefined ? resources().filter((r) => r === 'Timeout').length : -1,
  };
}

const upgradeTimeout = Number(process.env['HOSTILE_UPGRADE_TIMEOUT'] ?? 10_000);
const server = await serve(Echo, {
  port: 0,
  args: null,
  compress: runtime !== 'deno',
  maxFrameSize: 1024 * 1024,
  // Bun and Deno refuse the option (the slowloris test checks that they do, with HOSTILE_FORCE_UPGRADE_TIMEOUT set).
  ...(runtime === 'ws' || process.env['HOSTILE_FORCE_UPGRADE_TIMEOUT'] !== undefined ? { upgradeTimeout } : {}),
  onRequest: runtime === 'ws'
    ? (_req: unknown, res: { writeHead(s: number, h: object): { end(b: string): void } }) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats()))
    : () => Response.json(stats()),
});
console.log(`listening ${server.port}`);
