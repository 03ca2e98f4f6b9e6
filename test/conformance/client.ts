/**
 * Clients for the conformance suite.
 *
 * `TestClient` wraps the `ws` package's client and records everything the server
 * sends, in order. `RawWebSocket` and `rawRequest` speak the protocol by hand on
 * `node:net`, for what a well-behaved client refuses to do: malformed, unmasked
 * or oversized frames, invalid UTF-8, bad close codes, hand-written upgrade
 * requests, and a peer that stops reading.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { deflateRawSync, inflateRawSync, constants as zlib } from 'node:zlib';
import WebSocket from 'ws';

/** WebSocket opcodes (RFC 6455 §5.2). */
export const Op = { CONTINUATION: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const WAIT_MS = 5_000;

/** Resolves with `promise`, or rejects naming `what` after `ms`. */
export function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Waits for conditions on state that changes as events arrive: `until(cond)`
 * re-checks `cond` on every `notify()` and gives up (false) once `end()` is called.
 */
export class Signal {
  private wake: (() => void)[] = [];
  private ended = false;

  /** Resolves true once `cond` holds, false if the signal ends first. */
  until(cond: () => boolean): Promise<boolean> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (cond()) resolve(true);
        else if (this.ended) resolve(false);
        else this.wake.push(check);
      };
      check();
    });
  }

  /** Something arrived: re-check every pending condition. */
  notify(): void {
    const wake = this.wake;
    this.wake = [];
    for (const w of wake) w();
  }

  /** Nothing more will arrive. */
  end(): void {
    this.ended = true;
    this.notify();
  }
}

// The ws client ---------------------------------------------------------------------

/** What a `TestClient` saw, in arrival order. */
export type ClientEvent =
  | { readonly type: 'text'; readonly data: string }
  | { readonly type: 'binary'; readonly data: Buffer }
  | { readonly type: 'ping'; readonly data: Buffer }
  | { readonly type: 'pong'; readonly data: Buffer };

/** How the connection ended for the client. */
export interface ClientClose {
  readonly code: number;
  readonly reason: string;
}

export interface ConnectOptions {
  readonly path?: string;
  readonly protocols?: string | string[];
  readonly headers?: Record<string, string>;
  /** Offer permessage-deflate (the ws client's default is true). */
  readonly perMessageDeflate?: boolean;
}

/**
 * A `ws` client that records frames as they arrive and lets a test wait for the
 * next one of a kind. `next(type)` returns the 1st, 2nd, ... event of that type on
 * successive calls, however the types interleave.
 */
export class TestClient {
  readonly ws: WebSocket;
  readonly events: ClientEvent[] = [];
  /** The 101 response, once the connection is open. Rejects if the upgrade fails. */
  readonly opened: Promise<IncomingMessage>;
  /** The close code and reason the client saw (1006 when the TCP connection dropped). */
  readonly closed: Promise<ClientClose>;
  private readonly cursors = new Map<ClientEvent['type'], number>();
  private readonly signal = new Signal();

