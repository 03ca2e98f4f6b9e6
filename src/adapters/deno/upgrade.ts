/**
 * `createDenoHandler`: a WebSock handler as an `upgrade` function for a
 * `Deno.serve` handler, with each connection run in its own process.
 *
 * Validation (websock_adapter's order and messages), the origin check and
 * subprotocol selection happen before Deno sees the request; then
 * `Deno.upgradeWebSocket` answers 101 (with the `headers` option added) and the
 * connection process starts when the socket opens. Deno's own idle timeout (its
 * pings) is off: the connection process keeps the `timeout` itself, as on every
 * server.
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
import { admit, type Admission } from '../../websock/admission.js';
import { denoRuntime, type DenoGlobal, type DenoServeHandlerInfo } from './native.js';
import { DenoTransport, type HandlerSpec } from './transport.js';

/** The options of `createDenoHandler`: every connection option, plus what `init` receives and how many may be open. */
export interface DenoHandlerOptions<A> extends ConnectionOptions {
  /** What `init` receives: a value, or a function of the upgrade request. `upgrade`'s own `args` wins. */
  readonly args?: A | ((req: Request) => A);
  /** Connections allowed at once (the supervisor's `maxChildren`); one more is closed with 1013. Default Infinity. */
  readonly maxConnections?: number;
}

/** A WebSock handler ready for `Deno.serve`. */
export interface DenoHandler<A> {
  /**
   * Upgrades `req` (call it from a `Deno.serve` handler and return what it
   * returns; pass the handler's `info` for the connection's remote address):
   * the 101 response, else the refusal — 400 or 426 for an invalid upgrade and
   * 403 for a refused origin, with the reason as a plain-text body; 500 when
   * `checkOrigin`, `subprotocols` or `args` throws (the error goes to stderr);
   * 503 while `closeConnections` runs. Never throws.
   */
  upgrade(req: Request, info?: DenoServeHandlerInfo, args?: A): Response;
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
 *   `activeN`: see the README's Deno section), and when not running on Deno.
 * @example
 * const echo = createDenoHandler(EchoServer, { timeout: 60_000 });
 * Deno.serve((req, info) => (new URL(req.url).pathname === '/ws' ? echo.upgrade(req, info) : new Response('hi')));
 */
export function createDenoHandler<S, A>(handler: WebSock<S, A>, options: DenoHandlerOptions<A> = {}): DenoHandler<A> {
  return denoHandler(handler, options, 'createDenoHandler options');
}

/** @internal `createDenoHandler`, naming the options as `context` in errors. */
export function denoHandler<S, A>(handler: WebSock<S, A>, options: DenoHandlerOptions<A>, context: string): DenoHandler<A> {
  const deno = denoRuntime(context === 'server options' ? 'serve() from beamsock/deno' : 'createDenoHandler()');
  const { args: argsOption, maxConnections, ...connectionOptions } = options;
  const o = resolveDenoOptions(connectionOptions, context);
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
  const extraHeaders = Object.entries(o.headers);

  const upgrade = (req: Request, info?: DenoServeHandlerInfo, args?: A): Response => {
    const path = pathOf(req.url);
    if (closing) return refuse(path, 503, 'the server is shutting down');
    let admission: Admission;
    let initArgs: A;
    let remoteAddress: string | undefined;
    try {
      admission = admit(fromFetchRequest(req), o);
      if (!admission.ok) return refuse(path, admission.status, admission.reason, admission.headers);
      initArgs = args !== undefined ? args : typeof argsOption === 'function' ? (argsOption as (req: Request) => A)(req) : (argsOption as A);
      remoteAddress = info?.remoteAddr.hostname;
    } catch (err) {
      process.stderr.write(`[beamsock] upgrade of ${path} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      publishUpgrade({ server: 'deno', path, status: 500, reason: err instanceof Error ? err.message : String(err) });
      return textResponse(500, 'internal server error while upgrading');
    }
    const protocol = admission.protocol;
    const upgraded = upgradeOrNot(deno, req, protocol);
    // Only reached with earlyValidateUpgrade: false — Deno's own handshake checks failed.
    if (upgraded === undefined) return refuse(path, 400, 'not a valid WebSocket upgrade request');
    const { socket, response } = upgraded;
    for (const [name, value] of extraHeaders) response.headers.append(name, value);
    const t = new DenoTransport(spec, socket);
    socket.binaryType = 'arraybuffer';
    socket.onopen = () => {
      publishUpgrade({ server: 'deno', path, status: 101 });
      t.conn = new Connection(spec.handler, initArgs, t, spec.settings, { handlerName: spec.name, remoteAddress, path, protocol, server: 'deno' }, undefined);
      superviseConnection(t.conn, spec.supervisor, o.shutdownTimeout);
      live.add(t);
    };
    socket.onmessage = (ev) => t.message(ev.data);
    socket.onerror = (ev) => t.errored(ev.message);
    socket.onclose = (ev) => t.closed(ev.code, ev.reason, ev.wasClean);
    return response;
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
    supervisor,
    connections: () => {
      const pids: Pid[] = [];
      for (const t of live) if (t.conn !== null && isAlive(t.conn.pid)) pids.push(t.conn.pid);
      return pids;
    },
    closeConnections,
  };
}

/** `Deno.upgradeWebSocket`, or undefined when Deno refuses the request as an upgrade. */
function upgradeOrNot(deno: DenoGlobal, req: Request, protocol: string | undefined): ReturnType<DenoGlobal['upgradeWebSocket']> | undefined {
  try {
    // idleTimeout 0: Deno sends no pings and closes nothing on its own.
    return deno.upgradeWebSocket(req, protocol === undefined ? { idleTimeout: 0 } : { protocol, idleTimeout: 0 });
  } catch {
    return undefined;
  }
}

/** Options checked for Deno: what every adapter checks, then what Deno cannot do. */
function resolveDenoOptions(options: ConnectionOptions, context: string): ResolvedOptions {
  const o = normalizeOptions(options, context);
  const cannot = (option: string, why: string): never => {
    throw new TypeError(`option '${option}' cannot be honoured on Deno: ${why}; remove the option, or use 'beamsock/ws'`);
  };
  if (o.compress) cannot('compress: true', "Deno's WebSocket server does not negotiate permessage-deflate");
  if (!o.validateUtf8) cannot('validateUtf8: false', 'Deno always validates text messages and closes on invalid UTF-8');
  if (options.activeN !== undefined) {
    cannot('activeN', 'Deno cannot stop reading a WebSocket, so the peer cannot be slowed down (setActive(false) holds messages back from the handler, unbounded)');
  }
  return o;
}

/** The path and query of a Fetch request's absolute URL, as node:http's `req.url` gives them. */
export function pathOf(url: string): string {
  const slash = url.indexOf('/', url.indexOf('//') + 2);
  return slash === -1 ? '/' : url.slice(slash);
}

function refuse(path: string, status: number, reason: string, headers?: Readonly<Record<string, string>>): Response {
  publishUpgrade({ server: 'deno', path, status, reason });
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
