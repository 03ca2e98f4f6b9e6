/**
 * A test kit for channels without a network, in the spirit of
 * Phoenix.ChannelTest: the socket's real handler runs in a real connection
 * process (through `beamsock/testing`'s `startHandler`) and the test speaks the
 * 2.0.0 protocol to it; channels are real processes; broadcasts go through the
 * real endpoint.
 */
import { AssertionError } from 'node:assert';
import { isDeepStrictEqual } from 'node:util';
import type { Pid } from '../runtime/pid.js';
import { spawn, exit } from '../runtime/process.js';
import { startHandler, type TestConnection } from '../testing/test-connection.js';
import { DEFAULT_ASSERT_TIMEOUT, type WaitOptions, type WireFrame } from '../testing/frames.js';
import { isBroadcast, type Broadcast } from './endpoint.js';
import type { PhoenixSocket, SocketState } from './socket.js';

/** `socketConnect` was refused by the socket's `connect`. */
export class ConnectRefusedError extends Error {
  override readonly name = 'ConnectRefusedError';
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(`connect refused the socket with ${status}: ${reason}`);
  }
}

/** `subscribeAndJoin` was answered `error`: `reply` is what `joinError` gave. */
export class JoinRefusedError extends Error {
  override readonly name = 'JoinRefusedError';
  constructor(
    readonly topic: string,
    readonly reply: unknown,
  ) {
    super(`join of '${topic}' refused: ${JSON.stringify(reply)}`);
  }
}

/**
 * A connected socket in a test: the real socket handler in a connection process, no network.
 *
 * @example
 * const socket = await socketConnect(userSocket, { token: 's3cret' });
 */
export class TestSocket {
  private nextRef = 0;
  /** @internal */
  constructor(
    /** The connection running the socket handler: its pid, its raw frames. */
    readonly conn: TestConnection<SocketState>,
    /** @internal */
    readonly socket: PhoenixSocket<unknown>,
  ) {}

  /** @internal */
  ref(): string {
    return String(++this.nextRef);
  }

  /** The socket's connection process. */
  get pid(): Pid {
    return this.conn.pid;
  }

  /**
   * Closes the socket as a client going away would; its channels end.
   *
   * @example
   * socket.close();
   */
  close(): void {
    this.conn.peerClose(1000);
  }
}

/** A joined channel in a test. */
export class TestChannel {
  /** @internal */
  constructor(
    readonly socket: TestSocket,
    readonly topic: string,
    readonly joinRef: string,
    /** @internal */
    readonly listener: BroadcastListener,
  ) {}
}

/** @internal a process subscribed to a topic that keeps the broadcasts for `assertBroadcast`. */
export class BroadcastListener {
  readonly seen: Broadcast[] = [];
  private readonly waiters = new Set<() => void>();
  readonly pid: Pid;

  constructor(socket: PhoenixSocket<unknown>, topic: string) {
    this.pid = spawn(
      (msg: unknown) => {
        if (!isBroadcast(msg)) return;
        this.seen.push(msg);
        for (const w of this.waiters) w();
      },
      { init: () => socket.endpoint.subscribe(topic), kind: 'test_listener' },
    );
  }

  wait(found: () => boolean, ms: number): Promise<boolean> {
    if (found()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = (): void => {
        if (!found()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        resolve(false);
      }, ms);
      this.waiters.add(check);
    });
  }

  stop(): void {
    exit(this.pid, 'kill');
  }
}

type Message = readonly [joinRef: string | null, ref: string | null, topic: string, event: string, payload: unknown];

function decodeFrame(frame: WireFrame): Message | undefined {
  if (frame[0] !== 'text') return undefined;
  try {
    const m = JSON.parse(frame[1]) as unknown;
    return Array.isArray(m) && m.length === 5 ? (m as unknown as Message) : undefined;
  } catch {
    return undefined;
  }
}

function matches(expected: unknown, actual: unknown): boolean {
  return expected === undefined || isDeepStrictEqual(JSON.parse(JSON.stringify(expected)) as unknown, actual);
}

/**
 * Connects a test socket: runs the socket's `connect` with `params` and starts
 * its handler. Rejects with `ConnectRefusedError` when `connect` refuses.
 *
 * @example
 * const socket = await socketConnect(userSocket, { token: 's3cret' });
 */
export async function socketConnect<SA>(socket: PhoenixSocket<SA>, params: Readonly<Record<string, string>> = {}): Promise<TestSocket> {
  const url = new URL('ws://test/socket/websocket');
  url.searchParams.set('vsn', '2.0.0');
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const auth = await socket.connectWith(params, { url, headers: {}, authToken: undefined }, '2');
  if (typeof auth !== 'object' || !('args' in auth)) {
    const refusal = auth as { status?: number; reason?: string };
    throw new ConnectRefusedError(refusal.status ?? 403, refusal.reason ?? 'Forbidden');
  }
  return new TestSocket(startHandler(socket.handler, auth.args) as TestConnection<SocketState>, socket as PhoenixSocket<unknown>);
}

/**
 * Subscribes the test to `topic` (for `assertBroadcast`) and joins it with
 * `payload`. Resolves with the join's reply and the channel; rejects with
 * `JoinRefusedError` when the join is refused.
 *
 * @example
 * const { reply, channel } = await subscribeAndJoin(socket, 'room:lobby', { user: 'ada' });
 */
