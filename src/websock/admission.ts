/**
 * The checks every adapter runs before it upgrades a request, in websock_adapter's
 * order: the upgrade itself (unless `earlyValidateUpgrade` is off), the `Origin`,
 * then the subprotocol. An adapter only turns the answer into its server's
 * response.
 */
import { checkOrigin } from './origin.js';
import { selectSubprotocol, type ResolvedOptions } from './options.js';
import { validateUpgrade, type UpgradeRequest } from './upgrade-validation.js';

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
