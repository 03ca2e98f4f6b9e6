/**
 * `createDenoHandler`: a WebSock handler as an `upgrade` function for a
 * `Deno.serve` handler, with each connection run in its own process.
 *
 * Validation (websock_adapter's order and messages), the origin check and
 * subprotocol selection happen before Deno sees the request; then
 * `Deno.upgradeWebSocket` makes the 101 response (with the `headers` option and
 * the chosen subprotocol added) and the connection process starts when the
 * socket opens. Deno's own idle timeout (its pings) is off: the connection
 * process keeps the `timeout` itself, as on every server.
 */
import type { Pid } from '../../runtime/pid.js';
import type { Authorize } from '../../websock/admission.js';
import type { WebSock } from '../../websock/behaviour.js';
import { normalizeOptions, type ConnectionOptions, type ResolvedOptions } from '../../websock/options.js';
import { Serving, type Admitted } from '../../websock/serving.js';
import { pathOf, textResponse } from '../../websock/fetch.js';
import { fromFetchRequest } from '../../websock/upgrade-validation.js';
import { denoRuntime, type DenoServeHandlerInfo } from './native.js';
import { DENO_MAX_MESSAGE, DenoTransport } from './transport.js';

/**
 * The options of `createDenoHandler`: every connection option, plus what `init` receives and how many may be open.
 *
 * @example
 * const options: DenoHandlerOptions<string | null> = { args: (req) => new URL(req.url).searchParams.get('room'), maxConnections: 10_000 };
 */
export interface DenoHandlerOptions<A> extends ConnectionOptions {
  /** What `init` receives: a value, or a function of the upgrade request. `upgrade`'s own `args` wins. */
  readonly args?: A | ((req: Request) => A);
  /** Lets a request through (with `init`'s args, if it gives them, which win over `args`) or refuses it with 401 or 403; see `Authorize`. */
  readonly authorize?: Authorize<A, Request>;
  /** Connections allowed at once (the supervisor's `maxChildren`); one more is closed with 1013. Default Infinity. */
  readonly maxConnections?: number;
}

/**
 * A WebSock handler ready for `Deno.serve`.
 *
 * @example
 * const echo: DenoHandler<null> = createDenoHandler(Echo, { args: null });
 * Deno.serve((req, info) => echo.upgrade(req, info));
 */
export interface DenoHandler<A> {
  /**
   * Upgrades `req` (call it from a `Deno.serve` handler and return what it
   * returns; pass the handler's `info` for the connection's remote address):
   * the 101 response, else the refusal — 400 or 426 for an invalid upgrade,
   * 403 for a refused origin, 401 or 403 as `authorize` says, with the reason as
   * a plain-text body; 500 when `authorize`, `checkOrigin`, `subprotocols` or
   * `args` throws (the error goes to the logger); 503 while `closeConnections`
   * runs. A promise of that while an async `authorize` decides. Never throws or
   * rejects.
   */
  upgrade(req: Request, info?: DenoServeHandlerInfo, args?: A): Response | Promise<Response>;
  /** The DynamicSupervisor every connection is a temporary child of (started with the handler). */
  readonly supervisor: Promise<Pid>;
  /** Pids of the live connections. */
  connections(): Pid[];
  /**
   * Closes every connection with 1001 through the supervisor (their `terminate`
   * sees `'shutdown'`) and refuses new upgrades with 503; waits up to `timeoutMs`
   * (default the `shutdownTimeout` option) for them to end, then kills what is
   * left, and the supervisor is gone. The Deno server keeps running: shut it
   * down afterwards.
   */
  closeConnections(timeoutMs?: number): Promise<void>;
}

/**
 * Prepares `handler` for `Deno.serve`. Options are checked here, once.
 *
 * @throws TypeError for an invalid option (see `normalizeOptions`), for an
 *   option Deno cannot honour (`compress: true`, `validateUtf8: false`,
 *   `activeN`, a `maxFrameSize` over 64 MiB or unlimited: see the README's Deno
 *   section), and when not running on Deno.
 * @example
 * const echo = createDenoHandler(EchoServer, { timeout: 60_000 });
 * Deno.serve((req, info) => (new URL(req.url).pathname === '/ws' ? echo.upgrade(req, info) : new Response('hi')));
 */
