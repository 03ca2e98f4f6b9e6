/**
 * Upgrade validation: decides whether an HTTP request may become a WebSocket,
 * with websock_adapter's order of checks and its exact error text, and renders a
 * refusal for a raw socket.
 *
 * It works on `UpgradeRequest`, the few fields every server can provide: a
 * node:http `IncomingMessage` is one as it is, a Fetch/Bun `Request` becomes one
 * through `fromFetchRequest`.
 *
 * Checks, first failure wins (RFC 6455 §4.2.1 for HTTP/1.1, RFC 8441 §5 for HTTP/2):
 * - HTTP/1.1: method `GET`, `host` present and non-empty, `connection` contains
 *   `upgrade`, `upgrade` contains `websocket`, `sec-websocket-key` present, the key
 *   is base64 of 16 bytes (beyond websock_adapter), `sec-websocket-version` equals `13`.
 * - HTTP/2: method `CONNECT`, `sec-websocket-version` equals `13` (the `:protocol`
 *   pseudo-header is the server's concern, as in websock_adapter).
 * - any other HTTP version is refused.
 *
 * "Contains" splits every value of the header as a comma list, trims and
 * ASCII-lowercases each token and looks for an exact match. "Equals" lowercases
 * every value and requires exactly one value equal to the expected one, so a
 * repeated header fails.
 *
 * The `got [...]` part of a message follows websock_adapter's source: Elixir
 * `inspect` of the header's values as they arrived (one element per value, not
 * split, case kept) for a contains check, and of the ASCII-lowercased values for
 * an equals check; an absent header gives `got []`. node:http joins a repeated
 * header into one string with `', '`, so such a header shows as one element; an
 * array (e.g. from `headersDistinct`) shows one element per value.
 */
import { createHash } from 'node:crypto';

/**
 * The parts of an HTTP request that upgrade validation, origin checks and
 * subprotocol selection read. Header names are lower-case, as node:http gives them.
 */
export interface UpgradeRequest {
  /** `GET`, `CONNECT`, ... (node:http types it as possibly undefined). */
  readonly method?: string | undefined;
  /** As node:http gives `req.httpVersion`: `'1.1'`, `'1.0'`, `'2.0'`. */
  readonly httpVersion: string;
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

/** A refused upgrade: the HTTP status, the reason (also the response body) and extra response headers. */
export interface UpgradeRefusal {
  readonly ok: false;
  /** 426 for a wrong or missing `sec-websocket-version` on HTTP/1.1, 400 otherwise. */
  readonly status: 400 | 426;
  readonly reason: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** What `validateUpgrade` returns. */
export type UpgradeValidation = { readonly ok: true } | UpgradeRefusal;

/** The GUID RFC 6455 §1.3 appends to the client's key before hashing. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The only WebSocket version this library speaks. */
export const WEBSOCKET_VERSION = '13';

const OK: UpgradeValidation = Object.freeze({ ok: true });
const BASE64_16_BYTES = /^[A-Za-z0-9+/]{22}==$/;

/**
 * Converts a Fetch `Request` (Node's global `Request`, Bun's, Deno's) to an
 * `UpgradeRequest`. Fetch requests carry no HTTP version, so HTTP/1.1 is assumed,
 * which is how Bun and Deno deliver upgradeable requests. Fetch already joins a
 * repeated header with `', '`, as node:http does.
 *
 * @returns a new `UpgradeRequest`; never throws.
 * @example
 * Bun.serve({ fetch(req, server) {
 *   const check = validateUpgrade(fromFetchRequest(req));
 *   if (!check.ok) return new Response(check.reason, { status: check.status, headers: check.headers });
 *   server.upgrade(req);
 * } });
 */
export function fromFetchRequest(req: {
  readonly method: string;
  readonly headers: { forEach(cb: (value: string, key: string) => void): void };
}): UpgradeRequest {
  const headers: Record<string, string> = {};
  req.headers.forEach((value, key) => {
    headers[key.toLowerCase()] = value;
  });
  return { method: req.method, httpVersion: '1.1', headers };
}

/**
 * Checks that `req` is a valid WebSocket upgrade (see the module doc for the
 * checks and their order).
 *
 * @returns `{ ok: true }`, or `{ ok: false, status, reason, headers? }` for the first
 *   failed check; never throws.
 * @example
 * validateUpgrade({ method: 'POST', httpVersion: '1.1', headers: {} });
 * // { ok: false, status: 400, reason: 'HTTP method POST unsupported' }
 */
export function validateUpgrade(req: UpgradeRequest): UpgradeValidation {
  const version = req.httpVersion;
  if (version === '1.1') return validateHttp1(req);
  if (version === '2.0' || version === '2') return validateHttp2(req);
  return refuse(400, `HTTP version ${protocolName(version)} unsupported`);
}

function validateHttp1(req: UpgradeRequest): UpgradeValidation {
  const h = req.headers;
  if (req.method !== 'GET') return refuse(400, methodMessage(req.method));
  if (isBlank(h['host'])) return refuse(400, `'host' header is absent`);
  const connection = mustContain(h, 'connection', 'upgrade');
  if (connection !== undefined) return refuse(400, connection);
  const upgrade = mustContain(h, 'upgrade', 'websocket');
  if (upgrade !== undefined) return refuse(400, upgrade);
  const key = h['sec-websocket-key'];
  if (isBlank(key)) return refuse(400, `'sec-websocket-key' header is absent`);
  const keyText = typeof key === 'string' ? key : (key as readonly string[]).join(', ');
  if (!BASE64_16_BYTES.test(keyText)) {
    return refuse(400, `'sec-websocket-key' header must be a base64-encoded 16-byte value, got ${inspectString(keyText)}`);
  }
  const version = mustEqual(h, 'sec-websocket-version', WEBSOCKET_VERSION);
  if (version !== undefined) {
    // RFC 9110 §15.5.22: a 426 names the protocol to upgrade to.
    return refuse(426, version, { 'Sec-WebSocket-Version': WEBSOCKET_VERSION, Upgrade: 'websocket' });
  }
  return OK;
}

function validateHttp2(req: UpgradeRequest): UpgradeValidation {
  if (req.method !== 'CONNECT') return refuse(400, methodMessage(req.method));
  const version = mustEqual(req.headers, 'sec-websocket-version', WEBSOCKET_VERSION);
  // 426 and Upgrade are HTTP/1.1 only (RFC 9113 §8.2.2), so HTTP/2 says 400 and names the version.
  if (version !== undefined) return refuse(400, version, { 'Sec-WebSocket-Version': WEBSOCKET_VERSION });
  return OK;
}

/**
 * Raised by `validateUpgradeOrThrow`: `message` is the reason, `status` and
 * `headers` are what the HTTP response should carry.
 *
 * @example
 * try { validateUpgradeOrThrow(req); }
 * catch (e) { if (e instanceof UpgradeError) socket.end(renderRefusal(e)); else throw e; }
 */
export class UpgradeError extends Error {
  override readonly name = 'UpgradeError';
  readonly status: 400 | 426;
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(refusal: UpgradeRefusal) {
    super(refusal.reason);
    this.status = refusal.status;
    this.headers = refusal.headers;
  }

