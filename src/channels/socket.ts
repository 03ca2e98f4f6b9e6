/**
 * The socket: one WebSocket speaking the Phoenix Channels protocol, a WebSock
 * handler that multiplexes topics over it (Phoenix.Socket).
 *
 * `createSocket` returns the handler and an `authorize` hook for any beamsock
 * server: `authorize` reads the query string (the client's `params` and `vsn`)
 * and asks the application's `connect`; the handler then routes each `phx_join`
 * by topic pattern to a channel, started as its own linked process, forwards the
 * client's pushes to it, answers heartbeats on the `phoenix` topic, and tells
 * the client when a channel closes (`phx_close`) or crashes (`phx_error`).
 */
import type { IncomingMessage } from 'node:http';
import { exit, self, send } from '../runtime/process.js';
import { isExit, isShutdownReason } from '../runtime/reasons.js';
import type { MaybePromise } from '../runtime/gen-server.js';
import type { Pid } from '../runtime/pid.js';
import { ok, push, stop, type HandleResult, type InFrame, type WebSock } from '../websock/behaviour.js';
import type { Authorization } from '../websock/admission.js';
import { ChannelIn, startChannel, type Channel, type ChannelEntry, type SocketContext } from './channel.js';
import { Endpoint, isBroadcast } from './endpoint.js';
import { MalformedMessage, decode, encodeControl, encodeReply, serializerFor, type InMessage, type SerializerVersion } from './serializer.js';

/** What `connect` learns of the request beside its query parameters. */
export interface ConnectInfo {
  /** The request's URL (path and query). */
  readonly url: URL;
  /** Request headers, lower-cased names. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * The token of the client's `authToken` option (Phoenix's `auth_token`), which
   * it sends as the subprotocol `base64url.bearer.phx.<base64>` beside `phoenix`
   * rather than in the URL. Serve with `subprotocols: ['phoenix']` so the
   * handshake names one the client offered.
   */
  readonly authToken: string | undefined;
}

const AUTH_TOKEN_PREFIX = 'base64url.bearer.phx.';

function authTokenOf(headers: Readonly<Record<string, string>>): string | undefined {
  const offered = headers['sec-websocket-protocol'];
  if (offered === undefined) return undefined;
  const entry = offered
    .split(',')
    .map((p) => p.trim())
    .find((p) => p.startsWith(AUTH_TOKEN_PREFIX));
  // The client encodes with btoa, one byte per character: latin1 reads it back as it was given.
  return entry === undefined ? undefined : Buffer.from(entry.slice(AUTH_TOKEN_PREFIX.length), 'base64').toString('latin1');
}

/**
 * What `connect` answers: `true` or `{ assigns }` to accept (the socket's
 * assigns, which every `join` sees), `false` to refuse with 403, or
 * `{ status: 401 | 403, reason? }` to refuse with that status.
 */
export type ConnectResult<SA> = boolean | { readonly assigns: SA } | { readonly status: 401 | 403; readonly reason?: string };

/** Options of `createSocket`. */
export interface SocketOptions<SA> {
  /** Where broadcasts go: `socket.broadcast` in channels, `disconnect` by id. Default: a new local `Endpoint`. */
  readonly endpoint?: Endpoint;
  /** Topic pattern to channel: `'room:*'` matches every topic starting `room:`, any other pattern only itself. */
  readonly channels: Readonly<Record<string, Channel<unknown, SA>>>;
  /** Authorizes a socket from the client's `params` (Phoenix's `connect/3`). Default: accept, assigns undefined. */
  readonly connect?: (params: Readonly<Record<string, string>>, info: ConnectInfo) => MaybePromise<ConnectResult<SA>>;
  /**
   * The socket's id, e.g. `user_socket:${assigns.userId}`, or null (Phoenix's
   * `id/1`): `endpoint.broadcast(id, 'disconnect', {})` closes every socket with it.
   */
  readonly id?: (assigns: SA) => string | null;
  /** Channels one socket may have joined at once; one more join is answered `error` `{reason: "too many channels joined"}`. Default 100. */
  readonly maxChannels?: number;
  /** Largest message the client may send, in bytes; a larger one is answered `error` `{reason: "payload too large"}`. Default 1 MiB. */
  readonly maxPayloadBytes?: number;
  /** Pushes one channel may have waiting; one more is answered `error` `{reason: "too many pending pushes"}`. Default 1000. */
  readonly maxPendingPushes?: number;
}

