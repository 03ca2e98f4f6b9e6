/**
 * Upgrading `node:http` requests to WebSockets hosted by a WebSock handler:
 * `upgrade()` for one request from your own `'upgrade'` listener, `attach()` for
 * every upgrade of an HTTP server you own (Express, Fastify, Hono on node:http).
 *
 * The serving core admits the request (validation, origin, subprotocol, args);
 * `ws` then performs the handshake, and the socket is handed to a connection
 * process that the core supervises.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { constants as zlib } from 'node:zlib';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Pid } from '../../runtime/pid.js';
import type { Authorize } from '../../websock/admission.js';
import type { WebSock } from '../../websock/behaviour.js';
import { closeOnAbort, listenOptions, onPath } from '../../websock/listen-options.js';
import { normalizeOptions, type ConnectionOptions, type DeflateStrategy, type ResolvedOptions } from '../../websock/options.js';
import { negotiateDeflate } from '../../websock/permessage-deflate.js';
import { Serving, type Admitted } from '../../websock/serving.js';
import { renderRefusal } from '../../websock/upgrade-validation.js';
import { BoundWebSocket, bindSocket, WsTransport } from './transport.js';

const resolvedCache = new WeakMap<object, ResolvedOptions>();
const DEFAULTS = normalizeOptions({});

/** @internal validates options once per options object (its `authorize` is the serving core's to check). */
export function resolveOptions(opts: UpgradeOptions<unknown> | undefined): ResolvedOptions {
  if (opts === undefined) return DEFAULTS;
  let r = resolvedCache.get(opts);
  if (r === undefined) {
    const { authorize, ...connection } = opts;
    r = normalizeOptions(authorize === undefined ? opts : connection);
    resolvedCache.set(opts, r);
  }
  return r;
}

/**
 * Options of `upgrade`: every connection option, and the application's say on
 * each request.
 *
 * @example
 * const opts: UpgradeOptions<{ user: string }> = { timeout: 30_000, authorize: (req) => (req.headers.cookie ? true : { status: 401 }) };
 */
export interface UpgradeOptions<A> extends ConnectionOptions {
  /** Lets a request through (with `init`'s args, if it gives them) or refuses it with 401 or 403; see `Authorize`. */
  readonly authorize?: Authorize<A, IncomingMessage>;
}

/** One handshake in ws's hands, for ws's callbacks (which it calls before `handleUpgrade` returns). */
interface Pending {
  readonly serving: Serving<unknown, IncomingMessage>;
  readonly protocol: string | undefined;
  readonly args: unknown;
  readonly socket: Duplex;
  /** The connection's pid, once ws has handed the WebSocket over. */
  pid: Pid | undefined;
}
const pending = new WeakMap<IncomingMessage, Pending>();

// One ws server per distinct protocol configuration: ws reads these at handshake time.
const servers = new Map<string, WebSocketServer>();
const serverOf = new WeakMap<ResolvedOptions, WebSocketServer>();

function wsServerFor(o: ResolvedOptions): WebSocketServer {
  let cached = serverOf.get(o);
  if (cached === undefined) {
    cached = wsServerForConfig(o);
    serverOf.set(o, cached);
  }
  return cached;
}

function wsServerForConfig(o: ResolvedOptions): WebSocketServer {
  const perMessageDeflate = o.compress ? deflateConfig(o) : false;
  const key = JSON.stringify([o.maxFrameSize, o.validateUtf8, perMessageDeflate]);
  let wss = servers.get(key);
  if (wss === undefined) {
    wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: o.maxFrameSize === Infinity ? 0 : o.maxFrameSize,
      maxFragments: maxFragments(o.maxFrameSize),
      skipUTF8Validation: !o.validateUtf8,
      perMessageDeflate,
      handleProtocols: (_offered, req) => pending.get(req)?.protocol ?? false,
      WebSocket: BoundWebSocket,
    });
    wss.on('headers', (headers: string[], req: IncomingMessage) => {
      const p = pending.get(req);
      if (p === undefined) return;
      const extra = p.serving.options.headers;
      for (const name of Object.keys(extra)) headers.push(`${name}: ${extra[name] as string}`);
    });
    wss.on('wsClientError', (err: Error, socket: Duplex, req: IncomingMessage) => {
      // Only reached with earlyValidateUpgrade: false — ws's own handshake checks failed.
      refuse(socket, 400, err.message, {});
      pending.get(req)?.serving.refuse(req.url, 400, err.message);
    });
    servers.set(key, wss);
  }
  return wss;
}

