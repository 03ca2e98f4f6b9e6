/**
 * Who may open the observer. It shows every process and can kill any of them, so
 * it is never open to the network by accident: without an `auth` option only
 * loopback clients get in; a token or a predicate opens it further.
 */
import { report } from '../runtime/logger.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * How the observer checks a request: a shared token (given as `?token=` or
 * `Authorization: Bearer <token>`), or a predicate on the request that returns
 * true to let it in. The predicate sees the server's own request: a node:http
 * `IncomingMessage` on `beamsock/ws` and `observer.attach()`, a Fetch `Request`
 * on Bun and Deno.
 *
 * @example
 * const auth: ObserverAuth = (req) => (req instanceof Request ? req.headers.get('x-admin') : req.headers['x-admin']) === 'yes';
 */
export type ObserverAuth = { readonly token: string } | ((req: IncomingMessage | Request) => boolean);

/** The verdict on one request. */
export type AuthVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly status: 401 | 403 | 500; readonly reason: string; readonly headers: Readonly<Record<string, string>> };

const ALLOWED = Object.freeze({ ok: true as const });
const NO_HEADERS = Object.freeze({});

/**
 * Throws TypeError unless `auth` is undefined, `{ token }` with a non-empty
 * string, or a function.
 *
 * @example
 * validateAuth({ token: process.env.OBSERVER_TOKEN ?? '' }); // throws when the variable is unset
 */
export function validateAuth(auth: unknown): asserts auth is ObserverAuth | undefined {
  if (auth === undefined || typeof auth === 'function') return;
  if (typeof auth === 'object' && auth !== null) {
    const keys = Object.keys(auth);
    const token = (auth as { token?: unknown }).token;
    if (keys.length === 1 && typeof token === 'string' && token !== '') return;
  }
  throw new TypeError(`observer option 'auth' must be { token: <non-empty string> } or a function (req) => boolean, got ${describe(auth)}`);
}

function describe(v: unknown): string {
  if (typeof v !== 'object' || v === null) return String(v);
  const token = (v as { token?: unknown }).token;
  // Never echo a secret into an error message.
  return `an object with keys ${JSON.stringify(Object.keys(v))}${typeof token === 'string' ? ` (token of length ${token.length})` : ''}`;
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** The token a request carries, from `Authorization: Bearer` first, else `?token=`. */
function tokenOf(req: IncomingMessage | Request): string | undefined {
  const header = req instanceof Request ? (req.headers.get('authorization') ?? undefined) : req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m !== null) return m[1];
  }
  const q = new URL(req.url ?? '/', 'http://observer').searchParams.get('token');
  return q === null || q === '' ? undefined : q;
}

// Hashing first gives equal lengths, so the comparison's time says nothing about the token.
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/**
 * Decides whether `req` may use the observer: 401 (with `WWW-Authenticate`) when
 * a token is required and none was given, 403 for a wrong token, a predicate that
 * says no, or (without `auth`) a client that is not on loopback; 500 when the
 * predicate throws. A Fetch `Request` knows no client address: pass the one the
 * server gave. Never throws.
 *
 * @example
 * authorize(req, { token: 's3cret' }); // { ok: true } for /observer?token=s3cret
 */
export function authorize(req: IncomingMessage, auth: ObserverAuth | undefined): AuthVerdict;
export function authorize(req: Request, auth: ObserverAuth | undefined, remoteAddress: string | undefined): AuthVerdict;
export function authorize(req: IncomingMessage | Request, auth: ObserverAuth | undefined, remoteAddress?: string): AuthVerdict {
  if (auth === undefined) {
    const client = req instanceof Request ? remoteAddress : req.socket.remoteAddress;
    if (isLoopback(client)) return ALLOWED;
    return refuse(403, `the observer accepts only loopback clients unless mounted with an 'auth' option (client ${String(client)})`);
  }
  if (typeof auth === 'function') {
    let allowed: boolean;
    try {
      allowed = auth(req);
    } catch (err) {
      const reason = 'internal server error while checking access to the observer';
      report({ kind: 'upgrade', server: 'observer', path: req.url ?? '/', status: 500, reason, error: err });
      return refuse(500, reason);
    }
    return allowed === true ? ALLOWED : refuse(403, 'access to the observer was refused');
  }
  const given = tokenOf(req);
  if (given === undefined) {
    return { ok: false, status: 401, reason: 'the observer needs a token: ?token=... or Authorization: Bearer ...', headers: { 'www-authenticate': 'Bearer realm="beamsock observer"' } };
  }
  return sameSecret(given, auth.token) ? ALLOWED : refuse(403, 'wrong observer token');
}

function refuse(status: 403 | 500, reason: string): AuthVerdict {
  return { ok: false, status, reason, headers: NO_HEADERS };
}
