/**
 * Origin checks against cross-site WebSocket hijacking: browsers attach cookies
 * to a WebSocket handshake from any page but always say which page asked, in
 * `Origin`. Refusing foreign origins keeps another site from opening a socket in
 * a logged-in user's name.
 *
 * Requests without an `Origin` header (servers, CLIs, native apps) are never
 * refused here: they cannot be made on a user's behalf by a foreign page.
 */
import { describeValue, headerValues, inspectString, type UpgradeRequest } from './upgrade-validation.js';

/**
 * How to check the `Origin` of an upgrade:
 * - `true` (default): the origin's host and port must be the request's `Host`.
 * - `false`: no check.
 * - a list of allowed origins, Phoenix's `check_origin` style:
 *   `'https://app.example.com'` (that scheme, host and port; the scheme's default
 *   port when none is written), `'//example.com'` (any scheme, any port),
 *   `'//example.com:8443'` (any scheme, that port), `'//*.example.com'` or
 *   `'https://*.example.com'` (the domain and every subdomain).
 * - a function given the raw `Origin` value and the request; only `true` allows.
 */
export type CheckOriginOption =
  | boolean
  | readonly string[]
  | ((origin: string, req: UpgradeRequest) => boolean);

/** A refused origin: always 403, with a reason for the body and the log. */
export interface OriginRefusal {
  readonly ok: false;
  readonly status: 403;
  readonly reason: string;
}

/** What `checkOrigin` returns. */
export type OriginCheck = { readonly ok: true } | OriginRefusal;

interface AllowedOrigin {
  /** Lower-case scheme without `:`, or undefined for any. */
  readonly scheme: string | undefined;
  /** Lower-case host; for a wildcard, the domain after `*.`. */
  readonly host: string;
  readonly wildcard: boolean;
  /** undefined for any port. */
  readonly port: number | undefined;
}

interface Authority {
  readonly host: string;
  readonly port: number | undefined;
}

