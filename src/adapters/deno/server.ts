/**
 * `serve` on Deno: `Deno.serve` with WebSocket upgrades run by a handler,
 * ordinary routes and mounts beside them, and a graceful shutdown — the same
 * shape as `beamsock/ws`'s and `beamsock/bun`'s `serve`, so a program switches
 * server by switching import.
 */
import type { Authorize } from '../../websock/admission.js';
import type { WebSock } from '../../websock/behaviour.js';
import { fetchRoute, pathOf, textResponse } from '../../websock/fetch.js';
import { connectionOptionsOf, listenOptions, type RunningServer, type ServeListenOptions } from '../../websock/listen-options.js';
import { isFetchMountList, MountServings, type FetchMount, type FetchMountContext, type MountUpgrade } from '../../websock/mount.js';
import type { ConnectionOptions } from '../../websock/options.js';
import { denoRuntime, type DenoHttpServer, type DenoServeHandlerInfo } from './native.js';
import { denoServing } from './upgrade.js';

/**
 * What a mount on Deno's `serve` is lent for one request: the client's address
 * and an upgrade to any handler (as on every Fetch server), and the request's
 * `Deno.serve` info, for a mount that upgrades with its own `createDenoHandler`.
 *
 * @example
 * const mount: DenoServeMount = { handleFetch: (req, { info }) => (isMine(req) ? mine.upgrade(req, info) : false), close: () => mine.closeConnections() };
 */
export interface DenoMountContext extends FetchMountContext {
  readonly info: DenoServeHandlerInfo;
}

/**
 * Something mounted beside the handler on a `serve` server, such as
 * `mountObserver()`: it sees each request first, and is closed with the server.
 *
 * @example
 * await serve(EchoServer, { port: 4000, mounts: [mountObserver()] });
 */
export type DenoServeMount = FetchMount<DenoMountContext>;

/**
 * Options of `serve`: where to listen and what to upgrade, plus every connection option.
 *
 * @example
 * const options: ServeOptions<null> = { port: 4000, path: '/ws', args: null, onRequest: () => new Response('hi') };
 */
export interface ServeOptions<A> extends ConnectionOptions, ServeListenOptions {
  /** What `init` receives: a value, or a function of the upgrade request. */
  readonly args?: A | ((req: Request) => A);
  /** Lets a request through (with `init`'s args, if it gives them) or refuses it with 401 or 403; see `Authorize`. */
  readonly authorize?: Authorize<A, Request>;
  /**
   * Ordinary HTTP requests, as a `Deno.serve` handler: not upgrades (requests
   * with an `Upgrade` header), and not for `path` when it is set (those get 426).
   * Default: 404 for everything.
   */
  readonly onRequest?: (req: Request, info: DenoServeHandlerInfo) => Response | Promise<Response>;
  /** Mounted beside the handler, asked first. */
  readonly mounts?: readonly DenoServeMount[];
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
 * in its own process. Options are checked before anything listens. Mounts are
 * asked first; then a request with an `Upgrade` header is an upgrade attempt
 * (refused with 400, 403 or 426 and the reason when invalid, 404 off `path`), a
 * plain request to `path` gets 426 with `Upgrade: websocket`, and any other goes
 * to `onRequest`.
 *
 * @throws TypeError (as a rejection) for an invalid option, for one Deno cannot
 *   honour (`upgradeTimeout` among them: Deno.serve never times out a request
 *   head), or when not running on Deno.
 * @example
 * const server = await serve(EchoServer, { port: 4000 });
 * console.log(`listening on ${server.url}`);
 * // ... later
 * await server.close();
 */
export async function serve<S, A>(handler: WebSock<S, A>, opts: ServeOptions<A> = {}): Promise<BeamsockServer> {
  const deno = denoRuntime('serve() from beamsock/deno');
  const { port, host, path } = listenOptions(opts);
  if (opts.upgradeTimeout !== undefined) {
    throw new TypeError(
      `option 'upgradeTimeout' cannot be honoured on Deno: Deno.serve has no timer on a request head (denoland/deno#3515), so a client that sends its head slowly or not at all is never cut; ` +
        `remove the option and put a proxy with a header timeout in front, or use 'beamsock/ws' or 'beamsock/bun'`,
    );
  }
  if (!isFetchMountList(opts.mounts)) throw new TypeError(`option 'mounts' must be a list of { handleFetch, close } (such as mountObserver())`);
  const mounts = opts.mounts ?? [];
  const onRequest = opts.onRequest ?? (() => textResponse(404, 'not found'));

  const { serving, upgrade } = denoServing(handler, { ...connectionOptionsOf(opts), args: opts.args, authorize: opts.authorize, maxConnections: opts.maxConnections }, 'server options');
  const mounted = new MountServings<MountedUpgrade>((h, options) => denoServing(h, options ?? {}, 'mount upgrade options'));
  let denoServer: DenoHttpServer;
  try {
    denoServer = deno.serve({
      port,
      hostname: host,
      onListen: () => undefined,
      handler(req, info) {
        const upgrading = req.headers.has('upgrade');
        if (mounts.length > 0 && !(upgrading && serving.isClosing)) {
          const context = new MountContext(req, info, mounted);
          for (const m of mounts) {
            const answer = m.handleFetch(req, context);
            if (answer === false) continue;
            // A mount's upgrade always answers on Deno, its 101 or its refusal; only a broken mount gives nothing.
            return answer instanceof Promise ? answer.then(answered) : answered(answer);
          }
        }
        const target = pathOf(req.url);
        const route = fetchRoute(target, upgrading, path);
        if (route === 'request') return onRequest(req, info);
        return route === 'upgrade' ? upgrade(req, info, undefined, target) : route;
      },
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
      await Promise.all([connections, mounted.close(timeoutMs)]);
      // Deno's shutdown cuts the WebSockets still open, so it comes after the connections closed (1001);
      // it then cuts what the close left behind.
      await denoServer.shutdown();
    })();
    return closed;
  };

  return { denoServer, ...(await serving.running(denoServer.addr.port, host, close, opts.signal)) };
}

function answered(answer: Response | undefined): Response {
  return answer ?? textResponse(500, 'the mount answered nothing');
}

type MountedUpgrade = ReturnType<typeof denoServing<unknown, unknown>>;

class MountContext implements DenoMountContext {
  /** Read now: Deno forgets the peer's address once the request is upgraded. */
  readonly remoteAddress: string | undefined;
  readonly #req: Request;
  readonly #mounted: MountServings<MountedUpgrade>;

  constructor(
    req: Request,
    readonly info: DenoServeHandlerInfo,
    mounted: MountServings<MountedUpgrade>,
  ) {
    this.remoteAddress = info.remoteAddr.hostname;
    this.#req = req;
    this.#mounted = mounted;
  }

  upgrade<S, A>(how: MountUpgrade<S, A>): Response | Promise<Response> {
    return this.#mounted.for(how.handler as WebSock<unknown, unknown>, how.options).upgrade(this.#req, this.info, how.args, how.path);
  }
}
