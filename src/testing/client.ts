/**
 * A small WebSocket client for integration tests, on the `ws` package's client:
 * it records every frame the server sends and offers the same assertions as a
 * `TestConnection`, from the other side of a real socket.
 */
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { CallSite, FrameLog, Signal, assertClose, type FrameMatch, type WaitOptions, type WireFrame } from './frames.js';

/** Options of `connect`. */
export interface ClientOptions {
  /** Subprotocols to offer (`Sec-WebSocket-Protocol`). */
  readonly protocols?: string | readonly string[];
  /** Extra request headers, e.g. `origin` or `cookie`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Offer permessage-deflate. Default false (the `ws` client's own default is true). */
  readonly perMessageDeflate?: boolean;
  /** Milliseconds the opening handshake may take. Default 5 000. */
  readonly timeout?: number;
}

/**
 * How the connection closed, as the client saw it: the code and reason of the
 * server's close frame (or of the client's own, echoed), 1005 for a close frame
 * without a code, 1006 when the TCP connection dropped.
 *
 * @example
 * const { code } = await client.closed; // 1001 when the server shut down
 */
export interface ClientClose {
  readonly code: number;
  readonly reason: string;
}

/**
 * The server refused the upgrade: its HTTP status and body (beamsock answers
 * with the reason as text, e.g. "'sec-websocket-version' header must be 13").
 *
 * @example
 * await expect(server.connect('/nope')).rejects.toMatchObject({ status: 404 });
 */
export class UpgradeRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly headers: IncomingMessage['headers'],
  ) {
    super(`the server refused the WebSocket upgrade with HTTP ${status}: ${body === '' ? '(empty body)' : body}`);
    this.name = 'UpgradeRefusedError';
  }
}

const HANDSHAKE_MS = 5_000;

/**
 * One client connection. Create it with `connect` or a test server's `connect`.
 * Sends throw once the connection is closed; frames the server sends are kept in
 * `frames` in arrival order.
 */
export class TestClient {
  /** The underlying `ws` WebSocket, for what this class does not cover. */
  readonly ws: WebSocket;
  /** The server's 101 response. */
  readonly response: IncomingMessage;
  /** Resolves with how the connection closed, once it has. */
  readonly closed: Promise<ClientClose>;
  private readonly signal = new Signal();
  private readonly log: FrameLog;
  private closeInfo: ClientClose | undefined;

  /** @internal use `connect`. */
  constructor(ws: WebSocket, response: IncomingMessage) {
    this.ws = ws;
    this.response = response;
    this.log = new FrameLog('received', () => this.describeState(), this.signal);
    ws.on('message', (data: Buffer, isBinary: boolean) => this.log.add(isBinary ? ['binary', data] : ['text', data.toString()]));
    ws.on('ping', (data: Buffer) => this.log.add(['ping', data]));
    ws.on('pong', (data: Buffer) => this.log.add(['pong', data]));
    this.closed = new Promise((resolve) => {
      ws.once('close', (code: number, reason: Buffer) => {
        this.closeInfo = { code, reason: reason.toString() };
        this.log.end();
        resolve(this.closeInfo);
      });
    });
  }

  /** The subprotocol the server chose, '' for none. */
  get protocol(): string {
    return this.ws.protocol;
  }

  /** Every frame received so far, in order, asserted or not. */
  get frames(): readonly WireFrame[] {
    return this.log.frames;
  }

  /**
   * Sends a text message.
   *
   * @throws Error once the connection is closing or closed.
   */
  sendText(data: string): void {
    this.open('sendText');
    this.ws.send(data, { binary: false });
  }

  /**
   * Sends a binary message.
   *
   * @throws Error once the connection is closing or closed.
   */
  sendBinary(data: Uint8Array): void {
    this.open('sendBinary');
    this.ws.send(data, { binary: true });
  }

  /**
   * Sends a ping; the server's pong arrives as a `['pong', data]` frame.
   *
   * @throws Error once the connection is closing or closed; RangeError for over 125 bytes.
   */
  ping(data?: string | Uint8Array): void {
    this.open('ping');
    this.ws.ping(data);
  }

  /**
   * Starts the closing handshake with `code` (none when omitted) and `reason`.
   *
   * @returns how the connection closed, once it has.
   * @throws TypeError or RangeError (from `ws`) for a code or reason a client may not send.
   * @example
   * const { code } = await client.close(1000, 'done');
   */
  close(code?: number, reason?: string): Promise<ClientClose> {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
    return this.closed;
  }

