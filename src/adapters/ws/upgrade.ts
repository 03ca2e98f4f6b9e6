/**
 * Upgrading a `node:http` request to a WebSocket hosted by a WebSock handler.
 *
 * Validation (websock_adapter's order and messages), the origin check and
 * subprotocol selection happen here before `ws` sees the request; `ws` then
 * performs the handshake, and the socket is handed to a connection process.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { constants as zlib } from 'node:zlib';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Pid } from '../../runtime/pid.js';
import type { WebSock } from '../../websock/behaviour.js';
import { Connection, connectionSettings, publishUpgrade, type ConnectionMeta, type ConnectionSettings } from '../../websock/connection.js';
import { superviseConnection } from '../../websock/supervision.js';
import {
  normalizeOptions,
  selectSubprotocol,
  type ConnectionOptions,
  type DeflateStrategy,
  type ResolvedOptions,
} from '../../websock/options.js';
import { renderRefusal } from '../../websock/upgrade-validation.js';
import { WsTransport } from './transport.js';
import { admit, type Admission } from '../../websock/admission.js';

/** Where connections go once upgraded: a server tracks its own. */
export interface ConnectionSink {
  /** The DynamicSupervisor connections become children of; its exit signal shuts them down with 1001. */
  readonly supervisor: Pid | Promise<Pid>;
  add(conn: Connection<unknown>): void;
  /** The connection's socket closed. */
  remove(conn: Connection<unknown>): void;
}

const resolvedCache = new WeakMap<object, ResolvedOptions>();
const DEFAULTS = normalizeOptions({});

/** @internal validates options once per options object. */
export function resolveOptions(opts: ConnectionOptions | undefined): ResolvedOptions {
  if (opts === undefined) return DEFAULTS;
  let r = resolvedCache.get(opts);
  if (r === undefined) {
    r = normalizeOptions(opts);
    resolvedCache.set(opts, r);
  }
  return r;
}

interface Pending {
  readonly protocol: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly done: (pid: Pid | undefined) => void;
}
const pending = new WeakMap<IncomingMessage, Pending>();

// One ws server per distinct protocol configuration: ws reads these at handshake time.
const servers = new Map<string, WebSocketServer>();

const serverOf = new WeakMap<ResolvedOptions, WebSocketServer>();
const settingsOf = new WeakMap<ResolvedOptions, ConnectionSettings>();

function wsServerFor(o: ResolvedOptions): WebSocketServer {
  let cached = serverOf.get(o);
  if (cached === undefined) {
    cached = wsServerForConfig(o);
    serverOf.set(o, cached);
  }
  return cached;
}

function settingsFor(o: ResolvedOptions): ConnectionSettings {
  let cached = settingsOf.get(o);
  if (cached === undefined) {
    cached = connectionSettings(o);
    settingsOf.set(o, cached);
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
      skipUTF8Validation: !o.validateUtf8,
      perMessageDeflate,
      handleProtocols: (_offered, req) => pending.get(req)?.protocol ?? false,
    });
    wss.on('headers', (headers: string[], req: IncomingMessage) => {
      const p = pending.get(req);
      if (p === undefined) return;
      for (const name of Object.keys(p.headers)) headers.push(`${name}: ${p.headers[name] as string}`);
    });
    wss.on('wsClientError', (err: Error, socket: Duplex, req: IncomingMessage) => {
      // Only reached with earlyValidateUpgrade: false — ws's own handshake checks failed.
      refuse(socket, 400, err.message, {});
      publishUpgrade({ server: 'ws', path: req.url, status: 400, reason: err.message });
      pending.get(req)?.done(undefined);
    });
    servers.set(key, wss);
  }
  return wss;
}

// zlib takes its strategy as a number; the option names it.
const ZLIB_STRATEGIES: Readonly<Record<DeflateStrategy, number>> = {
  default: zlib.Z_DEFAULT_STRATEGY,
  filtered: zlib.Z_FILTERED,
  huffmanOnly: zlib.Z_HUFFMAN_ONLY,
  rle: zlib.Z_RLE,
  fixed: zlib.Z_FIXED,
};

function deflateConfig(o: ResolvedOptions): object {
  const d = o.deflateOptions;
  return {
    serverNoContextTakeover: d.serverNoContextTakeover,
    clientNoContextTakeover: d.clientNoContextTakeover,
    ...(d.serverMaxWindowBits !== undefined ? { serverMaxWindowBits: d.serverMaxWindowBits } : {}),
    ...(d.clientMaxWindowBits !== undefined ? { clientMaxWindowBits: d.clientMaxWindowBits } : {}),
    zlibDeflateOptions: {
      ...(d.level !== undefined ? { level: d.level } : {}),
      ...(d.memLevel !== undefined ? { memLevel: d.memLevel } : {}),
      ...(d.strategy !== undefined ? { strategy: ZLIB_STRATEGIES[d.strategy] } : {}),
    },
    threshold: d.threshold,
  };
}

function refuse(socket: Duplex, status: number, reason: string, headers: Readonly<Record<string, string>>): void {
  if (socket.writable) socket.end(renderRefusal({ status, reason, headers }));
  else socket.destroy();
}

/**
 * @internal an app-supplied function (checkOrigin, subprotocols, args) threw: a
 * server error for this request alone, never an uncaught exception in the HTTP
 * server's 'upgrade' event.
 */
