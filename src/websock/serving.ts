/**
 * The serving core: what every server does the same way, whatever the server.
 * An adapter makes one `Serving` per `serve()`, `attach()` or `createBunHandler()`
 * (and shares one per handler and options among `upgrade()` calls), then for each
 * upgrade request:
 *
 * 1. `admit(req, native, path)`: refuses (503 while closing, the validation,
 *    origin and subprotocol checks, the `authorize` hook, 500 when an
 *    application function throws), publishing the refusal and reporting it to
 *    the logger, or accepts with the subprotocol and `init`'s args (a promise
 *    of that only while an async `authorize` decides);
 * 2. after the server's handshake, `start(transport, meta, args)`: publishes the
 *    upgrade, starts the `Connection`, puts it under the supervisor and tracks it;
 * 3. when the socket is gone, `ended(conn)`.
 *
 * It also owns `connections()`, the graceful `close()` and the `RunningServer`
 * every `serve()` returns. An adapter keeps only what differs between servers:
 * listening, the handshake, and its `Transport` (see `transport.ts`).
 */
import { DynamicSupervisor } from '../runtime/dynamic-supervisor.js';
import type { Pid } from '../runtime/pid.js';
import { exit, isAlive } from '../runtime/process.js';
import { report } from '../runtime/logger.js';
import { admit, authorization, authorizeOption, type Authorize, type AuthorizationOutcome } from './admission.js';
import type { WebSock } from './behaviour.js';
import { Connection, connectionSettings, type ConnectionSettings } from './connection.js';
import { closeOnAbort, maxConnectionsOption, wsUrl, type RunningServer } from './listen-options.js';
import type { ResolvedOptions } from './options.js';
import { connectionSupervisor, superviseConnection } from './supervision.js';
import { publishUpgrade, publishUpgraded, rememberContext } from './telemetry.js';
import type { ConnectionMeta, Transport } from './transport.js';
import type { UpgradeRequest } from './upgrade-validation.js';

/**
 * How a `Serving` is made: the server's name, the handler and its checked options.
 *
 * @example
 * const config: ServingConfig<null, Request> = { server: 'deno', handler: Echo, options: normalizeOptions({}), maxConnections: 1_000 };
 */
export interface ServingConfig<A, Req> {
  /** The server's name in telemetry and `processInfo` details: 'ws', 'bun'... */
  readonly server: string;
  readonly handler: WebSock<unknown, A>;
  readonly options: ResolvedOptions;
  /** What `init` receives when the upgrade names no args: a value, or a function of the server's request. */
  readonly args?: A | ((req: Req) => A) | undefined;
  /** The application's say on each upgrade, asked last (checked here, naming the option). */
  readonly authorize?: Authorize<A, Req> | undefined;
  /** Connections allowed at once, as `serve()` takes it (checked here, naming the option). Default Infinity. */
  readonly maxConnections?: unknown;
  /**
   * True for connections upgraded outside any server of beamsock's (`upgrade()`):
   * they go to the shared supervisor `beamsock.connections`, are not tracked,
   * and `close()` is not for them.
   */
  readonly shared?: boolean;
}

/**
 * Whether to upgrade: accepted with the subprotocol (undefined for none) and
 * what `init` receives, or refused with a status, a reason, extra headers and,
 * for a 500, the error an application function threw.
 *
 * @example
 * const a: Admitted<null> = await serving.admit(req, req, '/ws');
 * if (!a.ok) socket.end(renderRefusal(a));
 */
export type Admitted<A> =
  | { readonly ok: true; readonly protocol: string | undefined; readonly args: A }
  | { readonly ok: false; readonly status: number; readonly reason: string; readonly headers?: Readonly<Record<string, string>> | undefined; readonly error?: unknown };

/** What a refused upgrade that crashed in application code tells the client. */
const INTERNAL_ERROR = 'internal server error while upgrading';

/**
 * One server's (or one `upgrade()` handler's) connections: admission, start,
 * supervision, tracking and graceful close.
 *
 * @example
 * const serving = new Serving({ server: 'mine', handler, options: normalizeOptions(opts), maxConnections: 100 });
 * const a = await serving.admit(upgradeRequest, nativeRequest, path);
 * if (!a.ok) return respond(a.status, a.reason, a.headers);
 * // ... the server's handshake, then:
 * const conn = serving.start(new MyTransport(socket), meta, a.args);
 * socket.onclose = () => { conn.closed(false, 1006, ''); serving.ended(conn); };
 */
