/**
 * `startServer`: a server adapter's `serve` (the ws adapter's unless told
 * otherwise) on an ephemeral port of 127.0.0.1, with a `connect` that opens test
 * clients to it and a shutdown that takes them down too, for integration tests
 * over real sockets.
 */
import { serve as wsServe, type BeamsockServer, type ServeOptions } from '../adapters/ws/server.js';
import type { WebSock } from '../websock/behaviour.js';
import type { RunningServer } from '../websock/listen-options.js';
import { connect, type ClientOptions, type TestClient } from './client.js';

/** Options of `startServer` on the ws adapter: those of `serve`, but the kit picks the port and host. */
export type TestServerOptions<A> = Omit<ServeOptions<A>, 'port' | 'host'>;

/**
 * An adapter's `serve`: `beamsock/ws`'s, `beamsock/bun`'s, `beamsock/deno`'s.
 *
 * @example
 * import { serve } from 'beamsock/bun';
 * const onBun: AdapterServe = serve;
 */
export type AdapterServe = <S, A>(handler: WebSock<S, A>, opts: never) => Promise<RunningServer>;

/**
 * Options of `startServer` on another adapter: `serve` is that adapter's `serve`,
 * the rest are its options but the port and host (the kit picks them).
 *
 * @example
 * import { serve } from 'beamsock/bun';
 * const opts: AdapterTestServerOptions<typeof serve> = { serve, path: '/ws', timeout: 5_000 };
 */
export type AdapterTestServerOptions<F extends AdapterServe> = Omit<NonNullable<Parameters<F>[1]>, 'port' | 'host'> & { readonly serve: F };

/**
 * A running server for one test: the adapter's own server (`httpServer` on ws,
 * `bunServer` on Bun) with `connect`. Disposing it (`await using`, or `close()`)
 * shuts the server down gracefully and cuts any client still open.
 */
export type TestServer<R extends RunningServer = BeamsockServer> = R & {
  /**
   * Opens a client to `path` (default '/') on this server.
   *
   * @returns the connected client.
   * @throws UpgradeRefusedError (rejects) when the server refuses the upgrade.
   */
  connect(path?: string, opts?: ClientOptions): Promise<TestClient>;
  /** The clients opened with `connect`, in order. */
  readonly clients: readonly TestClient[];
};

/**
 * Starts `handler` on a real server at 127.0.0.1 on a free port: the ws
 * adapter's, or the adapter whose `serve` is passed as the `serve` option.
 *
 * @returns the running server and its `connect`.
 * @throws TypeError for invalid options (as `serve`).
 * @example
 * await using server = await startServer(EchoServer, { timeout: 5_000 });
 * const client = await server.connect('/');
 * client.sendText('hi');
 * await client.assertReceive(['text', 'Echo: hi']);
 * // the same on Bun (run under Bun): import { serve } from 'beamsock/bun';
 * await using onBun = await startServer(EchoServer, { serve, timeout: 5_000 });
 */
export function startServer<S, A>(handler: WebSock<S, A>, opts?: TestServerOptions<A>): Promise<TestServer>;
export function startServer<S, A, F extends AdapterServe>(handler: WebSock<S, A>, opts: AdapterTestServerOptions<F>): Promise<TestServer<Awaited<ReturnType<F>>>>;
export async function startServer<S, A>(handler: WebSock<S, A>, opts: object = {}): Promise<TestServer<RunningServer>> {
  const { serve = wsServe, ...serveOpts } = opts as { readonly serve?: (handler: WebSock<S, A>, opts: object) => Promise<RunningServer> };
  if (typeof serve !== 'function') throw new TypeError(`option 'serve' must be an adapter's serve function (such as serve from 'beamsock/bun'), got ${String(serve)}`);
  const server = await serve(handler, { ...serveOpts, port: 0, host: '127.0.0.1' });
  const clients: TestClient[] = [];
  let closing: Promise<void> | undefined;
  const close = (timeoutMs?: number): Promise<void> => {
    closing ??= (async () => {
      await server.close(timeoutMs);
      for (const c of clients) void c.drop();
      await Promise.all(clients.map((c) => c.closed));
    })();
    return closing;
  };
  return {
    ...server,
    clients,
    async connect(path = '/', clientOpts?: ClientOptions): Promise<TestClient> {
      if (!path.startsWith('/')) throw new TypeError(`connect(path): path must start with '/', got ${JSON.stringify(path)}`);
      const client = await connect(server.url + path, clientOpts);
      clients.push(client);
      return client;
    },
    close,
    [Symbol.asyncDispose]: () => close(),
  };
}
