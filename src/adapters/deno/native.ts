/**
 * The parts of Deno's server API the adapter uses, typed structurally so that
 * beamsock needs neither Deno's type declarations nor the `Deno` global to
 * compile. Deno's own `WebSocket`, `ServeHandlerInfo` and `HttpServer` satisfy
 * these interfaces.
 */

/**
 * The server side of a `Deno.upgradeWebSocket`: a WHATWG `WebSocket`.
 *
 * @example
 * const { socket, response }: { socket: DenoWebSocket; response: Response } = Deno.upgradeWebSocket(req);
 */
export interface DenoWebSocket {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Bytes given to `send` and not yet written to the network. */
  readonly bufferedAmount: number;
  binaryType: 'blob' | 'arraybuffer';
  send(data: string | Uint8Array): void;
  /** Sends a close frame (any valid code on the server side) and waits for the peer's. */
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { readonly data: string | ArrayBuffer }) => void) | null;
  onclose: ((ev: { readonly code: number; readonly reason: string; readonly wasClean: boolean }) => void) | null;
  onerror: ((ev: { readonly message?: string }) => void) | null;
}

/**
 * What `Deno.serve` hands its handler beside the request.
 *
 * @example
 * Deno.serve((req, info: DenoServeHandlerInfo) => echo.upgrade(req, info));
 */
export interface DenoServeHandlerInfo {
  /** Readable only before the request is upgraded: Deno answers "Request closed" after. */
  readonly remoteAddr: { readonly hostname: string; readonly port: number };
}

/**
 * `Deno.serve`'s handler.
 *
 * @example
 * const handler: DenoServeHandler = (req, info) => echo.upgrade(req, info);
 */
export type DenoServeHandler = (req: Request, info: DenoServeHandlerInfo) => Response | Promise<Response>;

/**
 * The server `Deno.serve` returns, as far as `serve` uses it.
 *
 * @example
 * const server = await serve(Echo, { port: 0 });
 * console.log(server.denoServer.addr.port);
 */
export interface DenoHttpServer {
  readonly addr: { readonly hostname: string; readonly port: number };
  /** Stops listening and waits for the requests in flight (upgraded sockets are not waited for). */
  shutdown(): Promise<void>;
  readonly finished: Promise<void>;
}

/**
 * `Deno.serve`'s options, as far as `serve` uses them.
 *
 * @example
 * const options: DenoServeOptions = { port: 0, hostname: '127.0.0.1', handler: (req, info) => echo.upgrade(req, info) };
 */
export interface DenoServeOptions {
  readonly port: number;
  readonly hostname: string;
  readonly onListen?: (addr: unknown) => void;
  readonly handler: DenoServeHandler;
}

/**
 * The `Deno` global, as far as the adapter uses it.
 *
 * @example
 * declare const Deno: DenoGlobal;
 */
export interface DenoGlobal {
  serve(options: DenoServeOptions): DenoHttpServer;
  upgradeWebSocket(req: Request, options: { protocol?: string; idleTimeout?: number }): { socket: DenoWebSocket; response: Response };
}

/**
 * The `Deno` global, or a TypeError telling a Node user where to go instead.
 * @internal
 * @example
 * const deno = denoRuntime('serve() from beamsock/deno');
 */
export function denoRuntime(what: string): DenoGlobal {
  const deno = (globalThis as { Deno?: DenoGlobal }).Deno;
  if (deno === undefined || typeof deno.upgradeWebSocket !== 'function') {
    throw new TypeError(`${what} needs the Deno runtime (globalThis.Deno is undefined); on Node, use serve() from 'beamsock/ws'`);
  }
  return deno;
}
