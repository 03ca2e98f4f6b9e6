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
import type { Authorize } from '../../websock/admission.js';
import type { WebSock } from '../../websock/behaviour.js';
import { normalizeOptions, type ConnectionOptions, type ResolvedOptions } from '../../websock/options.js';
import { negotiateDeflate } from '../../websock/permessage-deflate.js';
import { Serving, type Admitted } from '../../websock/serving.js';
import { pathOf, textResponse } from '../../websock/fetch.js';
import { fromFetchRequest } from '../../websock/upgrade-validation.js';
import type { BunUpgrader, BunWebSocketHandler } from './native.js';
import { BunTopics } from './topics.js';
import { BunTransport, bunWebSocketHandler } from './transport.js';

/** The options of `createBunHandler`: every connection option, plus what `init` receives and how many may be open. */
export interface BunHandlerOptions<A> extends ConnectionOptions {
  /** What `init` receives: a value, or a function of the upgrade request. `upgrade`'s own `args` wins. */
  readonly args?: A | ((req: Request) => A);
  /** Lets a request through (with `init`'s args, if it gives them, which win over `args`) or refuses it with 401 or 403; see `Authorize`. */
  readonly authorize?: Authorize<A, Request>;
  /** Connections allowed at once (the supervisor's `maxChildren`); one more is closed with 1013. Default Infinity. */
  readonly maxConnections?: number;
}

/** A WebSock handler ready for `Bun.serve`. */
export interface BunHandler<A> {
  /**
   * Upgrades `req` (call it from `fetch` and return what it returns): undefined
   * once Bun has taken the connection, else the refusal — 400 or 426 for an
   * invalid upgrade, 403 for a refused origin, 401 or 403 as `authorize` says,
   * with the reason as a plain-text body; 500 when `authorize`, `checkOrigin`,
   * `subprotocols` or `args` throws (the error goes to the logger); 503 while
   * `closeConnections` runs. A promise of that while an async `authorize`
   * decides. Never throws or rejects.
   */
  upgrade(req: Request, server: BunUpgrader, args?: A): Response | undefined | Promise<Response | undefined>;
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

/**
 * @internal the serving core of `createBunHandler` and `serve`, with Bun's halves;
 * `context` names the options in errors. `upgrade`'s `path` is what the
 * connection records instead of the request's path and query.
 */
export function bunServing<S, A>(
  handler: WebSock<S, A>,
  options: BunHandlerOptions<A>,
  context: string,
): {
  readonly serving: Serving<A, Request>;
  readonly upgrade: (req: Request, server: BunUpgrader, args?: A, path?: string) => Response | undefined | Promise<Response | undefined>;
  readonly websocket: BunWebSocketHandler<BunTransport>;
} {
  const { args, authorize, maxConnections, ...connectionOptions } = options;
  const o = resolveBunOptions(connectionOptions, context);
  const serving = new Serving<A, Request>({ server: 'bun', handler: handler as WebSock<unknown, A>, options: o, args, authorize, maxConnections });
  // Bun answers the first offered subprotocol unless told otherwise; an empty header is "none".
  const headersWithoutProtocol = Object.freeze({ ...o.headers, 'Sec-WebSocket-Protocol': '' });
  // With no subprotocol offered and no headers of the application's, Bun is given none: building
  // the response's headers from an object costs Bun about 1 µs of an upgrade's 21.
  const noHeaders = Object.keys(o.headers).length === 0 ? undefined : Object.freeze({ ...o.headers });

  const handshake = (req: Request, server: BunUpgrader, path: string, admitted: Admitted<A>): Response | undefined => {
    if (!admitted.ok) return textResponse(admitted.status, admitted.reason, admitted.headers);
    const protocol = admitted.protocol;
    const data = new BunTransport(serving as Serving<unknown, unknown>, admitted.args, path, protocol, handOffer(req, o), BunTopics.of(server));
    const headers =
      protocol !== undefined ? { ...o.headers, 'Sec-WebSocket-Protocol': protocol } : req.headers.has('sec-websocket-protocol') ? headersWithoutProtocol : noHeaders;
    if (server.upgrade(req, headers === undefined ? { data } : { headers, data })) return undefined;
    // Only reached with earlyValidateUpgrade: false — Bun's own handshake checks failed.
    const refused = serving.refuse(path, 400, 'not a valid WebSocket upgrade request');
    return textResponse(refused.status, refused.reason);
  };

  const upgrade = (req: Request, server: BunUpgrader, initArgs?: A, path = pathOf(req.url)): Response | undefined | Promise<Response | undefined> => {
    const admitted = serving.admit(fromFetchRequest(req), req, path, initArgs);
    if (admitted instanceof Promise) return admitted.then((a) => handshake(req, server, path, a));
    return handshake(req, server, path, admitted);
  };

  return { serving, upgrade, websocket: bunWebSocketHandler(o) };
}

/**
 * Leaves Bun only the permessage-deflate offer these options take (or none), as
 * `bunOffer` chooses it; Bun reads the request's header when it upgrades.
 * Returns that offer.
 */
function handOffer(req: Request, o: ResolvedOptions): string | null {
  const header = req.headers.get('sec-websocket-extensions');
  if (header === null) return null;
  const offer = bunOffer(header, o);
  if (offer === null) req.headers.delete('sec-websocket-extensions');
  else if (offer !== header) req.headers.set('sec-websocket-extensions', offer);
  return offer;
}

/**
 * @internal the client's offer that `negotiateDeflate` takes under options `o`
 * among those Bun can honour, or null for none. Bun compresses without context
 * takeover with its shared compressor, whose window is always the full one, so
 * an agreement on both is skipped for the next offer.
 */
export function bunOffer(header: string | null, o: ResolvedOptions): string | null {
  if (!o.compress) return null;
  let rest = header;
  while (rest !== null) {
    const agreed = negotiateDeflate(rest, o.deflateOptions);
    if (agreed === undefined) return null;
    if (!agreed.serverNoContextTakeover || (agreed.serverMaxWindowBits ?? 15) === 15) return agreed.offer;
    const next = rest.indexOf(',', rest.indexOf(agreed.offer) + agreed.offer.length);
    rest = next === -1 ? null : rest.slice(next + 1);
  }
  return null;
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
