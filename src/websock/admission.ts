/**
 * The checks every adapter runs before it upgrades a request, in websock_adapter's
 * order: the upgrade itself (unless `earlyValidateUpgrade` is off), the `Origin`,
 * then the subprotocol; and the application's own say, the `authorize` hook,
 * which the serving core asks last. An adapter only turns the answer into its
 * server's response.
 */
import { checkOrigin } from './origin.js';
import { selectSubprotocol, type ResolvedOptions } from './options.js';
import { describeValue, validateUpgrade, type UpgradeRequest } from './upgrade-validation.js';

/** Upgrade with this subprotocol (undefined for none), or refuse with a status, a reason and extra headers. */
export type Admission =
  | { readonly ok: true; readonly protocol: string | undefined }
  | { readonly ok: false; readonly status: number; readonly reason: string; readonly headers?: Readonly<Record<string, string>> | undefined };

/**
 * Whether to upgrade `req` under options `o`, and with which subprotocol.
 *
 * @throws whatever a `checkOrigin` or `subprotocols` function throws; adapters
 *   answer that with 500.
 * @example
 * const a = admit(req, resolvedOptions);
 * if (!a.ok) return refuse(a.status, a.reason, a.headers);
 */
export function admit(req: UpgradeRequest, o: ResolvedOptions): Admission {
  if (o.earlyValidateUpgrade) {
    const v = validateUpgrade(req);
    if (!v.ok) return v;
  }
  const origin = checkOrigin(req, o.checkOrigin);
  if (!origin.ok) return origin;
  return { ok: true, protocol: selectSubprotocol(req.headers['sec-websocket-protocol'], o.subprotocols, req) };
}

/**
 * What an `authorize` hook answers for one upgrade request (Phoenix's
 * `connect/3`): `true` to let it through (`init` gets the `args` option's
 * value), `{ args }` to let it through with these args for `init` (the
 * connection's assigns, taking the place of the `args` option and of
 * `upgrade()`'s own), `false` to refuse it with 403, or `{ status: 401 | 403,
 * reason?, headers? }` to refuse it with that status, the reason as the
 * plain-text body and extra headers such as `WWW-Authenticate`.
 */
export type Authorization<A> =
  | boolean
  | { readonly args: A }
  | { readonly status: 401 | 403; readonly reason?: string; readonly headers?: Readonly<Record<string, string>> };

/**
 * The `authorize` option of every server: called with the server's own request
 * (node:http's `IncomingMessage` on ws, the Fetch `Request` on Bun) once the
 * upgrade passed validation and the origin check, before the handshake. It may
 * be async; the upgrade waits for it. A throw or rejection answers 500 and is
 * reported to the logger.
 *
 * @example
 * const authorize: Authorize<{ user: string }, IncomingMessage> = async (req) => {
 *   const user = await sessions.lookup(req.headers.cookie);
 *   return user === undefined ? { status: 401, reason: 'log in first' } : { args: { user } };
 * };
 */
export type Authorize<A, Req> = (req: Req) => Authorization<A> | PromiseLike<Authorization<A>>;

/** What an `Authorization` means: let through (with args when it carries them) or refused. */
export type AuthorizationOutcome<A> =
  | { readonly ok: true; readonly args?: A }
  | { readonly ok: false; readonly status: 401 | 403; readonly reason: string; readonly headers?: Readonly<Record<string, string>> | undefined };

const ALLOWED: AuthorizationOutcome<never> = Object.freeze({ ok: true });
const FORBIDDEN: AuthorizationOutcome<never> = Object.freeze({ ok: false, status: 403, reason: 'Forbidden' });

/**
 * Reads an `authorize` hook's answer.
 *
 * @throws TypeError for anything that is not an `Authorization`, naming the option.
 * @example
 * authorization({ status: 401 }); // { ok: false, status: 401, reason: 'Unauthorized' }
 */
export function authorization<A>(answer: unknown): AuthorizationOutcome<A> {
  if (answer === true) return ALLOWED;
  if (answer === false) return FORBIDDEN;
  if (typeof answer === 'object' && answer !== null) {
    const a = answer as { args?: unknown; status?: unknown; reason?: unknown; headers?: unknown };
    if ('args' in a && a.status === undefined) return { ok: true, args: a.args as A };
    if ((a.status === 401 || a.status === 403) && (a.reason === undefined || typeof a.reason === 'string') && (a.headers === undefined || isHeaders(a.headers))) {
      return { ok: false, status: a.status, reason: a.reason ?? (a.status === 401 ? 'Unauthorized' : 'Forbidden'), headers: a.headers };
    }
  }
  throw new TypeError(`option 'authorize' returned ${describeValue(answer)}: expected true, false, { args } or { status: 401 | 403, reason?, headers? }`);
}

function isHeaders(h: unknown): h is Readonly<Record<string, string>> {
  return typeof h === 'object' && h !== null && Object.values(h).every((v) => typeof v === 'string');
}

/**
 * Checks an `authorize` option: a function, or undefined.
 *
 * @throws TypeError naming the option.
 * @example
 * authorizeOption(undefined); // undefined
 */
export function authorizeOption<A, Req>(value: unknown): Authorize<A, Req> | undefined {
  if (value === undefined || typeof value === 'function') return value as Authorize<A, Req> | undefined;
  throw new TypeError(`option 'authorize' must be a function of the upgrade request, got ${describeValue(value)}`);
}
