/**
 * Channels: the modules a socket routes topics to, and the process that runs
 * one joined channel (Phoenix.Channel and Phoenix.Channel.Server).
 *
 * Each join starts its own process, linked to the socket's, which runs the
 * channel's callbacks one message at a time. It writes its pushes and replies to
 * the socket as encoded frames; the socket learns how it ended from its exit
 * signal (`phx_close` for a normal or shutdown exit, `phx_error` for a crash).
 * It monitors the socket, so it ends (after `terminate`) when the socket does.
 */
import type { Pid } from '../runtime/pid.js';
import { exit, monitor, spawnLink } from '../runtime/process.js';
import { ExitSignal } from '../runtime/process-core.js';
import { isDown, type ExitReason } from '../runtime/reasons.js';
import type { MaybePromise } from '../runtime/gen-server.js';
import { Outbound } from '../websock/transport.js';
import { isBroadcast, writeToSocket, type ChannelSubscription, type Endpoint } from './endpoint.js';
import { encodePush, encodeReply, type SerializerVersion } from './serializer.js';

/** Join accepted: the channel's assigns from now on, and the payload of the `ok` reply (default `{}`). */
export interface JoinOk<A> {
  readonly type: 'join_ok';
  readonly assigns: A;
  readonly reply: unknown;
}

/** Join refused: the client's join receives `error` with this payload. */
export interface JoinError {
  readonly type: 'join_error';
  readonly reply: unknown;
}

/** Answer the client's message with `phx_reply` `{status, response}` and keep going. */
export interface ReplyResult<A> {
  readonly type: 'reply';
  readonly status: 'ok' | 'error';
  readonly payload: unknown;
  readonly assigns: A;
}

/** Keep going without a reply. */
export interface NoReplyResult<A> {
  readonly type: 'noreply';
  readonly assigns: A;
}

/**
 * End the channel with `reason` (the client gets `phx_close` for `'normal'`,
 * `'shutdown'` or `{ shutdown }`, `phx_error` for anything else), after an
 * optional reply.
 */
export interface StopResult<A> {
  readonly type: 'stop';
  readonly reason: ExitReason;
  readonly reply: { readonly status: 'ok' | 'error'; readonly payload: unknown } | undefined;
  readonly assigns: A;
}

/** What `join` returns. */
export type JoinResult<A> = JoinOk<A> | JoinError;
/** What `handleIn` returns. */
export type InResult<A> = ReplyResult<A> | NoReplyResult<A> | StopResult<A>;
/** What `handleOut` and `handleInfo` return. */
export type InfoResult<A> = NoReplyResult<A> | StopResult<A>;

/**
 * Accept a join (`{:ok, socket}` / `{:ok, reply, socket}`).
 *
 * @example
 * join: (_topic, params, socket) => joinOk({ ...socket.assigns, user: params.user }, { welcome: true }),
 */
export function joinOk<A>(assigns: A, reply: unknown = {}): JoinOk<A> {
  return { type: 'join_ok', assigns, reply };
}

/**
 * Refuse a join (`{:error, reply}`): the client sees `{status: "error", response: reply}`.
 *
 * @example
 * join: (topic) => (topic === 'room:secret' ? joinError({ reason: 'unauthorized' }) : joinOk(null)),
 */
export function joinError(reply: unknown): JoinError {
  return { type: 'join_error', reply };
}

/**
 * Reply to the client's push (`{:reply, {status, payload}, socket}`).
 *
 * @example
 * handleIn: (event, payload, socket) => reply('ok', { echoed: payload }, socket.assigns),
 */
export function reply<A>(status: 'ok' | 'error', payload: unknown, assigns: A): ReplyResult<A> {
  if (status !== 'ok' && status !== 'error') throw new TypeError(`reply(status, ...): status must be 'ok' or 'error', got ${String(status)}`);
  return { type: 'reply', status, payload, assigns };
}

