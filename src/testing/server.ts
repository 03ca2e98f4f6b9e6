/**
 * `startServer`: the ws adapter's `serve` on an ephemeral port of 127.0.0.1, with
 * a `connect` that opens test clients to it and a shutdown that takes them down
 * too, for integration tests over real sockets.
 */
import { serve, type BeamsockServer, type ServeOptions } from '../adapters/ws/server.js';
import type { WebSock } from '../websock/behaviour.js';
import { connect, type ClientOptions, type TestClient } from './client.js';

/** Options of `startServer`: those of `serve`, but the kit picks the port and host. */
export type TestServerOptions<A> = Omit<ServeOptions<A>, 'port' | 'host'>;

/**
 * A running server for one test. Disposing it (`await using`, or `close()`)
 * shuts the server down gracefully and cuts any client still open.
 */
export interface TestServer extends BeamsockServer {
  /**
   * Opens a client to `path` (default '/') on this server.
   *
   * @returns the connected client.
   * @throws UpgradeRefusedError (rejects) when the server refuses the upgrade.
   */
  connect(path?: string, opts?: ClientOptions): Promise<TestClient>;
  /** The clients opened with `connect`, in order. */
  readonly clients: readonly TestClient[];
}

/**
 * Starts `handler` on a real ws server at 127.0.0.1 on a free port.
 *
 * @returns the running server and its `connect`.
 * @throws TypeError for invalid options (as `serve`).
 * @example
 * await using server = await startServer(EchoServer, { timeout: 5_000 });
 * const client = await server.connect('/');
 * client.sendText('hi');
 * await client.assertReceive(['text', 'Echo: hi']);
 */
export async function startServer<S, A>(handler: WebSock<S, A>, opts: TestServerOptions<A> = {}): Promise<TestServer> {
  const server = await serve(handler, { ...opts, port: 0, host: '127.0.0.1' });
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
