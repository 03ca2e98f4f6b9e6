/**
 * `serve`: an HTTP server that upgrades WebSocket requests to a handler, serves
 * ordinary routes beside them, and shuts down gracefully.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSock } from '../../websock/behaviour.js';
import { connectionOptionsOf, listenOptions, onPath, type RunningServer, type ServeListenOptions } from '../../websock/listen-options.js';
import type { ConnectionOptions } from '../../websock/options.js';
import { logUpgradeFailure, Serving } from '../../websock/serving.js';
import { destroyOnError, resolveOptions, upgradeInto } from './upgrade.js';

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
  /** Ordinary HTTP requests (not upgrades). Default: 404 for everything. */
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
 * its own process. Options are checked before anything listens.
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
  if (
    opts.mounts !== undefined &&
    !(Array.isArray(opts.mounts) && opts.mounts.every((m: Partial<ServeMount>) => typeof m?.handleRequest === 'function' && typeof m.handleUpgrade === 'function' && typeof m.close === 'function'))
  ) {
    throw new TypeError(`option 'mounts' must be a list of { handleRequest, handleUpgrade, close } (such as mountObserver())`);
  }
  const serving = new Serving<A, IncomingMessage>({ server: 'ws', handler: handler as WebSock<unknown, A>, options: o, args: opts.args, maxConnections: opts.maxConnections });

  const onRequest =
    opts.onRequest ??
    ((_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found');
    });
  const mounts = opts.mounts ?? [];
  const httpServer = createServer((req, res) => {
    for (const m of mounts) if (m.handleRequest(req, res)) return;
    onRequest(req, res);
  });
  httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', destroyOnError);
    if (!serving.isClosing) for (const m of mounts) if (m.handleUpgrade(req, socket, head)) return;
    if (!onPath(req.url ?? '/', path)) {
      const body = `no WebSocket endpoint at ${req.url ?? '/'}`;
      socket.end(`HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return;
    }
    upgradeInto(serving, req, socket, head).catch((err: unknown) => logUpgradeFailure(req.url, err));
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
