/**
 * `serve`: an HTTP server that upgrades WebSocket requests to a handler, serves
 * ordinary routes beside them, and shuts down gracefully.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Authorize } from '../../websock/admission.js';
import type { WebSock } from '../../websock/behaviour.js';
import { connectionOptionsOf, listenOptions, noEndpoint, onPath, routeOf, upgradeRequired, upgradeTimeoutOption, type RunningServer, type ServeListenOptions } from '../../websock/listen-options.js';
import type { ConnectionOptions } from '../../websock/options.js';
import { Serving } from '../../websock/serving.js';
import { validateUpgrade } from '../../websock/upgrade-validation.js';
import { destroyOnError, resolveOptions, takeUpgrade } from './upgrade.js';

/**
 * Something mounted beside the handler on a `serve` server, such as the observer
 * (`mountObserver()` returns one): it sees each request and upgrade first, and is
 * closed with the server.
 */
export interface ServeMount {
  /** True if it answered the request. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /** True if it took the upgrade. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  close(timeoutMs?: number): Promise<void>;
}

/** Options of `serve`: where to listen and what to upgrade, plus every connection option. */
export interface ServeOptions<A> extends ConnectionOptions, ServeListenOptions {
  /** What `init` receives: a value, or a function of the upgrade request. */
  readonly args?: A | ((req: IncomingMessage) => A);
  /** Lets a request through (with `init`'s args, if it gives them) or refuses it with 401 or 403; see `Authorize`. */
  readonly authorize?: Authorize<A, IncomingMessage>;
  /**
   * Ordinary HTTP requests: not upgrades (requests with an `Upgrade` header), and
   * not for `path` when it is set (those get 426). Default: 404 for everything.
   */
  readonly onRequest?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Mounted beside the handler, asked first: `mounts: [mountObserver({ auth: { token } })]`. */
  readonly mounts?: readonly ServeMount[];
}

/** A running server: its `node:http` server beside what every adapter's server has. */
export interface BeamsockServer extends RunningServer {
  readonly httpServer: Server;
}

/**
 * Starts an HTTP server whose WebSocket upgrades run `handler`, each connection in
 * its own process. Options are checked before anything listens. Mounts are asked
 * first; then a request with an `Upgrade` header is an upgrade attempt wherever
 * node:http delivers it (refused with 400, 403 or 426 and the reason when
 * invalid, 404 off `path`), a plain request to `path` gets 426 with `Upgrade:
 * websocket`, and any other goes to `onRequest`. A connection that has not sent
 * a whole request head `upgradeTimeout` ms after connecting gets 408 and is cut.
 *
 * @example
 * const server = await serve(EchoServer, { port: 4000 });
 * console.log(`listening on ${server.url}`);
 * // ... later
 * await server.close();
 */
export async function serve<S, A>(handler: WebSock<S, A>, opts: ServeOptions<A> = {}): Promise<BeamsockServer> {
  const o = resolveOptions(connectionOptionsOf(opts));
  const { port, host, path } = listenOptions(opts);
  const upgradeTimeout = upgradeTimeoutOption(opts.upgradeTimeout);
  if (
    opts.mounts !== undefined &&
    !(Array.isArray(opts.mounts) && opts.mounts.every((m: Partial<ServeMount>) => typeof m?.handleRequest === 'function' && typeof m.handleUpgrade === 'function' && typeof m.close === 'function'))
  ) {
    throw new TypeError(`option 'mounts' must be a list of { handleRequest, handleUpgrade, close } (such as mountObserver())`);
  }
  const serving = new Serving<A, IncomingMessage>({ server: 'ws', handler: handler as WebSock<unknown, A>, options: o, args: opts.args, authorize: opts.authorize, maxConnections: opts.maxConnections });

  const onRequest =
    opts.onRequest ??
    ((_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found');
    });
  const mounts = opts.mounts ?? [];
  // node:http emits 'upgrade' only when Connection contains upgrade: the rest of the upgrades arrive here.
  // node:http sweeps for heads past headersTimeout every connectionsCheckingInterval (30 s by default): a tenth of the timeout keeps it close.
  const httpServer = createServer({ headersTimeout: upgradeTimeout, requestTimeout: Math.max(upgradeTimeout, 300_000), connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.ceil(upgradeTimeout / 10))) }, (req, res) => {
    for (const m of mounts) if (m.handleRequest(req, res)) return;
    const target = req.url ?? '/';
    switch (routeOf(target, req.headers.upgrade !== undefined, path)) {
      case 'request':
        return onRequest(req, res);
      case 'upgradeRequired':
        return answer(res, upgradeRequired(path ?? target));
      case 'notFound':
        return answer(res, noEndpoint(target));
      case 'upgrade':
        return answer(res, notAnUpgrade(serving, req));
    }
  });
  httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', destroyOnError);
    if (!serving.isClosing) for (const m of mounts) if (m.handleUpgrade(req, socket, head)) return;
    if (!onPath(req.url ?? '/', path)) {
      const body = noEndpoint(req.url ?? '/').reason;
      socket.end(`HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return;
    }
    takeUpgrade(serving, req, socket, head);
  });

  try {
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(port, host, () => {
        httpServer.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await serving.close(0);
    throw err;
  }

  let closed: Promise<void> | undefined;
  const close = (timeoutMs: number = o.shutdownTimeout): Promise<void> => {
    closed ??= (async () => {
      // Refuses new upgrades at once, while the mounts close.
      const connections = serving.close(timeoutMs);
      await Promise.all(mounts.map((m) => m.close(timeoutMs)));
      const stopped = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      httpServer.closeIdleConnections();
      await connections;
      httpServer.closeAllConnections();
      await stopped;
    })();
    return closed;
  };

  return { httpServer, ...(await serving.running((httpServer.address() as AddressInfo).port, host, close, opts.signal)) };
}

/**
 * The refusal of an upgrade that reached the `'request'` listener: its
 * validation's reason (so `Connection: close` is told what the connection
 * header lacks), published as every refusal is.
 */
function notAnUpgrade<A>(serving: Serving<A, IncomingMessage>, req: IncomingMessage): { readonly status: number; readonly reason: string; readonly headers?: Readonly<Record<string, string>> | undefined } {
  if (serving.isClosing) return serving.refuse(req.url, 503, 'the server is shutting down');
  const v = validateUpgrade(req);
  // node:http hands every request that validation accepts to 'upgrade'; this covers what it judges otherwise.
  return v.ok ? serving.refuse(req.url, 400, 'not a valid WebSocket upgrade request') : serving.refuse(req.url, v.status, v.reason, v.headers);
}

function answer(res: ServerResponse, refusal: { readonly status: number; readonly reason: string; readonly headers?: Readonly<Record<string, string>> | undefined }): void {
  res.writeHead(refusal.status, { 'content-type': 'text/plain; charset=utf-8', ...refusal.headers }).end(refusal.reason);
}