/**
 * No reply (`{:noreply, socket}`).
 *
 * @example
 * handleIn: (_event, _payload, socket) => noreply(socket.assigns),
 */
export function noreply<A>(assigns: A): NoReplyResult<A> {
  return { type: 'noreply', assigns };
}

/**
 * Stop the channel (`{:stop, reason, socket}` or `{:stop, reason, reply, socket}`).
 *
 * @example
 * handleIn: (event, _p, socket) => stopChannel('normal', socket.assigns, { status: 'ok', payload: { bye: true } }),
 */
export function stopChannel<A>(reason: ExitReason, assigns: A, replyWith?: { readonly status: 'ok' | 'error'; readonly payload: unknown }): StopResult<A> {
  return { type: 'stop', reason, reply: replyWith, assigns };
}

/**
 * A channel module, routed to by topic pattern. `A` is its assigns, `SA` the
 * socket's (what `connect` returned), which `join` sees.
 *
 * @example
 * const Room: Channel<{ user: string }> = {
 *   join: (_topic, params) => joinOk({ user: String((params as { user?: unknown }).user) }),
 *   handleIn: (event, payload, socket) => {
 *     socket.broadcast(event, { user: socket.assigns.user, ...(payload as object) });
 *     return noreply(socket.assigns);
 *   },
 * };
 */
export interface Channel<A = unknown, SA = unknown> {
  /** A client joins `topic` with `payload`; may refuse. Runs in the channel's new process. */
  join(topic: string, payload: unknown, socket: ChannelSocket<SA>): MaybePromise<JoinResult<A>>;
  /** An event the client pushed. Default: reply `error` `{reason: "unhandled event"}`. */
  handleIn?(event: string, payload: unknown, socket: ChannelSocket<A>): MaybePromise<InResult<A>>;
  /** A broadcast of an intercepted event, before it reaches the client (which gets nothing unless it pushes). */
  handleOut?(event: string, payload: unknown, socket: ChannelSocket<A>): MaybePromise<InfoResult<A>>;
  /** Any other message sent to the channel's pid. */
  handleInfo?(message: unknown, socket: ChannelSocket<A>): MaybePromise<InfoResult<A>>;
  /** Runs once when the channel ends (leave, stop, crash, socket gone); its result is ignored. */
  terminate?(reason: ExitReason, socket: ChannelSocket<A>): unknown;
  /** Events whose broadcasts go through `handleOut` (Phoenix's `intercept`). */
  readonly intercept?: readonly string[];
}

/** @internal one joined (or joining) topic of a socket: shared by the socket and its channel process. */
export interface ChannelEntry {
  readonly topic: string;
  readonly joinRef: string;
  pid: Pid;
  joined: boolean;
  /** Pushes forwarded to the channel and not yet handled. */
  pending: number;
}

/** @internal a client message forwarded from the socket to its channel. */
export class ChannelIn {
  constructor(
    readonly event: string,
    readonly payload: unknown,
    readonly ref: string | null,
  ) {}
}

/** What every channel of one socket shares. */
export interface SocketContext {
  readonly endpoint: Endpoint;
  readonly transportPid: Pid;
  readonly vsn: SerializerVersion;
  readonly id: string | null;
  readonly assigns: unknown;
}

/**
 * What a channel's callbacks receive: the joined topic and its details, the
 * channel's assigns, and the ways to talk to its client and topic (Phoenix's
 * `%Phoenix.Socket{}` inside a channel).
 *
 * @example
 * handleIn: (event, payload, socket) => {
 *   socket.push('ack', { event });
 *   return noreply(socket.assigns);
 * },
 */
export class ChannelSocket<A> {
  /** The channel's pid (`self()` inside its callbacks). */
  readonly channelPid: Pid;
  /** @internal */
  constructor(
    private readonly ctx: SocketContext,
    private readonly entry: ChannelEntry,
    /** The channel's assigns: the socket's (from `connect`) in `join`, then what the callbacks return. */
    readonly assigns: A,
  ) {
    this.channelPid = entry.pid;
  }