/** @internal what `authorize` hands the connection's `init`. */
export interface SocketArgs {
  readonly kind: 'phoenix_socket';
  readonly vsn: SerializerVersion;
  readonly assigns: unknown;
  readonly id: string | null;
}

/** @internal the state of one socket's connection process. */
export interface SocketState {
  readonly ctx: SocketContext;
  readonly topics: Map<string, ChannelEntry>;
  readonly byPid: Map<Pid, ChannelEntry>;
}

/** A Phoenix socket: mount `handler` on a beamsock server with `authorize`. */
export interface PhoenixSocket<SA> {
  /** The WebSock handler of every socket connection. */
  readonly handler: WebSock<SocketState, SocketArgs>;
  /**
   * The `authorize` option for the server: reads `vsn` and the params, calls
   * `connect`. Accepts node:http's request (ws) and a Fetch `Request` (Bun, Deno).
   */
  readonly authorize: (req: IncomingMessage | Request) => Promise<Authorization<SocketArgs>>;
  /** The endpoint its channels broadcast through. */
  readonly endpoint: Endpoint;
  /** @internal the channel for a topic, or undefined. */
  route(topic: string): Channel<unknown, unknown> | undefined;
  /** @internal runs `connect` and `id` on params, as `authorize` does. */
  connectWith(params: Readonly<Record<string, string>>, info: ConnectInfo, vsn: SerializerVersion): Promise<Authorization<SocketArgs>>;
}

/** The message `drainSocket` sends (Phoenix's `:socket_drain`). */
const DRAIN = Symbol('phx socket drain');

/**
 * Asks a socket's process to close with 1012 (service restart), as Phoenix's
 * socket drainer does when a server shuts down: the client reconnects, to this
 * server or another. Its channels end with it. Does nothing to a dead pid.
 *
 * @example
 * for (const pid of sockets) drainSocket(pid);
 */
export function drainSocket(pid: Pid): void {
  send(pid, DRAIN);
}

const OPTION_KEYS = ['endpoint', 'channels', 'connect', 'id', 'maxChannels', 'maxPayloadBytes', 'maxPendingPushes'];

function positiveInt(opts: Record<string, unknown>, key: string, dflt: number): number {
  const v = opts[key] ?? dflt;
  if (typeof v !== 'number' || !(Number.isInteger(v) || v === Infinity) || v < 1) throw new TypeError(`createSocket option '${key}' must be a positive integer, got ${String(v)}`);
  return v;
}