  constructor(url: string, opts: ConnectOptions = {}) {
    this.ws = new WebSocket(url + (opts.path ?? '/'), opts.protocols, {
      perMessageDeflate: opts.perMessageDeflate ?? false,
      ...(opts.headers !== undefined ? { headers: opts.headers } : {}),
    });
    const ws = this.ws;
    this.opened = new Promise((resolve, reject) => {
      let response: IncomingMessage | undefined;
      ws.once('upgrade', (res) => {
        response = res;
      });
      ws.once('open', () => resolve(response as IncomingMessage));
      ws.once('error', reject);
    });
    // An unhandled 'error' would crash the test process; errors show up as the close code instead.
    ws.on('error', () => undefined);
    this.opened.catch(() => undefined);
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        this.signal.end();
        resolve({ code, reason: reason.toString() });
      });
    });
    ws.on('message', (data: Buffer, isBinary) => this.push(isBinary ? { type: 'binary', data } : { type: 'text', data: data.toString() }));
    ws.on('ping', (data) => this.push({ type: 'ping', data }));
    ws.on('pong', (data) => this.push({ type: 'pong', data }));
  }

  /** Connects and waits for the 101. */
  static async open(url: string, opts?: ConnectOptions): Promise<TestClient> {
    const c = new TestClient(url, opts);
    await within(c.opened, 'the WebSocket handshake');
    return c;
  }

  /** Sends a text (string) or binary (Buffer) message. */
  send(data: string | Buffer): void {
    this.ws.send(data, { binary: typeof data !== 'string' });
  }

  /** The next event of `type` not yet returned by `next`. */
  async next<T extends ClientEvent['type']>(type: T): Promise<Extract<ClientEvent, { type: T }>> {
    const n = this.cursors.get(type) ?? 0;
    this.cursors.set(type, n + 1);
    const found = await within(this.signal.until(() => this.nth(type, n) !== undefined), `${type} frame #${n + 1}`);
    if (!found) throw new Error(`the connection closed before ${type} frame #${n + 1} arrived; got ${describeEvents(this.events)}`);
    return this.nth(type, n) as Extract<ClientEvent, { type: T }>;
  }

  /** The next text message. */
  async text(): Promise<string> {
    return (await this.next('text')).data;
  }

  /** Waits until `count` events have arrived in all; returns them. */
  async received(count: number): Promise<ClientEvent[]> {
    const ok = await within(this.signal.until(() => this.events.length >= count), `${count} frames`);
    if (!ok) throw new Error(`the connection closed after ${describeEvents(this.events)}; expected ${count} frames`);
    return this.events.slice(0, count);
  }

  /** Resolves with the close once it happens; rejects after the wait limit. */
  closeSeen(ms?: number): Promise<ClientClose> {
    return within(this.closed, 'the connection to close', ms);
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  private nth(type: ClientEvent['type'], n: number): ClientEvent | undefined {
    let seen = 0;
    for (const e of this.events) {
      if (e.type === type && seen++ === n) return e;
    }
    return undefined;
  }

  private push(e: ClientEvent): void {
    this.events.push(e);
    this.signal.notify();
  }
}

function describeEvents(events: readonly ClientEvent[]): string {
  return `[${events.map((e) => `${e.type}:${e.data.toString()}`).join(', ')}]`;
}

// Raw HTTP ----------------------------------------------------------------------------

/** A parsed HTTP response head and body. Header names are lower-case; repeated ones joined with ', '. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * An upgrade request to write by hand. Headers default to a valid WebSocket
 * upgrade for the target; a header given as `undefined` is left out.
 */
export interface UpgradeSpec {
  readonly method?: string;
  readonly path?: string;
  /** `1.1` by default. */
  readonly httpVersion?: string;
  readonly headers?: Readonly<Record<string, string | undefined>>;
}

/** The Host header value a raw client sends to a server at `url`. */
export function hostOf(url: string): string {
  return new URL(url).host;
}

/** A random, valid Sec-WebSocket-Key. */
function newKey(): string {
  return randomBytes(16).toString('base64');
}

/** The Sec-WebSocket-Accept a server must answer `key` with. */
function acceptFor(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** The text of an upgrade request to `url` with `spec` applied. */
function upgradeRequestText(url: string, spec: UpgradeSpec = {}): string {
  const headers: Record<string, string | undefined> = {
    Host: hostOf(url),
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Key': newKey(),
    'Sec-WebSocket-Version': '13',
  };
  for (const [name, value] of Object.entries(spec.headers ?? {})) {
    const existing = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
    if (existing !== undefined) delete headers[existing];
    headers[name] = value;
  }
  let text = `${spec.method ?? 'GET'} ${spec.path ?? '/'} HTTP/${spec.httpVersion ?? '1.1'}\r\n`;
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) text += `${name}: ${value}\r\n`;
  return text + '\r\n';
}

function parseHead(head: string): { status: number; headers: Record<string, string> } {
  const lines = head.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (m === null) throw new Error(`not an HTTP response: ${JSON.stringify(lines[0])}`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(m[1]), headers };
}

/** The body of a chunked response (RFC 9112 §7.1), without extensions or trailers. */
function dechunk(text: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const lineEnd = text.indexOf('\r\n', i);
    const size = parseInt(text.slice(i, lineEnd), 16);
    if (!(size > 0)) return Buffer.from(out, 'latin1').toString();
    out += text.slice(lineEnd + 2, lineEnd + 2 + size);
    i = lineEnd + 2 + size + 2;
  }
}

function connectTo(url: string): Promise<Socket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: u.hostname, port: Number(u.port) }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * Writes a raw HTTP request (an `UpgradeSpec` or the exact text) and reads the
 * response: the head, then a body of `content-length` bytes or everything until
 * the server closes. A 101 response resolves at the end of its head.
 */