  /** The topic joined, e.g. `'room:lobby'`. */
  get topic(): string {
    return this.entry.topic;
  }

  /** The join's ref: pushes carry it, so the client drops them after a rejoin. */
  get joinRef(): string {
    return this.entry.joinRef;
  }

  /** The socket's `id` (from the socket's `id` callback), or null. */
  get id(): string | null {
    return this.ctx.id;
  }

  /** The socket's process, which writes to the client. */
  get transportPid(): Pid {
    return this.ctx.transportPid;
  }

  /** The endpoint the socket broadcasts through. */
  get endpoint(): Endpoint {
    return this.ctx.endpoint;
  }

  /**
   * Sends `event` with `payload` to this client only (Phoenix's `push/3`). A
   * Uint8Array or ArrayBuffer payload goes as a binary frame (serializer 2.0.0).
   *
   * @example
   * socket.push('presence_state', presence.list(socket.topic));
   */
  push(event: string, payload: unknown): void {
    if (typeof event !== 'string') throw new TypeError(`push(event, payload): event must be a string, got ${String(event)}`);
    writeToSocket(this.ctx.transportPid, new Outbound(encodePush(this.ctx.vsn, this.entry.joinRef, this.entry.topic, event, payload)));
  }

  /**
   * Sends `event` to every client joined to this topic, this one included.
   *
   * @example
   * socket.broadcast('new_msg', { user: socket.assigns.user, body });
   */
  broadcast(event: string, payload: unknown): void | Promise<void> {
    return this.ctx.endpoint.broadcast(this.entry.topic, event, payload);
  }

  /**
   * Sends `event` to every other client joined to this topic.
   *
   * @example
   * socket.broadcastFrom('typing', { user: socket.assigns.user });
   */
  broadcastFrom(event: string, payload: unknown): void | Promise<void> {
    return this.ctx.endpoint.broadcastFrom(this.entry.pid, this.entry.topic, event, payload);
  }

  /** @internal the same channel with new assigns. */
  with<B>(assigns: B): ChannelSocket<B> {
    return assigns === (this.assigns as unknown) ? (this as unknown as ChannelSocket<B>) : new ChannelSocket<B>(this.ctx, this.entry, assigns);
  }
}

function isPromise(v: unknown): v is PromiseLike<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as PromiseLike<unknown>).then === 'function';
}

const EMPTY = Object.freeze({});

/**
 * @internal starts the process of one join, linked to the calling socket
 * process. It answers the join itself (`ref` is the join message's ref).
 */
