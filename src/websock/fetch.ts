/**
 * What the servers built on the Fetch API (Bun, Deno) share beside
 * `fromFetchRequest`: a request's path as node:http gives it, the plain-text
 * response every refusal is, and `serve()`'s routing of a request.
 */
import { noEndpoint, routeOf, upgradeRequired } from './listen-options.js';

/**
 * The path and query of a Fetch request's absolute URL, as node:http's `req.url` gives them.
 *
 * @example
 * pathOf('http://localhost:4000/chat?room=1'); // '/chat?room=1'
 */
export function pathOf(url: string): string {
  const slash = url.indexOf('/', url.indexOf('//') + 2);
  return slash === -1 ? '/' : url.slice(slash);
}

/**
 * A plain-text response, as every refusal is.
 *
 * @example
 * textResponse(403, "origin 'http://evil.example' is not allowed"); // a Response with that body
 */
export function textResponse(status: number, body: string, headers?: Readonly<Record<string, string>>): Response {
  return new Response(body, { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...headers } });
}

/**
 * What a Fetch server's `serve()` does with a request no mount took (see
 * `routeOf`): `'request'` for `onRequest`, `'upgrade'` to upgrade it at
 * `target`, or the refusal to answer — 426 with `Upgrade: websocket` for a plain
 * request to the WebSocket path, 404 for an upgrade elsewhere.
 *
 * @example
 * const route = fetchRoute(pathOf(req.url), req.headers.has('upgrade'), '/ws');
 * if (route === 'request') return onRequest(req);
 * return route === 'upgrade' ? upgrade(req) : route;
 */
export function fetchRoute(target: string, upgrading: boolean, path: string | undefined): 'request' | 'upgrade' | Response {
  switch (routeOf(target, upgrading, path)) {
    case 'request':
      return 'request';
    case 'upgrade':
      return 'upgrade';
    case 'upgradeRequired': {
      const refusal = upgradeRequired(path ?? target);
      return textResponse(refusal.status, refusal.reason, refusal.headers);
    }
    case 'notFound':
      return textResponse(404, noEndpoint(target).reason);
  }
}
