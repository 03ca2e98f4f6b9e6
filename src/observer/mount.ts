/**
 * `mountObserver`: puts the observer on a server, served over beamsock itself:
 * the page at `path`, its WebSocket at `path + '/ws'` hosted by `ObserverSocket`.
 * On node:http (`beamsock/ws`'s `serve`, or `attach(server)`) the socket is
 * upgraded through the `ws` adapter's `upgrade`; on a Fetch server (`beamsock/bun`'s
 * `serve`, Deno's) through the upgrade the server lends its mounts. Nothing is
 * mounted unless you call it.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { upgrade } from '../adapters/ws/upgrade.js';
import { exit, isAlive, send, type Pid, type Ref } from '../runtime/index.js';
import { rejectUnknownOptions } from '../runtime/options.js';
import { unwatch, watch } from '../runtime/process.js';
import type { FetchMountContext } from '../websock/mount.js';
import type { ConnectionOptions } from '../websock/options.js';
import { renderRefusal, validateUpgrade } from '../websock/upgrade-validation.js';
import { authorize, validateAuth, type ObserverAuth } from './auth.js';
import { observerPage } from './page.js';
import { ReportLog } from './reports.js';
import { Sampler } from './sampler.js';
import { CLOSE_PAGE, ObserverSocket, type ObserverArgs } from './socket.js';

/** Options of `mountObserver`. */
export interface ObserverOptions {
  /** Where the page is served; its WebSocket is at `path + '/ws'`. Default `'/observer'`. */
  readonly path?: string;
  /**
   * Who may open it: `{ token }` (browsers pass `?token=`, other clients may send
   * `Authorization: Bearer`) or a predicate on the request. Default: loopback
   * clients only, since the observer can kill any process.
   */
  readonly auth?: ObserverAuth;
  /** Milliseconds between snapshots, at least 10. Default 1000. */
  readonly intervalMs?: number;
  /**
   * Look, don't touch: the page shows no exit-signal button and the socket
   * refuses exit signals. Default: true when `NODE_ENV` is `production` at
   * mount time, false otherwise; pass `false` to allow exit signals in production.
   */
  readonly readOnly?: boolean;
  /** How many recent runtime reports (crashes, supervisor events) are kept for the page, 1 to 10 000. Default 100. */
  readonly maxReports?: number;
}

/** A mounted observer: hand it the requests and upgrades of your server. */
export interface Observer {
  /** Where the page is served. */
  readonly path: string;
  /** Where its WebSocket is upgraded. */
  readonly socketPath: string;
  /**
   * Serves the page if `req` is for it (or refuses it: 401/403, 405 for a method
   * other than GET or HEAD, 426 for a plain request to the socket path). Returns
   * false, having written nothing, for any other path.
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /**
   * Upgrades `req` to an observer connection if it is for the socket path (or
   * refuses it on the socket: 401/403, 503 once closed). Returns false, having
   * touched nothing, for any other path.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /**
   * The same on a Fetch server (`beamsock/bun`'s `serve` calls it as a mount):
   * the page or its refusal, an upgrade of the socket path through
   * `context.upgrade` (undefined on Bun once upgraded), or false for any other path.
   */
  handleFetch(req: Request, context: FetchMountContext): Response | Promise<Response | undefined> | undefined | false;
  /**
   * Puts the observer in front of `server`'s current `request` and `upgrade`
   * listeners: its paths go to the observer, all others to them as before.
   * Attach after the server's own listeners are in place. Returns a function that
   * puts the listeners back.
   */
  attach(server: Server): () => void;
  /** Pids of the open observer connections. */
  connections(): Pid[];
  /**
   * Closes every observer connection with 1001 (one that does not end within
   * `timeoutMs`, default 5000, is killed) and refuses new ones. Call it before closing
   * the HTTP server: an upgraded socket keeps `server.close()` waiting.
   */
  close(timeoutMs?: number): Promise<void>;
}