/**
 * What one fragment of a message costs on ws beside its payload, in bytes: ws
 * keeps each fragment as a buffer of its own until the message is whole (about
 * 110 bytes of heap apiece, measured on Node 20), so a message of tiny fragments
 * costs a hundred times its payload. A fragment is charged this much of
 * `maxFrameSize`, which keeps a message's memory under about twice that limit.
 */
const FRAGMENT_COST = 128;

/**
 * ws's `maxFragments` for a `maxFrameSize`: the message's budget counted in
 * fragments, in place of ws's fixed 16 384, which refused a 4 MiB message in
 * 64-byte fragments (Autobahn 9.3.1) whatever the limit. 0 is ws's "no limit".
 */
function maxFragments(maxFrameSize: number): number {
  return maxFrameSize === Infinity ? 0 : Math.max(1, Math.ceil(maxFrameSize / FRAGMENT_COST));
}

// zlib takes its strategy as a number; the option names it.
const ZLIB_STRATEGIES: Readonly<Record<DeflateStrategy, number>> = {
  default: zlib.Z_DEFAULT_STRATEGY,
  filtered: zlib.Z_FILTERED,
  huffmanOnly: zlib.Z_HUFFMAN_ONLY,
  rle: zlib.Z_RLE,
  fixed: zlib.Z_FIXED,
};

/**
 * ws's `perMessageDeflate` for these options. The negotiation is not ws's:
 * `negotiateDeflate` decides, and ws is handed the offer taken (see
 * `handOffer`), so the parameters that steer ws's own acceptance are left out.
 */
function deflateConfig(o: ResolvedOptions): object {
  const d = o.deflateOptions;
  return {
    zlibDeflateOptions: {
      ...(d.level !== undefined ? { level: d.level } : {}),
      ...(d.memLevel !== undefined ? { memLevel: d.memLevel } : {}),
      ...(d.strategy !== undefined ? { strategy: ZLIB_STRATEGIES[d.strategy] } : {}),
    },
    threshold: d.threshold,
  };
}

/** Answers an upgrade request with a plain HTTP response and ends the socket. */
function refuse(socket: Duplex, status: number, reason: string, headers: Readonly<Record<string, string>> | undefined): void {
  if (socket.writable) socket.end(renderRefusal({ status, reason, headers }));
  else socket.destroy();
}

/**
 * @internal the upgrade of `req` into a connection of `serving`, for `upgrade()`.
 * Resolves with its pid, or undefined when refused (the client got the refusal)
 * or gone while `authorize` decided; rejects, after answering 500, when an
 * application function (authorize, checkOrigin, subprotocols, args) threw.
 */
export function upgradeInto<A>(serving: Serving<A, IncomingMessage>, req: IncomingMessage, socket: Duplex, head: Buffer, args?: A): Promise<Pid | undefined> {
  const admitted = serving.admit(req, req, req.url, args);
  if (admitted instanceof Promise) return admitted.then((a) => (socket.destroyed ? undefined : settled(serving, a, req, socket, head)));
  return settled(serving, admitted, req, socket, head);
}

