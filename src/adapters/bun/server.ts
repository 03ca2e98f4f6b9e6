/**
 * `serve` on Bun: `Bun.serve` with WebSocket upgrades run by a handler, ordinary
 * routes beside them, and a graceful shutdown — the same shape as `beamsock/ws`'s
 * `serve`, so a program switches server by switching import.
 */
import type { Authorize } from '../../websock/admission.js';
import type { WebSock } from '../../websock/behaviour.js';
import { connectionOptionsOf, listenOptions, type RunningServer, type ServeListenOptions } from '../../websock/listen-options.js';
import { isFetchMountList, MountServings, type FetchMount, type FetchMountContext, type MountUpgrade } from '../../websock/mount.js';
import type { ConnectionOptions } from '../../websock/options.js';
import { bunRuntime, type BunServer } from './native.js';
import { fetchRoute, pathOf, textResponse } from '../../websock/fetch.js';
import { bunServing } from './upgrade.js';

/**
 * What a mount on Bun's `serve` is lent for one request: the client's address
 * and an upgrade to any handler (as on every Fetch server), and the Bun server
 * itself, for a mount that upgrades with its own `createBunHandler`.
 *
 * @example
 * const mount: BunServeMount = { handleFetch: (req, { server }) => (isMine(req) ? mine.upgrade(req, server) : false), close: () => mine.closeConnections() };
 */
export interface BunMountContext extends FetchMountContext {
  readonly server: BunServer;
}

/**
 * Something mounted beside the handler on a `serve` server (the Bun twin of
 * `beamsock/ws`'s `ServeMount`), such as `mountObserver()`: it sees each request
 * first, and is closed with the server. Its upgrades (`context.upgrade`, or any
 * `createBunHandler`'s with `context.server`) are served by the server's
 * `websocket` handlers, which serve every beamsock connection.
 *
 * @example
 * await serve(EchoServer, { port: 4000, mounts: [mountObserver()] });
 */
export type BunServeMount = FetchMount<BunMountContext>;

/** Options of `serve`: where to listen and what to upgrade, plus every connection option. */
export interface ServeOptions<A> extends ConnectionOptions, ServeListenOptions {
  /** What `init` receives: a value, or a function of the upgrade request. */
  readonly args?: A | ((req: Request) => A);
  /** Lets a request through (with `init`'s args, if it gives them) or refuses it with 401 or 403; see `Authorize`. */
  readonly authorize?: Authorize<A, Request>;
  /**
   * Ordinary HTTP requests, as a Bun `fetch` handler: not upgrades (requests
   * with an `Upgrade` header), and not for `path` when it is set (those get 426).
   * Default: 404 for everything.
   */
  readonly onRequest?: (req: Request, server: BunServer) => Response | Promise<Response>;
  /** Mounted beside the handler, asked first. */
  readonly mounts?: readonly BunServeMount[];
  /**
   * Bun's `reusePort`: several processes (say the workers of `runOnCores` from
   * `beamsock/cluster`) listen on one port and the kernel spreads the connections
   * over them. Linux only (Bun ignores it elsewhere). Default false.
   */
  readonly reusePort?: boolean;
}

/** A running server: what `Bun.serve` returned beside what every adapter's server has. */
export interface BeamsockServer extends RunningServer {
  /** The server `Bun.serve` returned. */
  readonly bunServer: BunServer;
}

/**
 * Starts `Bun.serve` with WebSocket upgrades run by `handler`, each connection
 * in its own process. Options are checked before anything listens. Mounts are
 * asked first; then a request with an `Upgrade` header is an upgrade attempt
 * (refused with 400, 403 or 426 and the reason when invalid, 404 off `path`), a
 * plain request to `path` gets 426 with `Upgrade: websocket`, and any other goes
 * to `onRequest`.
 *
 * @throws TypeError (as a rejection) for an invalid option, for `upgradeTimeout`
 *   (Bun keeps its own 10 s on a request head, which cannot be changed), or
 *   when not running on Bun.
 * @example
 * const server = await serve(EchoServer, { port: 4000 });
 * console.log(`listening on ${server.url}`);
 * // ... later
 * await server.close();
 */
export async function serve<S, A>(handler: WebSock<S, A>, opts: ServeOptions<A> = {}): Promise<BeamsockServer> {
  const bun = bunRuntime('serve() from beamsock/bun');
  const { reusePort = false, ...listening } = opts;
  if (typeof reusePort !== 'boolean') throw new TypeError(`option 'reusePort' must be a boolean, got ${String(reusePort)}`);
  const { port, host, path } = listenOptions(listening);
  if (opts.upgradeTimeout !== undefined) {
    throw new TypeError(
      `option 'upgradeTimeout' cannot be honoured on Bun: Bun cuts a connection that has not sent a whole request head after its own 10 s, whatever it is told; ` +
        `remove the option (Bun's 10 s is beamsock's default), or use 'beamsock/ws' to choose another`,
    );
  }
  if (!isFetchMountList(opts.mounts)) throw new TypeError(`option 'mounts' must be a list of { handleFetch, close } (such as mountObserver())`);
  const mounts = opts.mounts ?? [];
  const onRequest = opts.onRequest ?? (() => textResponse(404, 'not found'));

  const { serving, upgrade, websocket } = bunServing(handler, { ...connectionOptionsOf(listening), args: opts.args, authorize: opts.authorize, maxConnections: opts.maxConnections }, 'server options');
  const mounted = new MountServings<MountedUpgrade>((h, options) => bunServing(h, options ?? {}, 'mount upgrade options'));
  let bunServer: BunServer;
  try {
    bunServer = bun.serve({
      port,
      hostname: host,
      reusePort,
      fetch(req, server) {
        const upgrading = req.headers.has('upgrade');
        if (mounts.length > 0 && !(upgrading && serving.isClosing)) {
          const context = new MountContext(req, server, mounted);
          for (const m of mounts) {
            const answer = m.handleFetch(req, context);
            if (answer !== false) return answer;
          }
        }
        const target = pathOf(req.url);
        const route = fetchRoute(target, upgrading, path);
        if (route === 'request') return onRequest(req, server);
        return route === 'upgrade' ? upgrade(req, server, undefined, target) : route;
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
      await Promise.all([connections, mounted.close(timeoutMs)]);
      await bunServer.stop(true);
      await stopped;
    })();
    return closed;
  };

  return { bunServer, ...(await serving.running(bunServer.port, host, close, opts.signal)) };
}

type MountedUpgrade = ReturnType<typeof bunServing<unknown, unknown>>;

class MountContext implements BunMountContext {
  readonly #req: Request;
  readonly #mounted: MountServings<MountedUpgrade>;

  constructor(
    req: Request,
    readonly server: BunServer,
    mounted: MountServings<MountedUpgrade>,
  ) {
    this.#req = req;
    this.#mounted = mounted;
  }

  get remoteAddress(): string | undefined {
    return this.server.requestIP(this.#req)?.address;
  }

  upgrade<S, A>(how: MountUpgrade<S, A>): Response | undefined | Promise<Response | undefined> {
    return this.#mounted.for(how.handler as WebSock<unknown, unknown>, how.options).upgrade(this.#req, this.server, how.args, how.path);
  }
}