export async function subscribeAndJoin(socket: TestSocket, topic: string, payload: unknown = {}, opts?: WaitOptions): Promise<{ reply: unknown; channel: TestChannel }> {
  const listener = new BroadcastListener(socket.socket, topic);
  const ref = socket.ref();
  socket.conn.pushText(JSON.stringify([ref, ref, topic, 'phx_join', payload]));
  const channel = new TestChannel(socket, topic, ref, listener);
  const [status, response] = await replyTo(channel, ref, opts, subscribeAndJoin);
  if (status !== 'ok') {
    listener.stop();
    throw new JoinRefusedError(topic, response);
  }
  return { reply: response, channel };
}

/**
 * Pushes `event` with `payload` to the channel as its client would; returns
 * the message's ref for `assertReply`.
 *
 * @example
 * const ref = push(channel, 'new_msg', { body: 'hi' });
 */
export function push(channel: TestChannel, event: string, payload: unknown = {}): string {
  const ref = channel.socket.ref();
  channel.socket.conn.pushText(JSON.stringify([channel.joinRef, ref, channel.topic, event, payload]));
  return ref;
}

/**
 * Leaves the channel as its client would; returns the ref of the `phx_leave`.
 *
 * @example
 * await assertReply(channel, leave(channel), 'ok');
 */
export function leave(channel: TestChannel): string {
  channel.listener.stop();
  return push(channel, 'phx_leave', {});
}

async function replyTo(channel: TestChannel, ref: string, opts: WaitOptions | undefined, caller: (...a: never[]) => unknown): Promise<[string, unknown]> {
  let found: [string, unknown] | undefined;
  try {
    await channel.socket.conn.assertPush(
      (frame) => {
        const m = decodeFrame(frame);
        if (m === undefined || m[1] !== ref || m[2] !== channel.topic || m[3] !== 'phx_reply') return false;
        const p = m[4] as { status: string; response: unknown };
        found = [p.status, p.response];
        return true;
      },
      { timeout: opts?.timeout ?? DEFAULT_ASSERT_TIMEOUT },
    );
  } catch (err) {
    const e = new AssertionError({ message: `no reply to ref ${ref} on '${channel.topic}': ${(err as Error).message}` });
    Error.captureStackTrace(e, caller);
    throw e;
  }
  return found as [string, unknown];
}

/**
 * Waits for the reply to `ref` and checks its status (and its payload, by deep
 * equality, when given). Resolves with the reply's payload.
 *
 * @throws AssertionError (rejects) when no reply comes in time or it differs.
 * @example
 * await assertReply(channel, push(channel, 'ping'), 'ok', { pong: true });
 */
export async function assertReply(channel: TestChannel, ref: string, status: 'ok' | 'error', payload?: unknown, opts?: WaitOptions): Promise<unknown> {
  const [got, response] = await replyTo(channel, ref, opts, assertReply);
  if (got !== status || !matches(payload, response)) {
    const e = new AssertionError({ message: `reply to ref ${ref} on '${channel.topic}' was ${got} ${JSON.stringify(response)}`, actual: { status: got, response }, expected: { status, response: payload }, operator: 'assertReply' });
    Error.captureStackTrace(e, assertReply);
    throw e;
  }
  return response;
}

/**
 * Waits for the channel to push `event` to its client (a push of its own or a
 * broadcast on its topic), with `payload` when given. Resolves with the payload.
 *
 * @throws AssertionError (rejects) naming the frames pushed, when none matches in time.
 * @example
 * const msg = await assertPush(channel, 'new_msg', { user: 'ada', body: 'hi' });
 */
export async function assertPush(channel: TestChannel, event: string, payload?: unknown, opts?: WaitOptions): Promise<unknown> {
  let found: unknown;
  try {
    await channel.socket.conn.assertPush(
      (frame) => {
        const m = decodeFrame(frame);
        if (m === undefined || m[2] !== channel.topic || m[3] !== event || (m[0] !== null && m[0] !== channel.joinRef) || !matches(payload, m[4])) return false;
        found = m[4];
        return true;
      },
      { timeout: opts?.timeout ?? DEFAULT_ASSERT_TIMEOUT },
    );
  } catch (err) {
    const e = new AssertionError({ message: `no push of '${event}'${payload === undefined ? '' : ` ${JSON.stringify(payload)}`} on '${channel.topic}': ${(err as Error).message}` });
    Error.captureStackTrace(e, assertPush);
    throw e;
  }
  return found;
}

/**
 * Waits for a broadcast of `event` on the channel's topic (from any node of
 * the endpoint), with `payload` when given. Resolves with the payload.
 *
 * @throws AssertionError (rejects) naming the broadcasts seen, when none matches in time.
 * @example
 * push(channel, 'new_msg', { body: 'hi' });
 * await assertBroadcast(channel, 'new_msg', { user: 'ada', body: 'hi' });
 */
export async function assertBroadcast(channel: TestChannel, event: string, payload?: unknown, opts?: WaitOptions): Promise<unknown> {
  const seen = channel.listener.seen;
  let at = -1;
  const found = (): boolean => {
    at = seen.findIndex((b) => b.event === event && matches(payload, JSON.parse(JSON.stringify(b.payload)) as unknown));
    return at !== -1;
  };
  if (!(await channel.listener.wait(found, opts?.timeout ?? DEFAULT_ASSERT_TIMEOUT))) {
    const e = new AssertionError({
      message: `no broadcast of '${event}'${payload === undefined ? '' : ` ${JSON.stringify(payload)}`} on '${channel.topic}'; broadcasts seen: ${seen.length === 0 ? 'none' : seen.map((b) => `${b.event} ${JSON.stringify(b.payload)}`).join(', ')}`,
    });
    Error.captureStackTrace(e, assertBroadcast);
    throw e;
  }
  const [b] = seen.splice(at, 1);
  return (b as Broadcast).payload;
}