export function failUpgrade(req: IncomingMessage, socket: Duplex, err: unknown): void {
  refuse(socket, 500, 'internal server error while upgrading', {});
  publishUpgrade({ server: 'ws', path: req.url, status: 500, reason: err instanceof Error ? err.message : String(err) });
}

const kConn = Symbol('beamsock.connection');
const kSink = Symbol('beamsock.sink');
type Tagged = WebSocket & { [kConn]: Connection<unknown>; [kSink]: ConnectionSink | undefined };

// Shared listeners (ws calls them with `this` = the socket) so a connection costs no closures.
function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  (this as Tagged)[kConn].received(isBinary ? data : data.toString(), isBinary, data.length);
}
function onPing(this: WebSocket, data: Buffer): void {
  (this as Tagged)[kConn].control(data, 'ping');
}
function onPong(this: WebSocket, data: Buffer): void {
  (this as Tagged)[kConn].control(data, 'pong');
}
function onClose(this: WebSocket, code: number, reason: Buffer): void {
  // ws reports 1006 when no close frame arrived: the TCP connection dropped.
  const conn = (this as Tagged)[kConn];
  conn.closed(code !== 1006, code, reason.toString());
  (this as Tagged)[kSink]?.remove(conn);
}
function onError(this: WebSocket, err: Error & { code?: string }): void {
  (this as Tagged)[kConn].protocolError(err, closeCodeFor(err.code));
}

/** The close code ws sent for one of its protocol errors. */
export function closeCodeFor(code: string | undefined): number {
  switch (code) {
    case 'WS_ERR_INVALID_UTF8':
      return 1007;
    case 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH':
    case 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH':
      return 1009;
    case 'WS_ERR_TOO_MANY_BUFFERED_PARTS':
      return 1008;
    default:
      return 1002;
  }
}

/** @internal the upgrade, with the place its connection goes. */
export function upgradeInto<S, A>(
  sink: ConnectionSink | undefined,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  handler: WebSock<S, A>,
  args: A,
  o: ResolvedOptions,
): Promise<Pid | undefined> {
  let admission: Admission;
  try {
    admission = admit(req, o);
  } catch (err) {
    failUpgrade(req, socket, err);
    return Promise.reject(err);
  }
  if (!admission.ok) {
    refuse(socket, admission.status, admission.reason, admission.headers ?? {});
    publishUpgrade({ server: 'ws', path: req.url, status: admission.status, reason: admission.reason });
    return Promise.resolve(undefined);
  }
  const protocol = admission.protocol;
  return new Promise((resolve) => {
    pending.set(req, { protocol, headers: o.headers, done: resolve });
    wsServerFor(o).handleUpgrade(req, socket, head, (ws) => {
      pending.delete(req);
      publishUpgrade({ server: 'ws', path: req.url, status: 101 });
      const conn = new Connection(
        handler as WebSock<unknown>,
        args,
        new WsTransport(ws),
        settingsFor(o),
        new WsMeta(handlerName(handler), ws, req.url),
        undefined,
      );
      const tagged = ws as Tagged;
      tagged[kConn] = conn;
      tagged[kSink] = sink;
      ws.on('message', onMessage);
      ws.on('ping', onPing);
      ws.on('pong', onPong);
      ws.on('close', onClose);
      ws.on('error', onError);
      if (o.maxHeapSize.size !== 0) (ws as unknown as { _socket: Duplex })._socket.on('drain', () => conn.drained());
      superviseConnection(conn as Connection<unknown>, sink?.supervisor, o.shutdownTimeout);
      sink?.add(conn as Connection<unknown>);
      resolve(conn.pid);
    });
  });
}

/**
 * A connection's meta. It keeps the socket, not the request, and reads the peer
 * address only when asked (that costs a syscall); a class, so the getter lives on
 * the prototype rather than in every connection.
 */
class WsMeta implements ConnectionMeta {
  readonly server = 'ws';
  readonly protocol: string | undefined;
  constructor(
    readonly handlerName: string,
    private readonly ws: WebSocket,
    readonly path: string | undefined,
  ) {
    this.protocol = ws.protocol === '' ? undefined : ws.protocol;
  }

  get remoteAddress(): string | undefined {
    return (this.ws as unknown as { _socket: { remoteAddress?: string } | null })._socket?.remoteAddress;
  }
}

function handlerName(handler: object): string {
  const named = handler as { name?: unknown; constructor?: { name?: unknown } };
  if (typeof named.name === 'string') return named.name;
  const ctor = named.constructor?.name;
  return typeof ctor === 'string' && ctor !== 'Object' ? ctor : 'WebSock';
}

/**
 * Upgrades a request from a `node:http` server's `'upgrade'` event and runs
 * `handler` for the new connection in its own process. A request that fails
 * validation gets HTTP 400 (426 for a wrong version, 403 for a refused origin)
 * with the reason as its body. Resolves with the connection's pid, or undefined
 * when the upgrade was refused. Throws (synchronously) for invalid options;
 * rejects, after answering 500, when a `checkOrigin` or `subprotocols` function throws.
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
  opts?: ConnectionOptions,
): Promise<Pid | undefined> {
  return upgradeInto(undefined, req, socket, head, handler, args, resolveOptions(opts));
}
