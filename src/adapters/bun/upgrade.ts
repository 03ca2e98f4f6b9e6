/**
 * `createBunHandler`: a WebSock handler as the two halves `Bun.serve` wants — an
 * `upgrade` function to call from `fetch`, and the `websocket` handlers — with
 * each connection run in its own process.
 *
 * Validation (websock_adapter's order and messages), the origin check and
 * subprotocol selection happen in `upgrade` before Bun sees the request; Bun
 * then performs the handshake and calls `open`, where the connection process
 * starts. Bun's own idle timeout and automatic pings are off: the connection
 * process keeps the `timeout` itself, as on every server.
 */
import type { Pid } from '../../runtime/pid.js';
import type { WebSock } from '../../websock/behaviour.js';
import { normalizeOptions, type ConnectionOptions, type ResolvedOptions } from '../../websock/options.js';
import { logUpgradeFailure, Serving } from '../../websock/serving.js';
import { fromFetchRequest } from '../../websock/upgrade-validation.js';
import type { BunUpgrader, BunWebSocketHandler } from './native.js';
import { BunTransport, bunWebSocketHandler } from './transport.js';

/** The options of `createBunHandler`: every connection option, plus what `init` receives and how many may be open. */
export interface BunHandlerOptions<A> extends ConnectionOptions {
  /** What `init` receives: a value, or a function of the upgrade request. `upgrade`'s own `args` wins. */
  readonly args?: A | ((req: Request) => A);
  /** Connections allowed at once (the supervisor's `maxChildren`); one more is closed with 1013. Default Infinity. */
  readonly maxConnections?: number;
}

/** A WebSock handler ready for `Bun.serve`. */
export interface BunHandler<A> {
  /**
   * Upgrades `req` (call it from `fetch` and return what it returns): undefined
   * once Bun has taken the connection, else the refusal — 400 or 426 for an
   * invalid upgrade and 403 for a refused origin, with the reason as a plain-text
   * body; 500 when `checkOrigin`, `subprotocols` or `args` throws (the error goes
   * to stderr); 503 while `closeConnections` runs. Never throws.
   */
  upgrade(req: Request, server: BunUpgrader, args?: A): Response | undefined;
  /**
   * Pass as `Bun.serve`'s `websocket` option; it carries Bun's per-server settings
   * made from these options (`maxFrameSize` as `maxPayloadLength`, `compress` and
   * `deflateOptions` as `perMessageDeflate`). Several handlers may share one
   * `Bun.serve` through any one's `websocket`: each connection keeps its own
   * handler and options, a smaller `maxFrameSize` than the server's is enforced per
   * connection, a larger one cannot be, and compression is what the server's allows.
   */
  readonly websocket: BunWebSocketHandler<BunTransport>;
  /** The DynamicSupervisor every connection is a temporary child of (started with the handler). */
  readonly supervisor: Promise<Pid>;
  /** Pids of the live connections. */
  connections(): Pid[];
  /**
   * Closes every connection with 1001 through the supervisor (their `terminate`
   * sees `'shutdown'`) and refuses new upgrades with 503; waits up to `timeoutMs`
   * (default the `shutdownTimeout` option) for them to end, then kills and cuts
   * what is left, and the supervisor is gone. The Bun server keeps running: stop
   * it afterwards.
   */
  closeConnections(timeoutMs?: number): Promise<void>;
}

/**
 * Prepares `handler` for `Bun.serve`. Options are checked here, once.
 *
 * @throws TypeError for an invalid option (see `normalizeOptions`), and for
 *   `validateUtf8: false`, which Bun cannot honour (it always closes with 1007 on
 *   invalid UTF-8 text).
 * @example
 * const echo = createBunHandler(EchoServer, { timeout: 60_000 });
 * Bun.serve({
 *   fetch: (req, server) => (new URL(req.url).pathname === '/ws' ? echo.upgrade(req, server) : new Response('hi')),
 *   websocket: echo.websocket,
 * });
 */
export function createBunHandler<S, A>(handler: WebSock<S, A>, options: BunHandlerOptions<A> = {}): BunHandler<A> {
  const { serving, upgrade, websocket } = bunServing(handler, options, 'createBunHandler options');
  return {
    upgrade,
    websocket,
    supervisor: serving.supervisor,
    connections: () => serving.connections(),
    closeConnections: (timeoutMs?: number) => serving.close(timeoutMs),
  };
}

/** @internal the serving core of `createBunHandler` and `serve`, with Bun's halves; `context` names the options in errors. */
export function bunServing<S, A>(
  handler: WebSock<S, A>,
  options: BunHandlerOptions<A>,
  context: string,
): { readonly serving: Serving<A, Request>; readonly upgrade: BunHandler<A>['upgrade']; readonly websocket: BunWebSocketHandler<BunTransport> } {
  const { args, maxConnections, ...connectionOptions } = options;
  const o = resolveBunOptions(connectionOptions, context);
  const serving = new Serving<A, Request>({ server: 'bun', handler: handler as WebSock<unknown, A>, options: o, args, maxConnections });
  // Bun answers the first offered subprotocol unless told otherwise; an empty header is "none".
  const headersWithoutProtocol = Object.freeze({ ...o.headers, 'Sec-WebSocket-Protocol': '' });

  const upgrade = (req: Request, server: BunUpgrader, initArgs?: A): Response | undefined => {
    const path = pathOf(req.url);
    const admitted = serving.admit(fromFetchRequest(req), req, path, initArgs);
    if (!admitted.ok) {
      if (admitted.error !== undefined) logUpgradeFailure(path, admitted.error);
      return textResponse(admitted.status, admitted.reason, admitted.headers);
    }
    const protocol = admitted.protocol;
    const data = new BunTransport(serving as Serving<unknown, unknown>, admitted.args, path, protocol, req.headers.get('sec-websocket-extensions'));
    const headers = protocol === undefined ? headersWithoutProtocol : { ...o.headers, 'Sec-WebSocket-Protocol': protocol };
    if (server.upgrade(req, { headers, data })) return undefined;
    // Only reached with earlyValidateUpgrade: false — Bun's own handshake checks failed.
    const refused = serving.refuse(path, 400, 'not a valid WebSocket upgrade request');
    return textResponse(refused.status, refused.reason);
  };

  return { serving, upgrade, websocket: bunWebSocketHandler(o) };
}

/** Options checked for Bun: what every adapter checks, then what Bun cannot do. */
function resolveBunOptions(options: ConnectionOptions, context: string): ResolvedOptions {
  const o = normalizeOptions(options, context);
  if (!o.validateUtf8) {
    throw new TypeError(
      `option 'validateUtf8: false' cannot be honoured on Bun: Bun always validates text messages and closes with 1007 on invalid UTF-8; ` +
        `remove the option, or use 'beamsock/ws' to receive invalid text`,
    );
  }
  return o;
}

/** The path and query of a Fetch request's absolute URL, as node:http's `req.url` gives them. */
export function pathOf(url: string): string {
  const slash = url.indexOf('/', url.indexOf('//') + 2);
  return slash === -1 ? '/' : url.slice(slash);
}

/** @internal a plain-text response, as every refusal is. */
export function textResponse(status: number, body: string, headers?: Readonly<Record<string, string>>): Response {
  return new Response(body, { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...headers } });
}
