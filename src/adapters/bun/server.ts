/**
 * `serve` on Bun: `Bun.serve` with WebSocket upgrades run by a handler, ordinary
 * routes beside them, and a graceful shutdown — the same shape as `beamsock/ws`'s
 * `serve`, so a program switches server by switching import.
 */
import type { WebSock } from '../../websock/behaviour.js';
import { connectionOptionsOf, listenOptions, onPath, type RunningServer, type ServeListenOptions } from '../../websock/listen-options.js';
import type { ConnectionOptions } from '../../websock/options.js';
import { bunRuntime, type BunServer } from './native.js';
import { bunServing, pathOf, textResponse } from './upgrade.js';

/**
 * Something mounted beside the handler on a `serve` server (the Bun twin of
 * `beamsock/ws`'s `ServeMount`): it sees each request first, and is closed with
 * the server. Its own WebSocket upgrades may use any `createBunHandler`: the
 * server's `websocket` handlers serve every beamsock connection.
 */
export interface BunServeMount {
  /** Its answer (undefined once it upgraded the request), or false when the request is not its own. */
  handleFetch(req: Request, server: BunServer): Response | Promise<Response> | undefined | false;
  close(timeoutMs?: number): Promise<void>;
}

/** Options of `serve`: where to listen and what to upgrade, plus every connection option. */
export interface ServeOptions<A> extends ConnectionOptions, ServeListenOptions {
  /** What `init` receives: a value, or a function of the upgrade request. */
  readonly args?: A | ((req: Request) => A);
  /** Ordinary HTTP requests (not upgrades), as a Bun `fetch` handler. Default: 404 for everything. */
  readonly onRequest?: (req: Request, server: BunServer) => Response | Promise<Response>;
  /** Mounted beside the handler, asked first. */
  readonly mounts?: readonly BunServeMount[];
}

/** A running server: what `Bun.serve` returned beside what every adapter's server has. */
export interface BeamsockServer extends RunningServer {
  /** The server `Bun.serve` returned. */
  readonly bunServer: BunServer;
}

/**
 * Starts `Bun.serve` with WebSocket upgrades run by `handler`, each connection
 * in its own process. Options are checked before anything listens. A request
 * with an `Upgrade` header is an upgrade attempt (refused with 400, 403 or 426
 * and the reason when invalid); any other goes to `onRequest`.
 *
 * @throws TypeError (as a rejection) for an invalid option, or when not running on Bun.
 * @example
 * const server = await serve(EchoServer, { port: 4000 });
 * console.log(`listening on ${server.url}`);
 * // ... later
 * await server.close();
 */
export async function serve<S, A>(handler: WebSock<S, A>, opts: ServeOptions<A> = {}): Promise<BeamsockServer> {
  const bun = bunRuntime('serve() from beamsock/bun');
  const { port, host, path } = listenOptions(opts);
  if (opts.mounts !== undefined && !(Array.isArray(opts.mounts) && opts.mounts.every((m: Partial<BunServeMount>) => typeof m?.handleFetch === 'function' && typeof m.close === 'function'))) {
    throw new TypeError(`option 'mounts' must be a list of { handleFetch, close }`);
  }
  const mounts = opts.mounts ?? [];
  const onRequest = opts.onRequest ?? (() => textResponse(404, 'not found'));

  const { serving, upgrade, websocket } = bunServing(handler, { ...connectionOptionsOf(opts), args: opts.args, maxConnections: opts.maxConnections }, 'server options');
  let bunServer: BunServer;
  try {
    bunServer = bun.serve({
      port,
      hostname: host,
      fetch(req, server) {
        const upgrading = req.headers.has('upgrade');
        if (!(upgrading && serving.isClosing)) {
          for (const m of mounts) {
            const answer = m.handleFetch(req, server);
            if (answer !== false) return answer;
          }
        }
        if (!upgrading) return onRequest(req, server);
        if (path !== undefined && !onPath(pathOf(req.url), path)) return textResponse(404, `no WebSocket endpoint at ${pathOf(req.url)}`);
        return upgrade(req, server);
      },
      websocket,
    });
  } catch (err) {
    await serving.close(0);
    throw err;
  }

  let closed: Promise<void> | undefined;
  const close = (timeoutMs?: number): Promise<void> => {
    closed ??= (async () => {
      // Refuses new upgrades at once, while the mounts close.
      const connections = serving.close(timeoutMs);
      await Promise.all(mounts.map((m) => m.close(timeoutMs)));
      // Stop listening; the connections already open are ended by the core.
      const stopped = bunServer.stop(false);
      await connections;
      await bunServer.stop(true);
      await stopped;
    })();
    return closed;
  };

  return { bunServer, ...(await serving.running(bunServer.port, host, close, opts.signal)) };
}
