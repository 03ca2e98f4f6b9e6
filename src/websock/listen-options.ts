/**
 * The listening options every adapter's `serve()` shares, checked before anything
 * listens so that a bad one fails at start-up naming itself.
 */
import type { Pid } from '../runtime/pid.js';
import type { ConnectionOptions } from './options.js';

/** What every adapter's `serve()` resolves to, beside its server's own handle. */
export interface RunningServer {
  readonly port: number;
  /** The DynamicSupervisor every connection of this server is a temporary child of. */
  readonly supervisor: Pid;
  /** `ws://host:port` */
  readonly url: string;
  /** Pids of the live connections. */
  connections(): Pid[];
  /**
   * Graceful shutdown: stop accepting, close every connection with 1001 (their
   * `terminate` sees `'shutdown'`), wait up to `timeoutMs` (default the
   * `shutdownTimeout` option, 15 000) for them to finish, then cut what is left.
   */
  close(timeoutMs?: number): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The options of every adapter's `serve()` beside the connection options and its own request types. */
export interface ServeListenOptions {
  /** Port to listen on; 0 picks a free one. Default 4000. */
  readonly port?: number;
  /** Address to bind. Default '127.0.0.1'. */
  readonly host?: string;
  /** Only requests for this path (query string ignored) are upgraded; others get 404. Default: any path. */
  readonly path?: string;
  /** Aborting the signal shuts the server down gracefully. */
  readonly signal?: AbortSignal;
  /** Connections allowed at once (the supervisor's `maxChildren`); one more is closed with 1013. Default Infinity. */
  readonly maxConnections?: number;
  /**
   * Milliseconds a client has, from connecting, to send a whole request head
   * (an upgrade's or any other's); one that is silent or trickles its head is
   * cut (on Node with 408 Request Timeout). Default 10_000. Only `beamsock/ws`
   * can change it: see `upgradeTimeoutOption` for what Bun and Deno do.
   */
  readonly upgradeTimeout?: number;
}

/** The keys of every adapter's `serve()` options that are not connection options. */
const SERVE_KEYS = new Set(['port', 'host', 'path', 'args', 'authorize', 'onRequest', 'signal', 'maxConnections', 'mounts', 'upgradeTimeout']);

/**
 * The connection options among `serve()`'s options: every key but the serving
 * ones, for `normalizeOptions` to check (it names an unknown key).
 *
 * @example
 * connectionOptionsOf({ port: 0, timeout: 5_000 }); // { timeout: 5000 }
 */
export function connectionOptionsOf(opts: object): ConnectionOptions {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts)) if (!SERVE_KEYS.has(k)) out[k] = v;
  return out as ConnectionOptions;
}

/** `port`, `host`, `path` and `onRequest` after checking, with their defaults. */
export interface ListenOptions {
  /** Default 4000; 0 picks a free port. */
  readonly port: number;
  /** Default '127.0.0.1'. */
  readonly host: string;
  /** Only this path is upgraded; undefined for any. */
  readonly path: string | undefined;
}

/**
 * Checks the listening options of `serve()`, throwing a TypeError that names the
 * bad one.
 *
 * @example
 * listenOptions({ port: 0 }); // { port: 0, host: '127.0.0.1', path: undefined }
 */
export function listenOptions(opts: { port?: unknown; host?: unknown; path?: unknown; onRequest?: unknown }): ListenOptions {
  const port = opts.port ?? 4000;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`option 'port' must be an integer from 0 to 65535, got ${String(port)}`);
  }
  const host = opts.host ?? '127.0.0.1';
  if (typeof host !== 'string') throw new TypeError(`option 'host' must be a string, got ${String(host)}`);
  const path = opts.path;
  if (path !== undefined && (typeof path !== 'string' || !path.startsWith('/'))) {
    throw new TypeError(`option 'path' must be a string starting with '/', got ${String(path)}`);
  }
  if (opts.onRequest !== undefined && typeof opts.onRequest !== 'function') throw new TypeError(`option 'onRequest' must be a function`);
  return { port, host, path };
}

/**
 * Whether a request target (path and query, as node:http's `req.url`) is for
 * `path`, the query ignored; any target is when `path` is undefined.
 *
 * @example
 * onPath('/ws?room=1', '/ws'); // true
 */
export function onPath(target: string, path: string | undefined): boolean {
  if (path === undefined) return true;
  const query = target.indexOf('?');
  return (query === -1 ? target : target.slice(0, query)) === path;
}