export class Serving<A = unknown, Req = unknown> {
  readonly server: string;
  readonly handler: WebSock<unknown, A>;
  readonly options: ResolvedOptions;
  /** The handler's name as telemetry and the observer show it. */
  readonly handlerName: string;
  /** What each connection enforces itself, made once from `options`. */
  readonly settings: ConnectionSettings;
  private readonly argsOption: A | ((req: Req) => A) | undefined;
  private readonly authorize: Authorize<A, Req> | undefined;
  /** Its own supervisor; undefined for `shared`. */
  private readonly ownSupervisor: Promise<Pid> | undefined;
  /** Its own supervisor once started. */
  private supervisorPid: Pid | undefined;
  /** Connections whose sockets are open; null for `shared`. */
  private readonly live: Set<Connection<unknown>> | null;
  private closing = false;
  private closed: Promise<void> | undefined;
  /** Set while `close()` waits for `live` to empty. */
  private emptied: (() => void) | undefined;

  /** @throws TypeError for a bad `maxConnections` or `authorize`, naming it. */
  constructor(config: ServingConfig<A, Req>) {
    this.server = config.server;
    this.handler = config.handler;
    this.options = config.options;
    this.handlerName = handlerName(config.handler);
    this.settings = connectionSettings(config.options);
    this.argsOption = config.args;
    this.authorize = authorizeOption<A, Req>(config.authorize);
    if (config.shared === true) {
      this.live = null;
    } else {
      this.live = new Set();
      this.ownSupervisor = DynamicSupervisor.start({ maxChildren: maxConnectionsOption(config.maxConnections) });
      this.ownSupervisor.then(
        (pid) => (this.supervisorPid = pid),
        () => undefined,
      );
    }
  }

  /**
   * The DynamicSupervisor every connection is a temporary child of: its own, or
   * for `shared` the shared one of the moment (a new one if the last was stopped).
   */
  get supervisor(): Promise<Pid> {
    return this.ownSupervisor ?? connectionSupervisor();
  }

  /** True once `close()` was called: every upgrade is refused with 503. */
  get isClosing(): boolean {
    return this.closing;
  }

  /**
   * Whether to upgrade `req` (its headers as `UpgradeRequest`, the server's own
   * request as `native` for the `authorize` hook and an args function), at
   * `path` (for telemetry and the logger). `authorize`'s args win over `args`
   * given here, which win over the `args` option. A refusal is published on
   * `beamsock:upgrade` and reported to the logger before it is returned. The
   * answer is a promise only when `authorize` returned one. Never throws or
   * rejects.
   *
   * @example
   * const a = await serving.admit(fromFetchRequest(req), req, pathOf(req.url));
   * if (!a.ok) return new Response(a.reason, { status: a.status, headers: a.headers });
   */
  admit(req: UpgradeRequest, native: Req, path: string | undefined, args?: A): Admitted<A> | Promise<Admitted<A>> {
    if (this.closing) return this.refuse(path, 503, 'the server is shutting down');
    try {
      const admission = admit(req, this.options);
      if (!admission.ok) return this.refuse(path, admission.status, admission.reason, admission.headers);
      const protocol = admission.protocol;
      if (this.authorize === undefined) return { ok: true, protocol, args: this.argsFor(native, args) };
      const answer = this.authorize(native);
      if (answer === null || typeof answer !== 'object' || typeof (answer as PromiseLike<unknown>).then !== 'function') {
        return this.authorized(authorization<A>(answer), protocol, native, path, args);
      }
      return Promise.resolve(answer)
        .then((a) => (this.closing ? this.refuse(path, 503, 'the server is shutting down') : this.authorized(authorization<A>(a), protocol, native, path, args)))
        .catch((error: unknown) => this.failed(path, error));
    } catch (error) {
      return this.failed(path, error);
    }
  }

  private authorized(outcome: AuthorizationOutcome<A>, protocol: string | undefined, native: Req, path: string | undefined, args: A | undefined): Admitted<A> {
    if (!outcome.ok) return this.refuse(path, outcome.status, outcome.reason, outcome.headers);
    return { ok: true, protocol, args: 'args' in outcome ? (outcome.args as A) : this.argsFor(native, args) };
  }

  private argsFor(native: Req, args: A | undefined): A {
    if (args !== undefined) return args;
    const a = this.argsOption;
    return typeof a === 'function' ? (a as (req: Req) => A)(native) : (a as A);
  }

  /** Application code threw while admitting: 500, and the error goes to the logger. */
  private failed(path: string | undefined, error: unknown): Admitted<A> & { ok: false } {
    this.publishRefusal(path, 500, error instanceof Error ? error.message : String(error), error);
    return { ok: false, status: 500, reason: INTERNAL_ERROR, error };
  }

  /**
   * Publishes a refusal decided by the server itself (its own handshake checks),
   * reports it to the logger, and returns it.
   *
   * @example
   * if (!server.upgrade(req)) return respond(serving.refuse(path, 400, 'not a valid WebSocket upgrade request'));
   */
  refuse(path: string | undefined, status: number, reason: string, headers?: Readonly<Record<string, string>>): Admitted<A> & { ok: false } {
    this.publishRefusal(path, status, reason, undefined);
    return { ok: false, status, reason, headers };
  }