const PATH = /^\/[^\s?#]*$/;

function checkOptions(opts: ObserverOptions): { base: string; intervalMs: number; readOnly: boolean; maxReports: number } {
  const known = ['path', 'auth', 'intervalMs', 'readOnly', 'maxReports'];
  rejectUnknownOptions(opts, known, 'observer options');
  const path = opts.path ?? '/observer';
  if (typeof path !== 'string' || !PATH.test(path)) throw new TypeError(`observer option 'path' must start with '/' and hold no spaces, '?' or '#', got ${JSON.stringify(path)}`);
  validateAuth(opts.auth);
  const intervalMs = opts.intervalMs ?? 1000;
  if (!(Number.isInteger(intervalMs) && intervalMs >= 10)) throw new TypeError(`observer option 'intervalMs' must be an integer of at least 10, got ${String(intervalMs)}`);
  const readOnly = opts.readOnly ?? process.env.NODE_ENV === 'production';
  if (typeof readOnly !== 'boolean') throw new TypeError(`observer option 'readOnly' must be true or false, got ${JSON.stringify(readOnly)}`);
  const maxReports = opts.maxReports ?? 100;
  if (!(Number.isInteger(maxReports) && maxReports >= 1 && maxReports <= 10_000)) {
    throw new TypeError(`observer option 'maxReports' must be an integer from 1 to 10000, got ${String(maxReports)}`);
  }
  return { base: path.replace(/\/+$/, ''), intervalMs, readOnly, maxReports };
}

function pathnameOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function refuseRequest(res: ServerResponse, status: number, reason: string, headers: Readonly<Record<string, string>> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(reason);
}

function refusal(status: number, reason: string, headers: Readonly<Record<string, string>> = {}): Response {
  return new Response(reason, { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers } });
}

function refuseUpgrade(socket: Duplex, refusal: { readonly status: number; readonly reason: string; readonly headers: Readonly<Record<string, string>> }): void {
  if (socket.writable) socket.end(renderRefusal(refusal));
  else socket.destroy();
}

// The page runs inline script and style and talks only to its own origin; no one may frame it (it has a kill button).
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const UPGRADE_REQUIRED = { upgrade: 'websocket', connection: 'Upgrade' };
// Pages send small requests; a page stays open however long it is left idle.
const SOCKET_OPTIONS: ConnectionOptions = { timeout: Infinity, maxFrameSize: 64 * 1024 };

/**
 * Creates an observer: a live view of this node's processes (supervision tree,
 * process table, charts, details, exit signals unless read-only), its runtime
 * (memory, event-loop delay, GC), its registries and PubSub topics, and recent
 * crash reports, served at `opts.path` over a
 * beamsock WebSocket. Mount it with `serve(handler, { mounts: [observer] })` on
 * any server, with `attach(server)` on a node:http server, or call
 * `handleRequest` and `handleUpgrade` (node:http) or `handleFetch` (Fetch) from
 * your own routes. Throws TypeError for a bad option.
 *
 * @example
 * const observer = mountObserver({ auth: { token: process.env.OBSERVER_TOKEN! } });
 * const server = await serve(EchoServer, { port: 4000, mounts: [observer] });
 * // open http://localhost:4000/observer?token=...; server.close() closes the observer too
 */