  /** The refusal text, the same as `message` (so `renderRefusal(error)` works). */
  get reason(): string {
    return this.message;
  }
}

/**
 * Like `validateUpgrade`, for code that prefers exceptions (websock_adapter's
 * `validate_upgrade!`).
 *
 * @returns nothing when `req` is a valid upgrade.
 * @throws UpgradeError for the first failed check.
 * @example
 * validateUpgradeOrThrow(req); // throws UpgradeError("'host' header is absent") without a Host
 */
export function validateUpgradeOrThrow(req: UpgradeRequest): void {
  const result = validateUpgrade(req);
  if (!result.ok) throw new UpgradeError(result);
}

/**
 * The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`:
 * base64(SHA-1(key + GUID)) as RFC 6455 §4.2.2 defines it.
 *
 * @returns the accept value; never throws.
 * @example
 * acceptKey('dGhlIHNhbXBsZSBub25jZQ=='); // 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=' (RFC 6455 §1.3)
 */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  426: 'Upgrade Required',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};
const utf8 = new TextEncoder();
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE_FORBIDDEN = /[\r\n\0]/;

/**
 * Renders a refusal as a complete HTTP/1.1 response for a socket that has not
 * been upgraded: status line, `Connection: close`, a plain-text `Content-Type`,
 * `Content-Length`, the extra headers, and the reason as the body. When the extra
 * headers include `Upgrade` (a 426), `Connection` lists `Upgrade` too, as RFC 9110
 * §7.8 asks of anyone sending `Upgrade`.
 *
 * @returns the response text, to be written to the socket before closing it.
 * @throws TypeError when an extra header name is not an HTTP token or a value holds CR, LF or NUL.
 * @example
 * socket.end(renderRefusal({ status: 400, reason: "'host' header is absent" }));
 * // 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
 * // 'Content-Length: 23\r\n\r\n\'host\' header is absent'
 */
export function renderRefusal(refusal: {
  readonly status: number;
  readonly reason: string;
  readonly headers?: Readonly<Record<string, string>> | undefined;
}): string {
  const { status, reason, headers } = refusal;
  let extra = '';
  let connection = 'close';
  if (headers !== undefined) {
    for (const name of Object.keys(headers)) {
      const value = headers[name]!;
      if (!HEADER_NAME.test(name)) throw new TypeError(`refusal header name ${inspectString(name)} is not an HTTP token`);
      if (HEADER_VALUE_FORBIDDEN.test(value)) {
        throw new TypeError(`refusal header '${name}' has a value with CR, LF or NUL: ${inspectString(value)}`);
      }
      if (name.toLowerCase() === 'upgrade') connection = 'Upgrade, close';
      extra += `${name}: ${value}\r\n`;
    }
  }
  return (
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
    `Connection: ${connection}\r\n` +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${utf8.encode(reason).length}\r\n` +
    extra +
    '\r\n' +
    reason
  );
}

/**
 * The values of header `name` as a list: none, one string, or each element of an array.
 * @internal shared with origin checks and subprotocol selection.
 */
export function headerValues(
  headers: UpgradeRequest['headers'],
  name: string,
): readonly string[] {
  const v = headers[name];
  if (v === undefined) return [];
  return typeof v === 'string' ? [v] : v;
}

/**
 * A comma-separated header list split into trimmed, non-empty tokens (Plug's
 * `Conn.Utils.list/1`).
 * @internal shared with subprotocol selection.
 */
export function splitList(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    for (const part of value.split(',')) {
      const token = part.trim();
      if (token !== '') out.push(token);
    }
  }
  return out;
}

/**
 * Elixir `inspect` of a string: double-quoted, with `\`, `"` and `#{` escaped and
 * control characters written as escapes.
 * @internal used in error text across websock.
 */
export function inspectString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x23 && s.charCodeAt(i + 1) === 0x7b) out += '\\#';
    else if (c < 0x20 || c === 0x7f) out += controlEscape(c);
    else out += s[i];
  }
  return out + '"';
}