  /**
   * Cuts the TCP connection without a close frame; the server's `terminate` gets `{ error: 'closed' }`.
   *
   * @returns the close as the client saw it (code 1006).
   */
  drop(): Promise<ClientClose> {
    this.ws.terminate();
    return this.closed;
  }

  /**
   * Waits for a received frame that matches and takes it; earlier frames that do
   * not match stay for later assertions.
   *
   * @returns the frame.
   * @throws AssertionError (rejects) naming the frames received and not yet
   *   asserted, after `timeout` ms (default `DEFAULT_ASSERT_TIMEOUT`) or at once when
   *   the connection closes without one.
   * @example
   * client.sendText('hi');
   * await client.assertReceive(['text', 'Echo: hi']);
   */
  assertReceive(match: FrameMatch, opts?: WaitOptions): Promise<WireFrame> {
    return this.log.assert(match, opts, new CallSite(this.assertReceive), 'assertReceive');
  }

  /**
   * Passes when no frame matching `match` (any, when undefined) that an assertion
   * has not taken arrives within `timeout` ms (default `DEFAULT_REFUTE_TIMEOUT`).
   *
   * @throws AssertionError (rejects) naming the frame, as soon as one is there.
   * @example
   * await client.refuteReceive(['text', 'secret']);
   */
  refuteReceive(match?: FrameMatch, opts?: WaitOptions): Promise<void> {
    return this.log.refute(match, opts, new CallSite(this.refuteReceive), 'refuteReceive');
  }

  /**
   * Waits for the oldest received frame no assertion has taken yet, and takes it.
   *
   * @returns the frame.
   * @throws AssertionError (rejects) after `timeout` ms or once the connection closes without one.
   * @example
   * const [, data] = await client.nextFrame();
   */
  nextFrame(opts?: WaitOptions): Promise<WireFrame> {
    return this.log.next(opts, new CallSite(this.nextFrame), 'nextFrame');
  }

  /**
   * Waits for the connection to close and checks the code and/or reason.
   *
   * @returns how it closed.
   * @throws AssertionError (rejects) when it closed otherwise, or is still open after `timeout` ms.
   * @example
   * await client.assertClosed({ code: 1011 });
   */
  assertClosed(expected: Partial<ClientClose> = {}, opts?: WaitOptions): Promise<ClientClose> {
    return assertClose(() => this.closeInfo, this.signal, expected, opts, new CallSite(this.assertClosed), {
      open: () => this.describeState(),
      closedAs: (c) => `it closed with ${c.code}${c.reason === '' ? '' : ` ${JSON.stringify(c.reason)}`}`,
    });
  }

  private open(method: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) {
      throw new Error(`${method}: the connection is ${this.closeInfo === undefined ? 'closing' : `closed (${this.closeInfo.code})`}; nothing more can be sent`);
    }
  }

  private describeState(): string {
    const c = this.closeInfo;
    return c === undefined ? 'the connection is still open' : `the connection closed with ${c.code}${c.reason === '' ? '' : ` ${JSON.stringify(c.reason)}`}`;
  }
}

/**
 * Opens a WebSocket to `url` and waits for the handshake.
 *
 * @returns the connected client.
 * @throws UpgradeRefusedError (rejects) when the server answers anything but
 *   101; the socket error (e.g. ECONNREFUSED) when it cannot connect; an Error when
 *   the handshake takes longer than `timeout`.
 * @example
 * const client = await connect('ws://127.0.0.1:4000/ws', { protocols: ['chat'] });
 * client.sendText('hi');
 * await client.assertReceive(['text', 'Echo: hi']);
 */
export function connect(url: string, opts: ClientOptions = {}): Promise<TestClient> {
  const protocols = typeof opts.protocols === 'string' ? [opts.protocols] : [...(opts.protocols ?? [])];
  const ws = new WebSocket(url, protocols, {
    perMessageDeflate: opts.perMessageDeflate ?? false,
    handshakeTimeout: opts.timeout ?? HANDSHAKE_MS,
    ...(opts.headers !== undefined ? { headers: { ...opts.headers } } : {}),
  });
  return new Promise<TestClient>((resolve, reject) => {
    let response: IncomingMessage | undefined;
    let client: TestClient | undefined;
    // Errors after the handshake show up as the close code; one before it rejects.
    ws.on('error', (err) => {
      if (client === undefined) reject(err);
    });
    ws.once('upgrade', (res) => {
      response = res;
    });
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        reject(new UpgradeRefusedError(res.statusCode ?? 0, body, res.headers));
        ws.terminate();
      });
      res.on('error', () => req.destroy());
    });
    ws.once('open', () => {
      client = new TestClient(ws, response as IncomingMessage);
      resolve(client);
    });
  });
}