export async function rawRequest(url: string, request: UpgradeSpec | string): Promise<RawResponse> {
  const socket = await connectTo(url);
  socket.write(typeof request === 'string' ? request : upgradeRequestText(url, request));
  const read = new Promise<RawResponse>((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let head: { status: number; headers: Record<string, string> } | undefined;
    let bodyStart = 0;
    const done = (): boolean => {
      if (head === undefined) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return false;
        head = parseHead(buf.subarray(0, end).toString('latin1'));
        bodyStart = end + 4;
      }
      if (head.status === 101) {
        resolve({ ...head, body: '' });
        return true;
      }
      if (head.headers['transfer-encoding'] === 'chunked') {
        const body = buf.subarray(bodyStart).toString('latin1');
        if (!body.endsWith('0\r\n\r\n')) return false;
        resolve({ ...head, body: dechunk(body) });
        return true;
      }
      const length = head.headers['content-length'];
      if (length !== undefined && buf.length - bodyStart >= Number(length)) {
        resolve({ ...head, body: buf.subarray(bodyStart, bodyStart + Number(length)).toString() });
        return true;
      }
      return false;
    };
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        if (done()) socket.destroy();
      } catch (err) {
        reject(err);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (head === undefined && !done()) reject(new Error(`the server closed without a response; got ${JSON.stringify(buf.toString())}`));
      else if (head !== undefined) resolve({ ...head, body: buf.subarray(bodyStart).toString() });
    });
  });
  try {
    return await within(read, 'an HTTP response');
  } finally {
    socket.destroy();
  }
}

// Raw WebSocket -----------------------------------------------------------------------

/** A frame as the server sent it. */
export interface RawFrame {
  readonly fin: boolean;
  /** RSV1-3 as bits 4, 2, 1 (RSV1 set means the payload is compressed). */
  readonly rsv: number;
  readonly opcode: number;
  readonly payload: Buffer;
}

export interface SendFrameOptions {
  readonly fin?: boolean;
  /** Clients must mask (RFC 6455 §5.1); false sends an illegal unmasked frame. */
  readonly mask?: boolean;
  /** RSV bits as 4 (RSV1), 2 (RSV2), 1 (RSV3). */
  readonly rsv?: number;
}

/**
 * A WebSocket client written by hand on a TCP socket: it sends whatever frames a
 * test asks for and parses what the server sends. `pause()` stops reading from
 * the socket, so the server's writes back up.
 */
export class RawWebSocket {
  /** The 101 response. */
  response!: RawResponse;
  private buf: Buffer = Buffer.alloc(0);
  private readonly frames: RawFrame[] = [];
  private cursor = 0;
  private readonly signal = new Signal();
  /** Resolves when the TCP connection closes. */
  readonly ended: Promise<void>;

  private constructor(private readonly socket: Socket) {
    this.ended = new Promise((resolve) => {
      socket.on('close', () => {
        this.signal.end();
        resolve();
      });
    });
    socket.on('error', () => undefined);
  }