function headersOf(req: IncomingMessage | Request): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof Headers !== 'undefined' && req.headers instanceof Headers) {
    req.headers.forEach((v, k) => {
      out[k] = v;
    });
    return out;
  }
  for (const [k, v] of Object.entries((req as IncomingMessage).headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/**
 * Defines a Phoenix socket: its channels by topic pattern, how it authorizes,
 * its id and its limits. Throws a TypeError naming a bad option.
 *
 * @example
 * const socket = createSocket({
 *   channels: { 'room:*': Room },
 *   connect: (params) => (params.token === 's3cret' ? { assigns: { user: 'ada' } } : false),
 *   id: (assigns) => `user_socket:${assigns.user}`,
 * });
 * await serve(socket.handler, { port: 4000, path: '/socket/websocket', authorize: socket.authorize });
 */
export function createSocket<SA = undefined>(opts: SocketOptions<SA>): PhoenixSocket<SA> {
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`createSocket(options): options must be an object, got ${String(opts)}`);
  for (const key of Object.keys(opts)) {
    if (!OPTION_KEYS.includes(key)) throw new TypeError(`createSocket options: unknown option '${key}' (known: ${OPTION_KEYS.join(', ')})`);
  }
  const raw = opts as unknown as Record<string, unknown>;
  const maxChannels = positiveInt(raw, 'maxChannels', 100);
  const maxPayloadBytes = positiveInt(raw, 'maxPayloadBytes', 1 << 20);
  const maxPendingPushes = positiveInt(raw, 'maxPendingPushes', 1000);
  if (opts.endpoint !== undefined && !(opts.endpoint instanceof Endpoint)) throw new TypeError(`createSocket option 'endpoint' must be an Endpoint, got ${String(opts.endpoint)}`);
  if (opts.connect !== undefined && typeof opts.connect !== 'function') throw new TypeError(`createSocket option 'connect' must be a function (params, info) => ConnectResult`);
  if (opts.id !== undefined && typeof opts.id !== 'function') throw new TypeError(`createSocket option 'id' must be a function (assigns) => string | null`);
  if (typeof opts.channels !== 'object' || opts.channels === null) throw new TypeError(`createSocket option 'channels' must be an object of topic pattern to channel, e.g. { 'room:*': Room }`);
  const exact = new Map<string, Channel<unknown, unknown>>();
  const prefixes: [string, Channel<unknown, unknown>][] = [];
  for (const [pattern, channel] of Object.entries(opts.channels)) {
    if (typeof channel !== 'object' || channel === null || typeof (channel as { join?: unknown }).join !== 'function') {
      throw new TypeError(`createSocket option 'channels': '${pattern}' must map to a channel with a join function`);
    }
    const star = pattern.indexOf('*');
    if (star === -1) exact.set(pattern, channel as Channel<unknown, unknown>);
    else if (star === pattern.length - 1) prefixes.push([pattern.slice(0, -1), channel as Channel<unknown, unknown>]);
    else throw new TypeError(`createSocket option 'channels': pattern '${pattern}' may have '*' only at its end`);
  }
  const endpoint = opts.endpoint ?? new Endpoint();
  const connect = opts.connect;
  const idOf = opts.id;

  const route = (topic: string): Channel<unknown, unknown> | undefined => {
    const hit = exact.get(topic);
    if (hit !== undefined) return hit;
    for (const [prefix, channel] of prefixes) if (topic.startsWith(prefix)) return channel;
    return undefined;
  };

  const connectWith = async (params: Readonly<Record<string, string>>, info: ConnectInfo, vsn: SerializerVersion): Promise<Authorization<SocketArgs>> => {
    const answer = connect === undefined ? true : await connect(params, info);
    let assigns: unknown;
    if (answer === true) assigns = undefined;
    else if (answer === false) return { status: 403, reason: 'connect refused the socket' };
    else if (typeof answer === 'object' && answer !== null && 'assigns' in answer) assigns = answer.assigns;
    else if (typeof answer === 'object' && answer !== null && (answer.status === 401 || answer.status === 403)) return answer.reason === undefined ? { status: answer.status } : { status: answer.status, reason: answer.reason };
    else throw new TypeError(`connect returned ${JSON.stringify(answer)}: expected true, false, { assigns } or { status: 401 | 403, reason? }`);
    const id = idOf === undefined ? null : idOf(assigns as SA);
    if (id !== null && typeof id !== 'string') throw new TypeError(`id returned ${JSON.stringify(id)}: expected a string or null`);
    return { args: { kind: 'phoenix_socket', vsn, assigns, id } };
  };

  const authorize = async (req: IncomingMessage | Request): Promise<Authorization<SocketArgs>> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const vsn = serializerFor(url.searchParams.get('vsn'));
    if (vsn === undefined) return { status: 403, reason: `unsupported serializer vsn=${url.searchParams.get('vsn') ?? ''}: beamsock speaks 1.0.0 and 2.0.0` };
    const params: Record<string, string> = {};
    for (const [k, v] of url.searchParams) if (k !== 'vsn') params[k] = v;
    const headers = headersOf(req);
    return connectWith(params, { url, headers, authToken: authTokenOf(headers) }, vsn);
  };

  const reply = (state: SocketState, msg: InMessage, status: string, response: unknown): HandleResult<SocketState> =>
    push(encodeReply(state.ctx.vsn, msg.joinRef, msg.ref, msg.topic, status, response), state);

  const join = (state: SocketState, msg: InMessage): HandleResult<SocketState> => {
    const frames = [];
    const old = state.topics.get(msg.topic);
    if (old !== undefined) {
      // A second join of a topic replaces the first, as Phoenix does: the old one is told it closed.
      exit(old.pid, { shutdown: 'duplicate_join' });
      state.topics.delete(msg.topic);
      state.byPid.delete(old.pid);
      frames.push(encodeControl(state.ctx.vsn, old.joinRef, old.topic, 'phx_close', {}));
    }
    const channel = route(msg.topic);
    if (channel === undefined) frames.push(encodeReply(state.ctx.vsn, msg.joinRef, msg.ref, msg.topic, 'error', { reason: 'unmatched topic' }));
    else if (state.topics.size >= maxChannels) frames.push(encodeReply(state.ctx.vsn, msg.joinRef, msg.ref, msg.topic, 'error', { reason: 'too many channels joined' }));
    else {
      const entry: ChannelEntry = { topic: msg.topic, joinRef: msg.joinRef ?? msg.ref ?? '', pid: self(), joined: false, pending: 0 };
      startChannel(channel, state.ctx, entry, msg.payload, msg.ref);
      state.topics.set(msg.topic, entry);
      state.byPid.set(entry.pid, entry);
    }
    return frames.length === 0 ? ok(state) : push(frames, state);
  };

  const handler: WebSock<SocketState, SocketArgs> = {
    name: 'PhoenixSocket',
    init(args) {
      if (typeof args !== 'object' || args === null || args.kind !== 'phoenix_socket') {
        throw new TypeError("a Phoenix socket needs the server's authorize option set to socket.authorize (it reads vsn and params and calls connect)");
      }
      const ctx: SocketContext = { endpoint, transportPid: self(), vsn: args.vsn, id: args.id, assigns: args.assigns };
      if (args.id !== null) endpoint.subscribe(args.id);
      return ok({ ctx, topics: new Map(), byPid: new Map() });
    },
    handleIn([data]: InFrame, state) {
      let msg: InMessage;
      try {
        msg = decode(state.ctx.vsn, data);
      } catch (err) {
        if (!(err instanceof MalformedMessage)) throw err;
        return stop('normal', { code: 1003, reason: err.message.slice(0, 120) }, state);
      }
      if (msg.topic === 'phoenix' && msg.event === 'heartbeat') return reply(state, msg, 'ok', {});
      const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
      if (size > maxPayloadBytes) return reply(state, msg, 'error', { reason: 'payload too large' });
      if (msg.event === 'phx_join') return join(state, msg);
      const entry = state.topics.get(msg.topic);
      if (entry === undefined) return msg.event === 'phx_leave' ? reply(state, msg, 'ok', {}) : reply(state, msg, 'error', { reason: 'unmatched topic' });
      // A message for an earlier join of this topic: the client raced a close, nothing to answer.
      if (msg.joinRef !== null && msg.joinRef !== entry.joinRef) return ok(state);
      if (entry.pending >= maxPendingPushes) return reply(state, msg, 'error', { reason: 'too many pending pushes' });
      entry.pending++;
      send(entry.pid, new ChannelIn(msg.event, msg.payload, msg.ref));
      return ok(state);
    },
    handleInfo(msg, state) {
      if (isExit(msg)) {
        const entry = state.byPid.get(msg.from);
        if (entry === undefined) return ok(state);
        state.byPid.delete(msg.from);
        state.topics.delete(entry.topic);
        // A refused or crashed join has had its error reply already.
        if (!entry.joined) return ok(state);
        const closed = msg.reason === 'normal' || msg.reason === 'shutdown' || isShutdownReason(msg.reason);
        return push(closed ? encodeControl(state.ctx.vsn, entry.joinRef, entry.topic, 'phx_close', {}) : encodeControl(state.ctx.vsn, entry.joinRef, entry.topic, 'phx_error', { reason: 'channel_crash' }), state);
      }
      if (msg === DRAIN) return stop({ shutdown: 'restart' }, state);
      if (isBroadcast(msg) && msg.event === 'disconnect' && msg.topic === state.ctx.id) {
        // 1001, not 1000: the client reconnects, and connect decides again.
        return stop({ shutdown: 'disconnected' }, { code: 1001 }, state);
      }
      return ok(state);
    },
  };

  return { handler, authorize, endpoint, route, connectWith };
}