export function createDenoHandler<S, A>(handler: WebSock<S, A>, options: DenoHandlerOptions<A> = {}): DenoHandler<A> {
  const { serving, upgrade } = denoServing(handler, options, 'createDenoHandler options');
  return {
    upgrade,
    supervisor: serving.supervisor,
    connections: () => serving.connections(),
    closeConnections: (timeoutMs?: number) => serving.close(timeoutMs),
  };
}

/**
 * @internal the serving core of `createDenoHandler` and `serve`, with Deno's upgrade; `context` names the options in errors.
 * `upgrade`'s `path` is what the connection records instead of the request's path and query.
 * @example
 * const { serving, upgrade } = denoServing(Echo, { timeout: 5_000 }, 'server options');
 */
export function denoServing<S, A>(
  handler: WebSock<S, A>,
  options: DenoHandlerOptions<A>,
  context: string,
): { readonly serving: Serving<A, Request>; readonly upgrade: (req: Request, info?: DenoServeHandlerInfo, args?: A, path?: string) => Response | Promise<Response> } {
  const deno = denoRuntime(context === 'server options' ? 'serve() from beamsock/deno' : 'createDenoHandler()');
  const { args, authorize, maxConnections, ...connectionOptions } = options;
  const o = resolveDenoOptions(connectionOptions, context);
  const serving = new Serving<A, Request>({ server: 'deno', handler: handler as WebSock<unknown, A>, options: o, args, authorize, maxConnections });
  const extraHeaders = Object.entries(o.headers);

  const handshake = (req: Request, remoteAddress: string | undefined, path: string, admitted: Admitted<A>): Response => {
    if (!admitted.ok) return textResponse(admitted.status, admitted.reason, admitted.headers);
    let upgraded: ReturnType<typeof deno.upgradeWebSocket>;
    try {
      // idleTimeout 0: Deno sends no pings and closes nothing on its own.
      upgraded = deno.upgradeWebSocket(req, { idleTimeout: 0 });
    } catch {
      // Only reached with earlyValidateUpgrade: false — Deno's own handshake checks failed.
      const refused = serving.refuse(path, 400, 'not a valid WebSocket upgrade request');
      return textResponse(refused.status, refused.reason);
    }
    const { socket, response } = upgraded;
    const protocol = admitted.protocol;
    // Set here rather than through upgradeWebSocket, which reads the offer split on ', ' only.
    if (protocol !== undefined) response.headers.set('Sec-WebSocket-Protocol', protocol);
    for (const [name, value] of extraHeaders) response.headers.append(name, value);
    new DenoTransport(socket, serving as Serving<unknown, unknown>).wire(
      { handlerName: serving.handlerName, remoteAddress, path, protocol, server: 'deno' },
      admitted.args,
    );
    return response;
  };

  const upgrade = (req: Request, info?: DenoServeHandlerInfo, initArgs?: A, path = pathOf(req.url)): Response | Promise<Response> => {
    // Read first: Deno forgets the peer's address once the request is upgraded.
    const remoteAddress = info?.remoteAddr.hostname;
    const admitted = serving.admit(fromFetchRequest(req), req, path, initArgs);
    if (admitted instanceof Promise) return admitted.then((a) => handshake(req, remoteAddress, path, a));
    return handshake(req, remoteAddress, path, admitted);
  };

  return { serving, upgrade };
}

/** Options checked for Deno: what every adapter checks, then what Deno cannot do. */
function resolveDenoOptions(options: ConnectionOptions, context: string): ResolvedOptions {
  const o = normalizeOptions(options, context);
  const cannot = (option: string, why: string): never => {
    throw new TypeError(`option '${option}' cannot be honoured on Deno: ${why}; remove the option, or use 'beamsock/ws'`);
  };
  if (o.compress) cannot('compress: true', "Deno's WebSocket server does not negotiate permessage-deflate");
  if (!o.validateUtf8) cannot('validateUtf8: false', 'Deno always validates text messages and drops the connection on invalid UTF-8');
  if (options.activeN !== undefined) {
    cannot('activeN', 'Deno cannot stop reading a WebSocket, so the peer cannot be slowed down (messages are held back from the handler, up to maxBufferedAmount)');
  }
  if (o.maxFrameSize > DENO_MAX_MESSAGE) {
    cannot(`maxFrameSize: ${String(options.maxFrameSize)}`, `Deno reads no message over ${DENO_MAX_MESSAGE} bytes (64 MiB), a limit it fixes`);
  }
  return o;
}