export function startChannel(channel: Channel<unknown, unknown>, ctx: SocketContext, entry: ChannelEntry, payload: unknown, ref: string | null): Pid {
  let socket: ChannelSocket<unknown>;
  let socketMonitor: unknown;
  let ended = false;
  const write = (frame: ReturnType<typeof encodeReply>): void => writeToSocket(ctx.transportPid, new Outbound(frame));
  const replyTo = (msgRef: string | null, status: string, response: unknown): void => write(encodeReply(ctx.vsn, entry.joinRef, msgRef, entry.topic, status, response));

  const end = (reason: ExitReason): never => {
    if (!ended) {
      ended = true;
      channel.terminate?.(reason, socket);
    }
    return exit(reason);
  };
  const guard = <T>(run: () => MaybePromise<T>, fn: (r: T) => unknown): unknown => {
    try {
      const r = run();
      return isPromise(r)
        ? (r as PromiseLike<T>).then(fn, (err: unknown) => {
            crashed(err);
            throw err;
          })
        : fn(r as T);
    } catch (err) {
      crashed(err);
      throw err;
    }
  };
  const crashed = (err: unknown): void => {
    if (ended || err instanceof ExitSignal) return;
    ended = true;
    try {
      channel.terminate?.({ error: err }, socket);
    } catch {
      // The crash is what gets reported; a terminate that fails on top of it adds nothing.
    }
  };
  const applyResult = (r: InResult<unknown>, msgRef: string | null, callback: string): void => {
    if (r === null || typeof r !== 'object') throw new TypeError(`${callback} returned ${String(r)}: expected reply(), noreply() or stopChannel() from beamsock/channels`);
    switch (r.type) {
      case 'reply':
        socket = socket.with(r.assigns);
        if (msgRef !== null) replyTo(msgRef, r.status, r.payload);
        return;
      case 'noreply':
        socket = socket.with(r.assigns);
        return;
      case 'stop':
        socket = socket.with(r.assigns);
        if (r.reply !== undefined && msgRef !== null) replyTo(msgRef, r.reply.status, r.reply.payload);
        end(r.reason);
        return;
      default:
        throw new TypeError(`${callback} returned ${JSON.stringify(r)}: expected reply(), noreply() or stopChannel() from beamsock/channels`);
    }
  };

  const receive = (msg: unknown): unknown => {
    if (msg instanceof ChannelIn) {
      const done = (): void => {
        entry.pending--;
      };
      if (msg.event === 'phx_leave') {
        done();
        replyTo(msg.ref, 'ok', EMPTY);
        return end({ shutdown: 'left' });
      }
      const handleIn = channel.handleIn;
      if (handleIn === undefined) {
        done();
        replyTo(msg.ref, 'error', { reason: 'unhandled event' });
        return undefined;
      }
      return guard(
        () => handleIn.call(channel, msg.event, msg.payload, socket),
        (r) => {
          done();
          applyResult(r, msg.ref, 'handleIn');
        },
      );
    }
    if (isDown(msg) && msg.ref === socketMonitor) return end({ shutdown: 'closed' });
    if (isBroadcast(msg)) {
      const handleOut = channel.handleOut;
      if (handleOut === undefined) {
        socket.push(msg.event, msg.payload);
        return undefined;
      }
      return guard(
        () => handleOut.call(channel, msg.event, msg.payload, socket),
        (r) => applyResult(r, null, 'handleOut'),
      );
    }
    const handleInfo = channel.handleInfo;
    if (handleInfo === undefined) return undefined;
    return guard(
      () => handleInfo.call(channel, msg, socket),
      (r) => applyResult(r, null, 'handleInfo'),
    );
  };

  const join = (): unknown => {
    socketMonitor = monitor(ctx.transportPid);
    socket = new ChannelSocket(ctx, entry, ctx.assigns);
    let result: MaybePromise<JoinResult<unknown>>;
    const failed = (err: unknown): never => {
      replyTo(ref, 'error', { reason: 'join crashed' });
      throw err;
    };
    try {
      result = channel.join(entry.topic, payload, socket);
    } catch (err) {
      return failed(err);
    }
    const settle = (r: JoinResult<unknown>): void => {
      if (r !== null && typeof r === 'object' && r.type === 'join_ok') {
        socket = socket.with(r.assigns);
        const sub: ChannelSubscription = { socket: ctx.transportPid, vsn: ctx.vsn, intercepts: channel.intercept === undefined || channel.intercept.length === 0 ? null : new Set(channel.intercept) };
        ctx.endpoint.pubsub.subscribe(entry.topic, sub);
        entry.joined = true;
        replyTo(ref, 'ok', r.reply);
        return;
      }
      if (r !== null && typeof r === 'object' && r.type === 'join_error') {
        replyTo(ref, 'error', r.reply);
        ended = true;
        exit({ shutdown: 'join_refused' });
      }
      failed(new TypeError(`join returned ${JSON.stringify(r)}: expected joinOk() or joinError() from beamsock/channels`));
    };
    return isPromise(result) ? (result as PromiseLike<JoinResult<unknown>>).then(settle, failed) : settle(result as JoinResult<unknown>);
  };

  const pid = spawnLink(receive, { init: join, kind: 'channel' });
  entry.pid = pid;
  return pid;
}