function settled<A>(serving: Serving<A, IncomingMessage>, admitted: Admitted<A>, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<Pid | undefined> {
  try {
    const pid = handshake(serving, admitted, req, socket, head);
    return !admitted.ok && admitted.error !== undefined ? Promise.reject(admitted.error) : Promise.resolve(pid);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * @internal the upgrade of `req` into a connection of `serving`, for `serve()` and
 * `attach()`, which want no answer: a refusal went to the client and, with any
 * failure of application code, to the logger. Without an async `authorize` the
 * whole upgrade runs now, and no promise is made for it.
 */
export function takeUpgrade<A>(serving: Serving<A, IncomingMessage>, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const admitted = serving.admit(req, req, req.url);
  if (admitted instanceof Promise) {
    void admitted.then((a) => {
      if (!socket.destroyed) takeAdmitted(serving, a, req, socket, head);
    });
  } else {
    takeAdmitted(serving, admitted, req, socket, head);
  }
}

function takeAdmitted<A>(serving: Serving<A, IncomingMessage>, admitted: Admitted<A>, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  try {
    handshake(serving, admitted, req, socket, head);
  } catch {
    // A fault of ours in one upgrade must not take the server down: that client is cut.
    socket.destroy();
  }
}

/** Answers a refusal, or has ws perform the handshake and starts the connection: its pid, or undefined when refused. */
function handshake<A>(serving: Serving<A, IncomingMessage>, admitted: Admitted<A>, req: IncomingMessage, socket: Duplex, head: Buffer): Pid | undefined {
  if (!admitted.ok) {
    refuse(socket, admitted.status, admitted.reason, admitted.headers);
    return undefined;
  }
  const p: Pending = { serving: serving as Serving<unknown, IncomingMessage>, protocol: admitted.protocol, args: admitted.args, socket, pid: undefined };
  pending.set(req, p);
  const offer = req.headers['sec-websocket-extensions'];
  try {
    if (offer !== undefined) handOffer(req, serving.options);
    // ws calls upgraded() before it returns, unless it refused the handshake or found the socket gone.
    wsServerFor(serving.options).handleUpgrade(req, socket, head, upgraded);
  } finally {
    pending.delete(req);
    // ws read the offer synchronously; the application sees the client's header again.
    if (offer !== undefined) req.headers['sec-websocket-extensions'] = offer;
  }
  return p.pid;
}

/** ws's callback with the upgraded WebSocket: one function for every upgrade, not a closure each. */
function upgraded(ws: WebSocket, req: IncomingMessage): void {
  const p = pending.get(req) as Pending;
  const transport = new WsTransport(ws, p.socket, p.serving as Serving<unknown, unknown>, req.url);
  const conn = p.serving.start(transport, transport, p.args);
  bindSocket(ws as BoundWebSocket, p.socket, transport, conn);
  // ws destroys the socket on an error from here on: the guard serve() and attach() set for the handshake is not needed.
  p.socket.off('error', destroyOnError);
  p.pid = conn.pid;
}

/**
 * Replaces the client's `Sec-WebSocket-Extensions` by the parameters of the
 * answer `negotiateDeflate` chose (or removes it when none was taken): ws
 * accepts exactly those, whereas on the client's header it would answer 400
 * to any offer it cannot take instead of declining it (RFC 7692 §5).
 */
function handOffer(req: IncomingMessage, o: ResolvedOptions): void {
  const agreed = o.compress ? negotiateDeflate(req.headers['sec-websocket-extensions'], o.deflateOptions) : undefined;
  if (agreed === undefined) delete req.headers['sec-websocket-extensions'];
  else req.headers['sec-websocket-extensions'] = agreed.response;
}

/** The `Serving` of `upgrade()` calls with one handler and one options object: they share the shared supervisor. */
const sharedServings = new WeakMap<ResolvedOptions, WeakMap<object, Serving<unknown, IncomingMessage>>>();

function sharedServing(handler: WebSock<unknown, unknown>, opts: UpgradeOptions<unknown> | undefined): Serving<unknown, IncomingMessage> {
  const o = resolveOptions(opts);
  let byHandler = sharedServings.get(o);
  if (byHandler === undefined) sharedServings.set(o, (byHandler = new WeakMap()));
  let serving = byHandler.get(handler);
  if (serving === undefined) {
    serving = new Serving({ server: 'ws', handler, options: o, authorize: opts?.authorize, shared: true });
    byHandler.set(handler, serving);
  }
  return serving;
}

/**
 * Upgrades a request from a `node:http` server's `'upgrade'` event and runs
 * `handler` for the new connection in its own process, a temporary child of
 * the shared supervisor `beamsock.connections` (started again if it was
 * stopped). A request that fails validation gets HTTP 400 (426 for a wrong
 * version, 403 for a refused origin, 401 or 403 as the `authorize` option says)
 * with the reason as its body, reported to the logger. Resolves with the
 * connection's pid, or undefined when the upgrade was refused. Throws
 * (synchronously) for invalid options; rejects, after answering 500 and
 * reporting the error to the logger, when an `authorize`, `checkOrigin` or
 * `subprotocols` function throws. To close these connections with the server,
 * prefer `attach()`.
 *
 * @example
 * server.on('upgrade', (req, socket, head) => {
 *   if (req.url === '/ws') upgrade(req, socket, head, EchoServer, {}, { timeout: 60_000 });
 *   else socket.destroy();
 * });
 */
export function upgrade<S, A>(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  handler: WebSock<S, A>,
  args: A,
  opts?: UpgradeOptions<A>,
): Promise<Pid | undefined> {
  return upgradeInto(sharedServing(handler as WebSock<unknown, unknown>, opts as UpgradeOptions<unknown> | undefined), req, socket, head, args);
}

/**
 * Options of `attach`: what to upgrade, how many at once, and every connection option.
 *
 * @example
 * const opts: AttachOptions<string> = { path: '/ws', args: (req) => req.url ?? '/', maxConnections: 10_000, timeout: 30_000 };
 */
export interface AttachOptions<A> extends ConnectionOptions {
  /** Only upgrades for this path (query string ignored) are taken; others are left to the server's other listeners (404 if there are none). Default: any path. */
  readonly path?: string;
  /** What `init` receives: a value, or a function of the upgrade request. */
  readonly args?: A | ((req: IncomingMessage) => A);
  /** Lets a request through (with `init`'s args, if it gives them) or refuses it with 401 or 403; see `Authorize`. */
  readonly authorize?: Authorize<A, IncomingMessage>;
  /** Aborting the signal closes the attachment, as `close()` does. */
  readonly signal?: AbortSignal;
  /** Connections allowed at once (the supervisor's `maxChildren`); one more is closed with 1013. Default Infinity. */
  readonly maxConnections?: number;
}

/**
 * WebSockets on an HTTP server you own: its connections, and how to close them.
 *
 * @example
 * await using sockets = attach(httpServer, ChatSocket, { path: '/ws' });
 * for (const pid of sockets.connections()) send(pid, 'server restarting');
 */
export interface Attachment {
  /** The DynamicSupervisor every connection of this attachment is a temporary child of. */
  readonly supervisor: Promise<Pid>;
  /** Pids of the live connections. */
  connections(): Pid[];
  /**
   * Stops taking upgrades and closes every connection with 1001 (their
   * `terminate` sees `'shutdown'`), waiting up to `timeoutMs` (default the
   * `shutdownTimeout` option, 15 000) for them to finish, then cuts what is
   * left. The HTTP server keeps running. Later calls return the first promise.
   */
  close(timeoutMs?: number): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const ATTACH_KEYS = new Set(['path', 'args', 'authorize', 'signal', 'maxConnections']);

/**
 * Serves WebSocket upgrades of `httpServer` (yours: Express's, Fastify's,
 * Hono's on node:http) with `handler`, each connection a process under this
 * attachment's own supervisor, beside the server's ordinary routes. Closing the
 * HTTP server (`httpServer.close()`) closes these connections with 1001 first,
 * so that it resolves once they have finished their closing handshake instead
 * of waiting for clients to leave; so does `close()`, the `signal`, and
 * `await using`. Options are checked here, naming the bad one.
 *
 * @throws TypeError for an invalid option.
 * @example
 * const app = express();
 * const httpServer = app.listen(3000);
 * const chat = attach(httpServer, ChatSocket, { path: '/ws' });
 * // ... later: closes the WebSockets with 1001, then the HTTP server
 * httpServer.close();
 */
export function attach<S, A>(httpServer: Server, handler: WebSock<S, A>, opts: AttachOptions<A> = {}): Attachment {
  const connectionOpts: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts)) if (!ATTACH_KEYS.has(k)) connectionOpts[k] = v;
  const o = normalizeOptions(connectionOpts as ConnectionOptions, 'attach options');
  const { path } = listenOptions({ path: opts.path });
  const serving = new Serving<A, IncomingMessage>({ server: 'ws', handler: handler as WebSock<unknown, A>, options: o, args: opts.args, authorize: opts.authorize, maxConnections: opts.maxConnections });

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (!onPath(req.url ?? '/', path)) {
      // Another listener may take it; with none, Node would leave the socket open.
      if (httpServer.listenerCount('upgrade') === 1) refuse(socket, 404, `no WebSocket endpoint at ${req.url ?? '/'}`, undefined);
      return;
    }
    socket.on('error', destroyOnError);
    takeUpgrade(serving, req, socket, head);
  };
  // An upgraded socket keeps net.Server's close() waiting: its connections must close first.
  const serverClose = httpServer.close;
  const closeFirst: Server['close'] = function (this: Server, callback) {
    void close();
    return serverClose.call(this, callback);
  };
  const onServerClose = (): void => void close();
  httpServer.on('upgrade', onUpgrade);
  httpServer.on('close', onServerClose);
  httpServer.close = closeFirst;

  let closed: Promise<void> | undefined;
  const close = (timeoutMs?: number): Promise<void> => {
    if (closed === undefined) {
      httpServer.off('upgrade', onUpgrade);
      httpServer.off('close', onServerClose);
      if (httpServer.close === closeFirst) httpServer.close = serverClose;
      closed = serving.close(timeoutMs);
    }
    return closed;
  };
  void closeOnAbort(opts.signal, close);

  return {
    supervisor: serving.supervisor,
    connections: () => serving.connections(),
    close,
    [Symbol.asyncDispose]: () => close(),
  };
}

/** @internal a socket's error listener that outlives the request, so not a closure over it. */
export function destroyOnError(this: Duplex): void {
  this.destroy();
}