  private publishRefusal(path: string | undefined, status: number, reason: string, error: unknown): void {
    publishUpgrade({ server: this.server, path, status, reason });
    report({ kind: 'upgrade', server: this.server, path, status, reason, error });
  }

  /**
   * The server completed the handshake: starts the connection process (its
   * `init` gets `args`), supervises and tracks it, and publishes the upgrade.
   * The adapter then delivers the socket's events to the returned connection,
   * and calls `ended` once the socket is gone.
   *
   * @example
   * const transport = new WsTransport(ws, socket, serving, req.url); // also the connection's meta
   * const conn = serving.start(transport, transport, admitted.args);
   */
  start(transport: Transport, meta: ConnectionMeta, args: A): Connection<unknown> {
    publishUpgraded(this.server, meta.path);
    const conn = new Connection(this.handler, args, transport, this.settings, meta);
    rememberContext(conn.pid);
    this.live?.add(conn);
    // Admitted before close() but opened after it (Bun opens after writing the 101): its supervisor is gone.
    if (this.closing) exit(conn.pid, 'shutdown');
    else superviseConnection(conn, this.supervisorPid ?? this.ownSupervisor, this.options.shutdownTimeout);
    return conn;
  }

  /**
   * The connection's socket is gone (closing handshake done, or cut): it no
   * longer counts as live.
   *
   * @example
   * ws.on('close', () => serving.ended(conn));
   */
  ended(conn: Connection<unknown>): void {
    const live = this.live;
    if (live === null || !live.delete(conn)) return;
    if (live.size === 0 && this.emptied !== undefined) this.emptied();
  }

  /**
   * Pids of the live connections.
   *
   * @example
   * for (const pid of serving.connections()) send(pid, 'tick');
   */
  connections(): Pid[] {
    const pids: Pid[] = [];
    if (this.live !== null) for (const c of this.live) if (isAlive(c.pid)) pids.push(c.pid);
    return pids;
  }

  /**
   * Graceful shutdown of the connections: new upgrades are refused with 503, the
   * supervisor sends every connection `'shutdown'` at once (1001,
   * `terminate('shutdown')`) and kills one still running after the
   * `shutdownTimeout` option; this waits up to `timeoutMs` (default that option)
   * for every socket to finish its closing handshake, then kills and cuts what is
   * left, since a connection stuck in a callback would otherwise outlive its
   * server. Leaves no timer behind. Later calls return the first call's promise.
   *
   * @example
   * await serving.close(5_000);
   */
  close(timeoutMs: number = this.options.shutdownTimeout): Promise<void> {
    this.closed ??= this.shutdown(timeoutMs);
    return this.closed;
  }

  /**
   * What every adapter's `serve()` returns beside its server's handle, with
   * `signal` wired to `close`. `close` is the adapter's whole shutdown (it calls
   * this core's `close` in its course); `signal` already aborted closes at once.
   *
   * @example
   * return { httpServer, ...(await serving.running(port, host, close, opts.signal)) };
   */
  async running(port: number, host: string, close: (timeoutMs?: number) => Promise<void>, signal: AbortSignal | undefined): Promise<RunningServer> {
    const supervisor = await this.supervisor;
    await closeOnAbort(signal, close);
    return {
      port,
      supervisor,
      url: wsUrl(host, port),
      connections: () => this.connections(),
      close,
      [Symbol.asyncDispose]: () => close(),
    };
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    this.closing = true;
    const live = this.live ?? new Set<Connection<unknown>>();
    const stopping = this.supervisor.then((pid) => DynamicSupervisor.stop(pid, 'shutdown')).catch(() => undefined);
    const emptied = live.size === 0 ? undefined : new Promise<void>((resolve) => (this.emptied = resolve));
    let timer: NodeJS.Timeout | undefined;
    const expired = Number.isFinite(timeoutMs) ? new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))) : undefined;
    try {
      await Promise.race([Promise.all([stopping, emptied]), ...(expired === undefined ? [] : [expired])]);
    } finally {
      clearTimeout(timer);
      this.emptied = undefined;
    }
    for (const conn of live) {
      exit(conn.pid, 'kill');
      conn.abortSocket();
    }
    live.clear();
  }
}

/**
 * @internal a handler's name: its `name` property, else its class's name, else 'WebSock'.
 */
export function handlerName(handler: object): string {
  const named = handler as { name?: unknown; constructor?: { name?: unknown } };
  if (typeof named.name === 'string') return named.name;
  const ctor = named.constructor?.name;
  return typeof ctor === 'string' && ctor !== 'Object' ? ctor : 'WebSock';
}
