/**
 * What the servers built on the Fetch API (Bun, Deno) share beside
 * `fromFetchRequest`: a request's path as node:http gives it, and the plain-text
 * response every refusal is.
 */

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
