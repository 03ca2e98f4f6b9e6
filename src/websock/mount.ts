/**
 * Mounts on servers that speak Fetch (`Bun.serve`, `Deno.serve`): something
 * served beside a `serve()` handler, such as the observer, asked first about
 * every request. The server lends it what only the server has: the client's
 * address and a way to upgrade the request to a connection of another handler.
 * A mount that uses only this interface runs on every Fetch server unchanged;
 * each adapter's context may add its own native handles.
 */
import type { WebSock } from './behaviour.js';
import type { ConnectionOptions } from './options.js';

/**
 * What a mount asks `FetchMountContext.upgrade` to start.
 *
 * @example
 * const how: MountUpgrade<null, string> = { handler: AdminSocket, args: 'admin', options: { timeout: Infinity }, path: '/admin/ws' };
 */
export interface MountUpgrade<S, A> {
  readonly handler: WebSock<S, A>;
  /** What `init` receives. */
  readonly args: A;
  /** Connection options, checked once per options object (keep it in a constant). Default: the defaults. */
  readonly options?: ConnectionOptions;
  /**
   * What the connection records as its path (telemetry, the observer) instead of
   * the request's path and query: keeps a token in the query out of both.
   */
  readonly path?: string;
}

/**
 * What the server lends a mount for one request.
 *
 * @example
 * const mount: FetchMount = {
 *   handleFetch(req, context) {
 *     if (new URL(req.url).pathname !== '/admin/ws') return false;
 *     return context.upgrade({ handler: AdminSocket, args: { from: context.remoteAddress } });
 *   },
 *   close: async () => undefined,
 * };
 */
export interface FetchMountContext {
  /** The client's IP address as the server saw it, undefined when the server cannot tell. */
  readonly remoteAddress: string | undefined;
  /**
   * Upgrades this request to a connection running `handler`, supervised by the
   * server and closed with it, with the same validation, origin check and
   * subprotocol selection as the server's own upgrades. Returns what `fetch` must
   * answer: undefined (Bun) or the 101 (Deno) once the server has the socket,
   * else the refusal (400/426/403, 503 while closing, 500 when `args` or a check
   * throws). Throws TypeError for invalid options.
   */
  upgrade<S, A>(how: MountUpgrade<S, A>): Response | undefined | Promise<Response | undefined>;
}

/**
 * Something mounted beside the handler on a Fetch server's `serve`: it sees each
 * request first, and is closed with the server, before the server's own
 * connections. `mountObserver()` returns one.
 *
 * @example
 * const health: FetchMount = {
 *   handleFetch: (req) => (new URL(req.url).pathname === '/health' ? new Response('ok') : false),
 *   close: async () => undefined,
 * };
 * await serve(EchoServer, { port: 4000, mounts: [health] });
 */
export interface FetchMount<C extends FetchMountContext = FetchMountContext> {
  /** Its answer (undefined once it upgraded the request), or false when the request is not its own. */
  handleFetch(req: Request, context: C): Response | Promise<Response | undefined> | undefined | false;
  /** Closes what it serves (its connections), within `timeoutMs` when given. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * True when `mounts` is undefined or a list of `FetchMount`s, for `serve()` to
 * check its option before anything listens.
 *
 * @example
 * if (!isFetchMountList(opts.mounts)) throw new TypeError(`option 'mounts' must be a list of { handleFetch, close }`);
 */
export function isFetchMountList(mounts: unknown): mounts is readonly FetchMount[] | undefined {
  return mounts === undefined || (Array.isArray(mounts) && mounts.every((m: Partial<FetchMount> | null) => typeof m?.handleFetch === 'function' && typeof m.close === 'function'));
}

/**
 * The serving cores a server starts for its mounts' upgrades: one per handler
 * and options object, made by the adapter's `create` on first use, closed with
 * the server. Generic over what the adapter keeps beside each core (its upgrade
 * function).
 *
 * @example
 * const mounted = new MountServings((handler, options) => bunServing(handler, options ?? {}, 'mount upgrade options'));
 * mounted.for(how.handler, how.options).upgrade(req, server, how.args, how.path);
 * // at close, after the mounts closed:
 * await mounted.close(timeoutMs);
 */
export class MountServings<M extends { readonly serving: { close(timeoutMs?: number): Promise<void> } }> {
  readonly #byHandler = new Map<object, Map<object, M>>();
  readonly #create: (handler: WebSock<unknown, unknown>, options: ConnectionOptions | undefined) => M;

  constructor(create: (handler: WebSock<unknown, unknown>, options: ConnectionOptions | undefined) => M) {
    this.#create = create;
  }

  /** The core for `handler` with `options`, started on first use. */
  for(handler: WebSock<unknown, unknown>, options: ConnectionOptions | undefined): M {
    let byOptions = this.#byHandler.get(handler);
    if (byOptions === undefined) this.#byHandler.set(handler, (byOptions = new Map()));
    // Without options, the map itself stands for "the defaults".
    const key = options ?? byOptions;
    let mounted = byOptions.get(key);
    if (mounted === undefined) byOptions.set(key, (mounted = this.#create(handler, options)));
    return mounted;
  }

  /** Closes every core's connections (1001), as the server's own `close` does. */
  async close(timeoutMs: number | undefined): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const byOptions of this.#byHandler.values()) for (const m of byOptions.values()) closing.push(m.serving.close(timeoutMs));
    await Promise.all(closing);
  }
}