  /** Performs the handshake; rejects unless the server answers 101 with the right accept key. */
  static async open(url: string, spec: UpgradeSpec = {}): Promise<RawWebSocket> {
    const key = spec.headers?.['Sec-WebSocket-Key'] ?? newKey();
    const socket = await connectTo(url);
    const raw = new RawWebSocket(socket);
    const handshake = new Promise<void>((resolve, reject) => {
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        socket.off('data', onData);
        const parsed = parseHead(head.subarray(0, end).toString('latin1'));
        const rest = head.subarray(end + 4);
        if (parsed.status !== 101) {
          reject(new Error(`upgrade refused with ${parsed.status}: ${rest.toString()}`));
          return;
        }
        if (parsed.headers['sec-websocket-accept'] !== acceptFor(key)) {
          reject(new Error(`wrong Sec-WebSocket-Accept ${String(parsed.headers['sec-websocket-accept'])}`));
          return;
        }
        raw.response = { ...parsed, body: '' };
        socket.on('data', (data: Buffer) => raw.onData(data));
        if (rest.length > 0) raw.onData(rest);
        resolve();
      };
      socket.on('data', onData);
      socket.once('close', () => reject(new Error('the server closed during the handshake')));
    });
    socket.write(upgradeRequestText(url, { ...spec, headers: { ...spec.headers, 'Sec-WebSocket-Key': key } }));
    await within(handshake, 'the raw WebSocket handshake');
    return raw;
  }

  /** Writes one frame with exactly the given bits. */
  send(opcode: number, payload: string | Buffer = Buffer.alloc(0), opts: SendFrameOptions = {}): void {
    this.socket.write(clientFrame(opcode, payload, opts));
  }

  /** Writes bytes as they are, in one socket write: several frames in one burst, or part of one. */
  writeBytes(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Sends a text message compressed with permessage-deflate (RSV1 set). */
  sendCompressed(text: string): void {
    const deflated = deflateRawSync(Buffer.from(text), { finishFlush: zlib.Z_SYNC_FLUSH });
    this.send(Op.TEXT, deflated.subarray(0, deflated.length - DEFLATE_TAIL.length), { rsv: 4 });
  }

  /** Sends a close frame: no payload, a code, or a code and reason. */
  sendClose(code?: number, reason = ''): void {
    this.send(Op.CLOSE, closePayload(code, reason));
  }

  /** The next frame from the server; rejects if the connection closes first. */
  async nextFrame(): Promise<RawFrame> {
    const ok = await within(this.signal.until(() => this.cursor < this.frames.length), 'a frame from the server');
    if (!ok) throw new Error('the connection closed before the next frame arrived');
    return this.frames[this.cursor++] as RawFrame;
  }

  /** Reads frames until a close frame; returns its code (1005 for none) and reason. */
  async closeFrame(): Promise<ClientClose> {
    for (;;) {
      const f = await this.nextFrame();
      if (f.opcode !== Op.CLOSE) continue;
      if (f.payload.length < 2) return { code: 1005, reason: '' };
      return { code: f.payload.readUInt16BE(0), reason: f.payload.subarray(2).toString() };
    }
  }

  /** Stops reading from the socket: the kernel buffers fill and the server's writes back up. */
  pause(): void {
    this.socket.pause();
  }

  /** Cuts the TCP connection without a close frame. */
  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      const f = parseFrame(this.buf);
      if (f === undefined) break;
      this.frames.push(f.frame);
      this.buf = this.buf.subarray(f.size);
    }
    this.signal.notify();
  }
}

/** One client frame with exactly the given bits, masked unless told otherwise, as bytes. */
export function clientFrame(opcode: number, payload: string | Buffer = Buffer.alloc(0), opts: SendFrameOptions = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const masked = opts.mask ?? true;
  const first = ((opts.fin ?? true) ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | opcode;
  let header: Buffer;
  if (data.length < 126) {
    header = Buffer.from([first, (masked ? 0x80 : 0) | data.length]);
  } else if (data.length < 65536) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = (masked ? 0x80 : 0) | 126;
    header.writeUInt16BE(data.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = (masked ? 0x80 : 0) | 127;
    header.writeBigUInt64BE(BigInt(data.length), 2);
  }
  if (!masked) return Buffer.concat([header, data]);
  const mask = randomBytes(4);
  const body = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) body[i] = (data[i] as number) ^ (mask[i & 3] as number);
  return Buffer.concat([header, mask, body]);
}

/** A close frame's payload: none, a code, or a code and reason. */
export function closePayload(code?: number, reason = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return payload;
}

/** Inflates the payload of the first compressed message of a connection (or any, without context takeover). */
export function inflateMessage(payload: Buffer): string {
  return inflateRawSync(Buffer.concat([payload, DEFLATE_TAIL]), { finishFlush: zlib.Z_SYNC_FLUSH }).toString();
}

/** One unmasked server frame from the start of `buf`, or undefined if it is not all there yet. */
function parseFrame(buf: Buffer): { frame: RawFrame; size: number } | undefined {
  if (buf.length < 2) return undefined;
  const b0 = buf[0] as number;
  const b1 = buf[1] as number;
  let length = b1 & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buf.length < 4) return undefined;
    length = buf.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buf.length < 10) return undefined;
    length = Number(buf.readBigUInt64BE(2));
    offset = 10;
  }
  if ((b1 & 0x80) !== 0) throw new Error('the server sent a masked frame (RFC 6455 §5.1 forbids it)');
  if (buf.length < offset + length) return undefined;
  return {
    frame: { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, payload: Buffer.from(buf.subarray(offset, offset + length)) },
    size: offset + length,
  };
}