export function mountObserver(opts: ObserverOptions = {}): Observer {
  const { base, intervalMs, readOnly, maxReports } = checkOptions(opts);
  const auth = opts.auth;
  const path = base === '' ? '/' : base;
  const socketPath = `${base}/ws`;
  const page = observerPage(socketPath, { readOnly });
  // Reports are kept from mount on, so the page shows crashes from before it was opened.
  const reports = new ReportLog(maxReports);
  reports.start();
  const live = new Set<Pid>();
  let closing = false;
  const opened = (pid: Pid): void => {
    // close() may have run while this page's upgrade was under way.
    if (closing) send(pid, CLOSE_PAGE);
    else live.add(pid);
  };
  const args: ObserverArgs = { sampler: new Sampler(), intervalMs, readOnly, reports, opened };

  const connections = (): Pid[] => {
    for (const pid of live) if (!isAlive(pid)) live.delete(pid);
    return [...live];
  };

  const observer: Observer = {
    path,
    socketPath,

    handleRequest(req, res) {
      const pathname = pathnameOf(req);
      if (pathname === socketPath) {
        // An upgrade node:http did not take as one (Connection without upgrade) is told why.
        const check = req.headers.upgrade === undefined ? undefined : validateUpgrade(req);
        if (check?.ok === false) refuseRequest(res, check.status, check.reason, check.headers);
        else refuseRequest(res, 426, `${socketPath} is the observer's WebSocket; open ${path} in a browser`, UPGRADE_REQUIRED);
        return true;
      }
      if (pathname !== path && pathname !== `${base}/`) return false;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        refuseRequest(res, 405, `the observer page answers GET and HEAD, not ${String(req.method)}`, { allow: 'GET, HEAD' });
        return true;
      }
      const verdict = authorize(req, auth);
      if (!verdict.ok) refuseRequest(res, verdict.status, verdict.reason, verdict.headers);
      else res.writeHead(200, PAGE_HEADERS).end(req.method === 'HEAD' ? undefined : page);
      return true;
    },

    handleUpgrade(req, socket, head) {
      if (pathnameOf(req) !== socketPath) return false;
      socket.on('error', () => socket.destroy());
      if (closing) {
        refuseUpgrade(socket, { status: 503, reason: 'the observer is shutting down', headers: {} });
        return true;
      }
      const verdict = authorize(req, auth);
      if (!verdict.ok) {
        refuseUpgrade(socket, verdict);
        return true;
      }
      // The query may hold the token; what the connection records (and the observer shows) should not.
      req.url = socketPath;
      // A failed upgrade was reported to the logger by the serving core.
      upgrade(req, socket, head, ObserverSocket, args, SOCKET_OPTIONS).catch(() => undefined);
      return true;
    },

    handleFetch(req, context) {
      const pathname = new URL(req.url).pathname;
      if (pathname === socketPath) {
        // The server's validation answers an upgrade that is not a valid one.
        if (!req.headers.has('upgrade')) return refusal(426, `${socketPath} is the observer's WebSocket; open ${path} in a browser`, UPGRADE_REQUIRED);
        if (closing) return refusal(503, 'the observer is shutting down');
        const verdict = authorize(req, auth, context.remoteAddress);
        if (!verdict.ok) return refusal(verdict.status, verdict.reason, verdict.headers);
        return context.upgrade({ handler: ObserverSocket, args, options: SOCKET_OPTIONS, path: socketPath });
      }
      if (pathname !== path && pathname !== `${base}/`) return false;
      if (req.method !== 'GET' && req.method !== 'HEAD') return refusal(405, `the observer page answers GET and HEAD, not ${req.method}`, { allow: 'GET, HEAD' });
      const verdict = authorize(req, auth, context.remoteAddress);
      if (!verdict.ok) return refusal(verdict.status, verdict.reason, verdict.headers);
      return new Response(req.method === 'HEAD' ? null : page, { status: 200, headers: PAGE_HEADERS });
    },

    attach(server) {
      const requestListeners = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
      const upgradeListeners = server.listeners('upgrade') as ((req: IncomingMessage, socket: Duplex, head: Buffer) => void)[];
      const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
        if (observer.handleRequest(req, res)) return;
        if (requestListeners.length === 0) refuseRequest(res, 404, 'not found');
        for (const l of requestListeners) l.call(server, req, res);
      };
      const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
        if (observer.handleUpgrade(req, socket, head)) return;
        // Node destroys an upgrade nobody listens to; with this listener in place, that is our job.
        if (upgradeListeners.length === 0) socket.destroy();
        for (const l of upgradeListeners) l.call(server, req, socket, head);
      };
      server.removeAllListeners('request').on('request', onRequest);
      server.removeAllListeners('upgrade').on('upgrade', onUpgrade);
      return () => {
        server.off('request', onRequest).off('upgrade', onUpgrade);
        for (const l of requestListeners) server.on('request', l);
        for (const l of upgradeListeners) server.on('upgrade', l);
      };
    },

    connections,

    async close(timeoutMs = 5000) {
      closing = true;
      reports.stop();
      const open = connections();
      for (const pid of open) send(pid, CLOSE_PAGE);
      await exitedWithin(open, timeoutMs);
      for (const pid of open) if (isAlive(pid)) exit(pid, 'kill');
      live.clear();
    },
  };
  return observer;
}

/**
 * Resolves once every pid has exited or `timeoutMs` has passed, whichever is
 * first, leaving no timer or watch behind either way.
 */
function exitedWithin(pids: readonly Pid[], timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const watches = new Map<Pid, Ref>();
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      for (const [pid, ref] of watches) unwatch(pid, ref);
      resolve();
    };
    for (const pid of pids) {
      const ref = watch(pid, () => {
        watches.delete(pid);
        if (watches.size === 0) done();
      });
      if (ref !== undefined) watches.set(pid, ref);
    }
    if (watches.size === 0) done();
    else if (Number.isFinite(timeoutMs)) timer = setTimeout(done, timeoutMs);
  });
}
