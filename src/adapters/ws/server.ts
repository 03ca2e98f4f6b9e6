/**
 * `serve`: an HTTP server that upgrades WebSocket requests to a handler, serves
 * ordinary routes beside them, and shuts down gracefully.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { DynamicSupervisor } from '../../runtime/dynamic-supervisor.js';
import { exit, isAlive } from '../../runtime/process.js';
import type { Pid } from '../../runtime/pid.js';
import type { WebSock } from '../../websock/behaviour.js';
import type { Connection } from '../../websock/connection.js';
import type { ConnectionOptions } from '../../websock/options.js';
import { closeOnAbort, listenOptions, wsUrl, maxConnectionsOption, type RunningServer, type ServeListenOptions } from '../../websock/listen-options.js';
import { shutdownConnections } from '../../websock/supervision.js';
import { failUpgrade, resolveOptions, upgradeInto, type ConnectionSink } from './upgrade.js';

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

const SERVE_KEYS = new Set(['port', 'host', 'path', 'args', 'onRequest', 'signal', 'maxConnections', 'mounts']);

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
  const connectionOpts: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts)) if (!SERVE_KEYS.has(k)) connectionOpts[k] = v;
  const o = resolveOptions(connectionOpts as ConnectionOptions);
  const { port, host, path } = listenOptions(opts);
  if (
    opts.mounts !== undefined &&
    !(Array.isArray(opts.mounts) && opts.mounts.every((m: Partial<ServeMount>) => typeof m?.handleRequest === 'function' && typeof m.handleUpgrade === 'function' && typeof m.close === 'function'))
  ) {
    throw new TypeError(`option 'mounts' must be a list of { handleRequest, handleUpgrade, close } (such as mountObserver())`);
  }

  const maxConnections = maxConnectionsOption(opts.maxConnections);
  const supervisor = await DynamicSupervisor.start({ maxChildren: maxConnections });
  const live = new Set<Connection<unknown>>();
  const sink: ConnectionSink = {
    supervisor,
    add(conn) {
      live.add(conn);
    },
    remove(conn) {
      live.delete(conn);
    },
  };
  let closing = false;

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
    if (closing) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    for (const m of mounts) if (m.handleUpgrade(req, socket, head)) return;
    if (path !== undefined && (req.url ?? '/').split('?')[0] !== path) {
      const body = `no WebSocket endpoint at ${req.url ?? '/'}`;
      socket.end(`HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return;
    }
    let args: A;
    try {
      args = typeof opts.args === 'function' ? (opts.args as (req: IncomingMessage) => A)(req) : (opts.args as A);
    } catch (err) {
      failUpgrade(req, socket, err);
      logUpgradeFailure(req, err);
      return;
    }
    logFailure(req, upgradeInto(sink, req, socket, head, handler, args, o));
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
    await DynamicSupervisor.stop(supervisor).catch(() => undefined);
    throw err;
  }
  const actualPort = (httpServer.address() as AddressInfo).port;

  let closed: Promise<void> | undefined;
  const close = (timeoutMs: number = o.shutdownTimeout): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      await Promise.all(mounts.map((m) => m.close(timeoutMs)));
      const stopped = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      httpServer.closeIdleConnections();
      await shutdownConnections(supervisor, timeoutMs, live, () => {
        for (const conn of live) {
          exit(conn.pid, 'kill');
          conn.abortSocket();
        }
      });
      live.clear();
      httpServer.closeAllConnections();
      await stopped;
    })();
    return closed;
  };

  await closeOnAbort(opts.signal, close);

  return {
    httpServer,
    port: actualPort,
    supervisor,
    url: wsUrl(host, actualPort),
    connections: () => [...live].map((c) => c.pid).filter(isAlive),
    close,
    [Symbol.asyncDispose]: () => close(),
  };
}

// Listeners that live as long as a socket are module functions: a closure made in the
// 'upgrade' listener would keep that request (about 1 KiB) alive with the connection.
function destroyOnError(this: Duplex): void {
  this.destroy();
}

function logFailure(req: IncomingMessage, upgrading: Promise<unknown>): void {
  upgrading.catch((err: unknown) => logUpgradeFailure(req, err));
}

/** The client got a 500; the server's operator gets the error. */
function logUpgradeFailure(req: IncomingMessage, err: unknown): void {
  process.stderr.write(`[beamsock] upgrade of ${req.url ?? '/'} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
}
