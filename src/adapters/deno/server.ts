/**
 * `serve` on Deno: `Deno.serve` with WebSocket upgrades run by a handler,
 * ordinary routes beside them, and a graceful shutdown — the same shape as
 * `beamsock/ws`'s and `beamsock/bun`'s `serve`, so a program switches server by
 * switching import.
 */
import type { WebSock } from '../../websock/behaviour.js';
import { connectionOptionsOf, listenOptions, onPath, type RunningServer, type ServeListenOptions } from '../../websock/listen-options.js';
import type { ConnectionOptions } from '../../websock/options.js';
import { denoRuntime, type DenoHttpServer, type DenoServeHandlerInfo } from './native.js';
import { pathOf, textResponse } from '../../websock/fetch.js';
import { denoServing } from './upgrade.js';

/**
 * Options of `serve`: where to listen and what to upgrade, plus every connection option.
 *
 * @example
 * const options: ServeOptions<null> = { port: 4000, path: '/ws', args: null, onRequest: () => new Response('hi') };
 */
export interface ServeOptions<A> extends ConnectionOptions, ServeListenOptions {
  /** What `init` receives: a value, or a function of the upgrade request. */
  readonly args?: A | ((req: Request) => A);
  /** Ordinary HTTP requests (not upgrades), as a `Deno.serve` handler. Default: 404 for everything. */
  readonly onRequest?: (req: Request, info: DenoServeHandlerInfo) => Response | Promise<Response>;
}

/**
 * A running server: what `Deno.serve` returned beside what every adapter's server has.
 *
 * @example
 * await using server: BeamsockServer = await serve(Echo, { port: 0 });
 */
export interface BeamsockServer extends RunningServer {
  /** The server `Deno.serve` returned. */
  readonly denoServer: DenoHttpServer;
}

/**
 * Starts `Deno.serve` with WebSocket upgrades run by `handler`, each connection
 * in its own process. Options are checked before anything listens. A request
 * with an `Upgrade` header is an upgrade attempt (refused with 400, 403 or 426
 * and the reason when invalid); any other goes to `onRequest`.
 *
 * @throws TypeError (as a rejection) for an invalid option, for one Deno cannot
 *   honour, or when not running on Deno.
 * @example
 * const server = await serve(EchoServer, { port: 4000 });
 * console.log(`listening on ${server.url}`);
 * // ... later
 * await server.close();
 */
export async function serve<S, A>(handler: WebSock<S, A>, opts: ServeOptions<A> = {}): Promise<BeamsockServer> {
  const deno = denoRuntime('serve() from beamsock/deno');
  const { port, host, path } = listenOptions(opts);
  const onRequest = opts.onRequest ?? (() => textResponse(404, 'not found'));
  const { serving, upgrade } = denoServing(handler, { ...connectionOptionsOf(opts), args: opts.args, maxConnections: opts.maxConnections }, 'server options');
  let denoServer: DenoHttpServer;
  try {
    denoServer = deno.serve({
      port,
      hostname: host,
      onListen: () => undefined,
      handler(req, info) {
        if (!req.headers.has('upgrade')) return onRequest(req, info);
        if (!onPath(pathOf(req.url), path)) return textResponse(404, `no WebSocket endpoint at ${pathOf(req.url)}`);
        return upgrade(req, info);
      },
    });
  } catch (err) {
    await serving.close(0);
    throw err;
  }

  let closed: Promise<void> | undefined;
  const close = (timeoutMs?: number): Promise<void> => {
    // Deno's shutdown cuts the WebSockets still open, so the connections are closed (1001) first,
    // upgrades refused (503) meanwhile; it then cuts what the close left behind.
    closed ??= serving.close(timeoutMs).then(() => denoServer.shutdown());
    return closed;
  };

  return { denoServer, ...(await serving.running(denoServer.addr.port, host, close, opts.signal)) };
}
