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
import { DynamicSupervisor } from '../../runtime/dynamic-supervisor.js';
import type { Pid } from '../../runtime/pid.js';
import { exit, isAlive } from '../../runtime/process.js';
import type { WebSock } from '../../websock/behaviour.js';
import { Connection, connectionSettings, publishUpgrade } from '../../websock/connection.js';
import { normalizeOptions, type ConnectionOptions, type ResolvedOptions } from '../../websock/options.js';
import { shutdownConnections, superviseConnection } from '../../websock/supervision.js';
import { maxConnectionsOption } from '../../websock/listen-options.js';
import { fromFetchRequest } from '../../websock/upgrade-validation.js';
import { bunDeflateConfig } from './deflate.js';
import type { BunSocket, BunUpgrader, BunWebSocketHandler } from './native.js';
import { BunTransport, type HandlerSpec } from './transport.js';
import { admit, type Admission } from '../../websock/admission.js';

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

/** Maximum `maxPayloadLength` Bun takes: what "no limit" becomes. */
const BUN_NO_LIMIT = 0xffff_ffff;

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
  return bunHandler(handler, options, 'createBunHandler options');
}

/** @internal `createBunHandler`, naming the options as `context` in errors. */
export function bunHandler<S, A>(handler: WebSock<S, A>, options: BunHandlerOptions<A>, context: string): BunHandler<A> {
  const { args: argsOption, maxConnections, ...connectionOptions } = options;
  const o = resolveBunOptions(connectionOptions, context);
  const supervisor = DynamicSupervisor.start({ maxChildren: maxConnectionsOption(maxConnections) });
  const spec: HandlerSpec = {
    handler: handler as WebSock<unknown>,
    name: handlerName(handler),
    settings: connectionSettings(o),
    options: o,
    supervisor,
    live: new Set(),
  };
  const live = spec.live;
  let closing = false;
  // Bun answers the first offered subprotocol unless told otherwise; an empty header is "none".
  const headersWithoutProtocol = Object.freeze({ ...o.headers, 'Sec-WebSocket-Protocol': '' });

  const upgrade = (req: Request, server: BunUpgrader, args?: A): Response | undefined => {
    const path = pathOf(req.url);
    if (closing) return refuse(path, 503, 'the server is shutting down');
    let admission: Admission;
    let initArgs: A;
    try {
      admission = admit(fromFetchRequest(req), o);
      if (!admission.ok) return refuse(path, admission.status, admission.reason, admission.headers);
      initArgs = args !== undefined ? args : typeof argsOption === 'function' ? (argsOption as (req: Request) => A)(req) : (argsOption as A);
    } catch (err) {
      process.stderr.write(`[beamsock] upgrade of ${path} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      publishUpgrade({ server: 'bun', path, status: 500, reason: err instanceof Error ? err.message : String(err) });
      return textResponse(500, 'internal server error while upgrading');
    }
    const protocol = admission.protocol;
    const data = new BunTransport(spec, initArgs, path, protocol, req.headers.get('sec-websocket-extensions'));
    const headers = protocol === undefined ? headersWithoutProtocol : { ...o.headers, 'Sec-WebSocket-Protocol': protocol };
    if (server.upgrade(req, { headers, data })) return undefined;
    // Only reached with earlyValidateUpgrade: false — Bun's own handshake checks failed.
    return refuse(path, 400, 'not a valid WebSocket upgrade request');
  };

  const websocket: BunWebSocketHandler<BunTransport> = {
    open(ws) {
      open(ws, o);
    },
    message,
    close,
    drain,
    ping,
    pong,
    maxPayloadLength: o.maxFrameSize === Infinity ? BUN_NO_LIMIT : o.maxFrameSize,
    // No limit: a frame pushed is a frame sent; maxHeapSize is the limit, per process.
    backpressureLimit: 0,
    closeOnBackpressureLimit: false,
    idleTimeout: 0,
    sendPings: false,
    publishToSelf: false,
    perMessageDeflate: o.compress ? bunDeflateConfig(o.deflateOptions) : false,
  };

  let closed: Promise<void> | undefined;
  const closeConnections = (timeoutMs: number = o.shutdownTimeout): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      await shutdownConnections(supervisor, timeoutMs, live, () => {
        for (const t of live) {
          if (t.conn !== null) exit(t.conn.pid, 'kill');
          t.abort();
        }
      });
      live.clear();
    })();
    return closed;
  };

  return {
    upgrade,
    websocket,
    supervisor,
    connections: () => {
      const pids: Pid[] = [];
      for (const t of live) if (t.conn !== null && isAlive(t.conn.pid)) pids.push(t.conn.pid);
      return pids;
    },
    closeConnections,
  };
}

// Bun's handlers. `open` is told which server's options it runs under; the rest
// find everything on the socket's data, so any handler's `websocket` serves all.

function open(ws: BunSocket<BunTransport>, server: ResolvedOptions): void {
  const t = ws.data;
  const args = t.attach(ws, server);
  publishUpgrade({ server: 'bun', path: t.path, status: 101 });
  const spec = t.spec;
  t.conn = new Connection(
    spec.handler,
    args,
    t,
    spec.settings,
    { handlerName: spec.name, remoteAddress: ws.remoteAddress, path: t.path, protocol: t.protocol, server: 'bun' },
    undefined,
  );
  superviseConnection(t.conn, spec.supervisor, spec.options.shutdownTimeout);
  spec.live.add(t);
}

function message(ws: BunSocket<BunTransport>, data: string | Buffer): void {
  ws.data.message(data);
}

function close(ws: BunSocket<BunTransport>, code: number, reason: string): void {
  const t = ws.data;
  if (t.conn !== null) t.closed(t.conn, code, reason);
}

function drain(ws: BunSocket<BunTransport>): void {
  ws.data.conn?.drained();
}

function ping(ws: BunSocket<BunTransport>, data: Buffer): void {
  ws.data.conn?.control(data, 'ping');
}

function pong(ws: BunSocket<BunTransport>, data: Buffer): void {
  ws.data.conn?.control(data, 'pong');
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

function refuse(path: string, status: number, reason: string, headers?: Readonly<Record<string, string>>): Response {
  publishUpgrade({ server: 'bun', path, status, reason });
  return textResponse(status, reason, headers);
}

/** @internal a plain-text response, as every refusal is. */
export function textResponse(status: number, body: string, headers?: Readonly<Record<string, string>>): Response {
  return new Response(body, { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...headers } });
}

function handlerName(handler: object): string {
  const named = handler as { name?: unknown; constructor?: { name?: unknown } };
  if (typeof named.name === 'string') return named.name;
  const ctor = named.constructor?.name;
  return typeof ctor === 'string' && ctor !== 'Object' ? ctor : 'WebSock';
}