/**
 * What `serve()` does with a request no mount took: `'upgrade'` (validation,
 * then the handler), `'notFound'` (an upgrade for another path), `'upgradeRequired'`
 * (a plain request for the WebSocket path: 426 with `Upgrade: websocket`, as
 * Cowboy answers), or `'request'` (`onRequest`). A request is an upgrade when it
 * carries an `Upgrade` header, whatever its `Connection` says, so that a broken
 * upgrade is told why rather than served a page. Without `path`, every path is a
 * WebSocket path for upgrades and no plain request is refused.
 *
 * @example
 * routeOf('/ws', false, '/ws'); // 'upgradeRequired'
 */
export function routeOf(target: string, upgrading: boolean, path: string | undefined): 'upgrade' | 'notFound' | 'upgradeRequired' | 'request' {
  if (upgrading) return onPath(target, path) ? 'upgrade' : 'notFound';
  return path !== undefined && onPath(target, path) ? 'upgradeRequired' : 'request';
}

/**
 * The 404 for an upgrade at `target`, which is not the WebSocket path.
 *
 * @example
 * noEndpoint('/nope?x=1').reason; // 'no WebSocket endpoint at /nope?x=1'
 */
export function noEndpoint(target: string): { readonly status: 404; readonly reason: string } {
  return { status: 404, reason: `no WebSocket endpoint at ${target}` };
}

/** RFC 9110 §15.5.22: a 426 names the protocol to upgrade to. */
const UPGRADE_REQUIRED_HEADERS: Readonly<Record<string, string>> = Object.freeze({ Upgrade: 'websocket', Connection: 'Upgrade' });

/**
 * The 426 for a plain request to the WebSocket path `path`.
 *
 * @example
 * upgradeRequired('/ws'); // { status: 426, reason: '/ws is a WebSocket endpoint: ...', headers: { Upgrade: 'websocket', ... } }
 */
export function upgradeRequired(path: string): { readonly status: 426; readonly reason: string; readonly headers: Readonly<Record<string, string>> } {
  return { status: 426, reason: `${path} is a WebSocket endpoint: send a WebSocket upgrade (Connection: Upgrade, Upgrade: websocket)`, headers: UPGRADE_REQUIRED_HEADERS };
}

/**
 * Checks `maxConnections` (a positive integer or Infinity; default Infinity), the
 * `maxChildren` of a server's connection supervisor.
 *
 * @example
 * maxConnectionsOption(undefined); // Infinity
 */
export function maxConnectionsOption(value: unknown): number {
  if (value === undefined) return Infinity;
  if (value === Infinity || (typeof value === 'number' && Number.isInteger(value) && value >= 1)) return value;
  throw new TypeError(`option 'maxConnections' must be a positive integer or Infinity, got ${String(value)}`);
}

/** `upgradeTimeout` when it is not set: what Bun keeps, unchangeably, so that every server cuts at about the same time. */
const DEFAULT_UPGRADE_TIMEOUT = 10_000;
const MAX_UPGRADE_TIMEOUT = 2 ** 31 - 1;

/**
 * Checks `upgradeTimeout` (a positive integer of ms, at most 2^31-1; default
 * 10_000): how long a connection may take to send its request head before the
 * server cuts it, against slowloris clients that connect and send nothing or
 * trickle their head a byte at a time. Node keeps it as `headersTimeout`
 * (answering 408 Request Timeout). Bun cuts such a connection after its own
 * 10 s (within its 4 s timer tick), which cannot be changed, and Deno.serve
 * never does (denoland/deno#3515): their `serve()` refuses the option.
 *
 * @throws TypeError naming the option for any other value.
 * @example
 * upgradeTimeoutOption(undefined); // 10000
 */
export function upgradeTimeoutOption(value: unknown): number {
  if (value === undefined) return DEFAULT_UPGRADE_TIMEOUT;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_UPGRADE_TIMEOUT) return value;
  throw new TypeError(`option 'upgradeTimeout' must be a positive integer of milliseconds, at most ${MAX_UPGRADE_TIMEOUT}, got ${String(value)}`);
}

/**
 * `ws://host:port`, an IPv6 host in brackets.
 *
 * @example
 * wsUrl('::1', 4000); // 'ws://[::1]:4000'
 */
export function wsUrl(host: string, port: number): string {
  return `ws://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Wires `serve()`'s `signal`: closes at once when it is already aborted, else when it aborts.
 *
 * @example
 * await closeOnAbort(opts.signal, close);
 */
export async function closeOnAbort(signal: AbortSignal | undefined, close: () => Promise<void>): Promise<void> {
  if (signal === undefined) return;
  if (signal.aborted) await close();
  else signal.addEventListener('abort', () => void close(), { once: true });
}