const OK: OriginCheck = Object.freeze({ ok: true });
const DEFAULT_PORTS: Readonly<Record<string, number>> = { http: 80, https: 443, ws: 80, wss: 443 };
const ALLOWED_ENTRY = /^(?:([A-Za-z][A-Za-z0-9+.-]*):)?\/\/([^/?#@\s]+)\/?$/;
const parsedLists = new WeakMap<readonly string[], readonly AllowedOrigin[]>();

/**
 * Checks the request's `Origin` header against `option`. No `Origin` header, or
 * `option === false`, allows. `Origin: null` (sandboxed frames, `file:` pages) and
 * any origin that does not parse as `scheme://host[:port]` are refused unless the
 * option is `false` or a function that allows them. The default compares with the
 * `Host` header as the client sent it, so behind a proxy that rewrites `Host`
 * list the public origins instead; `X-Forwarded-Host` is not trusted.
 *
 * @returns `{ ok: true }` or `{ ok: false, status: 403, reason }`.
 * @throws TypeError when `option` is invalid (see `validateCheckOrigin`); whatever
 *   a function option throws propagates.
 * @example
 * checkOrigin({ method: 'GET', httpVersion: '1.1',
 *   headers: { host: 'localhost:4000', origin: 'https://evil.example' } }, true);
 * // { ok: false, status: 403, reason: "origin 'https://evil.example' is not allowed for host 'localhost:4000'" }
 */
export function checkOrigin(req: UpgradeRequest, option: CheckOriginOption = true): OriginCheck {
  if (option === false) return OK;
  const originValues = headerValues(req.headers, 'origin');
  if (originValues.length === 0) return OK;
  const origin = originValues.join(', ');
  const host = hostOf(req);
  if (typeof option === 'function') return option(origin, req) === true ? OK : refuse(origin, host);
  if (option === true) {
    if (host === undefined) {
      return refuse403(`origin '${origin}' is not allowed: the request has no 'host' header to compare it with`);
    }
    const parsed = parseOrigin(origin);
    const authority = parseAuthority(host);
    if (parsed === undefined || authority === undefined) return refuse(origin, host);
    const hostPort = authority.port ?? DEFAULT_PORTS[parsed.scheme];
    return parsed.host === authority.host && parsed.port === hostPort ? OK : refuse(origin, host);
  }
  if (!Array.isArray(option)) throw invalidOption('checkOrigin', option);
  const allowedOrigins = allowedList(option);
  const parsed = parseOrigin(origin);
  if (parsed !== undefined) {
    for (const allowed of allowedOrigins) {
      if (matches(allowed, parsed)) return OK;
    }
  }
  return refuse(origin, host);
}

/**
 * Validates a `checkOrigin` option and returns it in the form `checkOrigin` uses:
 * lists are copied, frozen and parsed once here.
 *
 * @returns the option (a frozen copy for a list).
 * @throws TypeError naming the bad value when it is not a boolean, a list of
 *   origins or a function, or when a list entry is not `scheme://host[:port]` or
 *   `//host[:port]` (a `*.` prefix on the host allowed).
 * @example
 * validateCheckOrigin(['https://app.example.com', '//*.example.com']);
 * validateCheckOrigin(['example.com']); // TypeError: write 'https://example.com' or '//example.com'
 */
export function validateCheckOrigin(value: unknown, name = 'checkOrigin'): CheckOriginOption {
  if (typeof value === 'boolean' || typeof value === 'function') return value as CheckOriginOption;
  if (!Array.isArray(value)) throw invalidOption(name, value);
  const list: readonly string[] = Object.freeze([...(value as unknown[])].map((entry) => {
    if (typeof entry !== 'string') {
      throw new TypeError(`option '${name}' must list origins as strings, got ${describeValue(entry)}`);
    }
    return entry;
  }));
  parsedLists.set(list, list.map((entry) => parseAllowed(entry, name)));
  return list;
}

/** Lists from `validateCheckOrigin` are frozen and parsed once; any other list may change, so it is parsed per call. */
function allowedList(list: readonly string[]): readonly AllowedOrigin[] {
  return parsedLists.get(list) ?? list.map((entry) => parseAllowed(entry, 'checkOrigin'));
}

function invalidOption(name: string, value: unknown): TypeError {
  return new TypeError(
    `option '${name}' must be true, false, a list of origins or a function (origin, req) => boolean, got ${describeValue(value)}`,
  );
}

function parseAllowed(entry: string, name: string): AllowedOrigin {
  const m = ALLOWED_ENTRY.exec(entry);
  const authority = m === null ? undefined : parseAuthority(m[2]!);
  if (m === null || authority === undefined) {
    const bare = entry.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//, '').replace(/^\/\//, '').replace(/\/.*$/, '');
    throw new TypeError(
      `option '${name}' has an origin without a parsable host: ${inspectString(entry)}; ` +
        `write it as 'https://${bare || 'example.com'}' or '//${bare || 'example.com'}'`,
    );
  }
  const scheme = m[1]?.toLowerCase();
  const wildcard = authority.host.startsWith('*.');
  const host = wildcard ? authority.host.slice(2) : authority.host;
  if (host === '' || host.includes('*')) {
    throw new TypeError(`option '${name}' has a misplaced wildcard in ${inspectString(entry)}: only a leading '*.' is allowed`);
  }
  const port = authority.port ?? (scheme === undefined ? undefined : DEFAULT_PORTS[scheme]);
  return { scheme, host, wildcard, port };
}

interface ParsedOrigin {
  readonly scheme: string;
  readonly host: string;
  readonly port: number | undefined;
}

function parseOrigin(origin: string): ParsedOrigin | undefined {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return undefined;
  }
  if (url.hostname === '') return undefined;
  const scheme = url.protocol.slice(0, -1);
  const port = url.port === '' ? DEFAULT_PORTS[scheme] : Number(url.port);
  return { scheme, host: url.hostname, port };
}

/** `host`, `host:port`, `[v6]` or `[v6]:port`, host lower-cased; undefined when malformed. */
function parseAuthority(text: string): Authority | undefined {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end === -1) return undefined;
    host = text.slice(0, end + 1);
    const rest = text.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return undefined;
      portText = rest.slice(1);
    }
  } else {
    const colon = text.indexOf(':');
    if (colon === -1) host = text;
    else {
      host = text.slice(0, colon);
      portText = text.slice(colon + 1);
    }
  }
  if (host === '' || /[\s,/@]/.test(host)) return undefined;
  if (portText === undefined) return { host: host.toLowerCase(), port: undefined };
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return undefined;
  return { host: host.toLowerCase(), port: Number(portText) };
}

function matches(allowed: AllowedOrigin, origin: ParsedOrigin): boolean {
  if (allowed.scheme !== undefined && allowed.scheme !== origin.scheme) return false;
  if (allowed.port !== undefined && allowed.port !== origin.port) return false;
  if (!allowed.wildcard) return origin.host === allowed.host;
  // A label boundary is required: '*.example.com' must not admit 'evilexample.com'.
  return origin.host === allowed.host || origin.host.endsWith('.' + allowed.host);
}

function hostOf(req: UpgradeRequest): string | undefined {
  const host = headerValues(req.headers, 'host');
  if (host.length > 0) return host.join(', ');
  // node:http2's compatibility API carries the authority in a pseudo-header.
  const authority = headerValues(req.headers, ':authority');
  return authority.length > 0 ? authority.join(', ') : undefined;
}

function refuse(origin: string, host: string | undefined): OriginRefusal {
  return refuse403(
    host === undefined ? `origin '${origin}' is not allowed` : `origin '${origin}' is not allowed for host '${host}'`,
  );
}

function refuse403(reason: string): OriginRefusal {
  return { ok: false, status: 403, reason };
}