/**
 * A value as error text shows it: strings quoted, functions and symbols named,
 * everything else as JSON where possible.
 * @internal used in error text across websock.
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return inspectString(value);
    case 'function':
      return 'a function';
    case 'bigint':
      return `${value}n`;
    case 'symbol':
      return value.toString();
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value);
    default:
      try {
        return JSON.stringify(value) ?? String(value);
      } catch {
        return Object.prototype.toString.call(value);
      }
  }
}

function controlEscape(c: number): string {
  switch (c) {
    case 0x09:
      return '\\t';
    case 0x0a:
      return '\\n';
    case 0x0d:
      return '\\r';
    case 0x1b:
      return '\\e';
    default:
      return `\\x${c.toString(16).toUpperCase().padStart(2, '0')}`;
  }
}

function inspectList(values: readonly string[]): string {
  return `[${values.map(inspectString).join(', ')}]`;
}

function refuse(status: 400 | 426, reason: string, headers?: Record<string, string>): UpgradeRefusal {
  return headers === undefined ? { ok: false, status, reason } : { ok: false, status, reason, headers };
}

function methodMessage(method: string | undefined): string {
  return `HTTP method ${method ?? '(none)'} unsupported`;
}

/** `HTTP/1.0`, `HTTP/0.9`; from 2 on the protocol is named without a minor version (`HTTP/3`), as Plug names it. */
function protocolName(version: string): string {
  const m = /^(\d+)\.0$/.exec(version);
  return m !== null && Number(m[1]) >= 2 ? `HTTP/${m[1]}` : `HTTP/${version}`;
}

function isBlank(v: string | readonly string[] | undefined): boolean {
  if (v === undefined) return true;
  if (typeof v === 'string') return v.trim() === '';
  return v.every((s) => s.trim() === '');
}

function mustContain(headers: UpgradeRequest['headers'], name: string, needle: string): string | undefined {
  const raw = headers[name];
  // What browsers and clients send: one value that is the token, in any case. Checked without splitting.
  if (typeof raw === 'string' && equalsIgnoringAsciiCase(raw, needle)) return undefined;
  const values = headerValues(headers, name);
  for (const token of splitList(values)) {
    if (asciiLower(token) === needle) return undefined;
  }
  return `'${name}' header must contain '${needle}', got ${inspectList(values)}`;
}

function mustEqual(headers: UpgradeRequest['headers'], name: string, expected: string): string | undefined {
  if (headers[name] === expected) return undefined;
  const values = headerValues(headers, name).map(asciiLower);
  if (values.length === 1 && values[0] === expected) return undefined;
  return `'${name}' header must equal '${expected}', got ${inspectList(values)}`;
}

/** Lowercases A-Z only, as Elixir's `String.downcase(s, :ascii)`: other letters keep their case. */
/** `value` is `lower` (all lower-case ASCII) but for the case of ASCII letters. */
function equalsIgnoringAsciiCase(value: string, lower: string): boolean {
  if (value.length !== lower.length) return false;
  for (let i = 0; i < value.length; i++) {
    let c = value.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

const UPPER = /[A-Z]/;

function asciiLower(s: string): string {
  return UPPER.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s;
}
