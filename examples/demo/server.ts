/**
 * The demo's server, on `ws` (Node) or on Bun's native server when
 * `SERVER=bun`: the same `serve(handler, options)` call either way. The
 * options take the request callbacks in one shape for both servers — a request
 * with its path and query as `url` (as node:http gives it), and a response to
 * `writeHead` and `end` — so the demo itself does not care where it runs.
 */
import type { Pid, WebSock } from 'beamsock';
import type { BunServeMount } from 'beamsock/bun';
import type { ServeMount } from 'beamsock/ws';
import type { ConnectionOptions } from 'beamsock/websock';

/** What the demo's callbacks read of a request: its path and query, e.g. `/chat?room=lobby`. */
export interface DemoRequest {
  readonly url?: string | undefined;
}

/** What the demo's page handler writes: a status with headers, then the body. */
export interface DemoResponse {
  writeHead(status: number, headers: Record<string, string>): { end(body: string): unknown };
}

/** A mount for `ws`, served on Bun too when it also speaks Fetch (`handleFetch`). */
export type DemoMount = ServeMount & Partial<BunServeMount>;

/** `serve`'s options as the demo uses them on both servers. */
export interface DemoServeOptions<A> extends ConnectionOptions {
  readonly port?: number;
  readonly host?: string;
  readonly path?: string;
  readonly args?: (req: DemoRequest) => A;
  readonly onRequest?: (req: DemoRequest, res: DemoResponse) => void;
  readonly mounts?: readonly DemoMount[];
}

/** A running demo server, whichever it is. */
export interface BeamsockServer {
  readonly port: number;
  readonly url: string;
  readonly supervisor: Pid;
  connections(): Pid[];
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Starts the demo on `ws`, or on Bun's native server when `SERVER=bun` (which
 * must then be running under Bun: `SERVER=bun npm start` sees to that). On Bun,
 * a mount without `handleFetch` (one made for node:http only) is left out, and
 * said so on stderr.
 *
 * @throws TypeError (as a rejection) for an invalid option, or for `SERVER=bun` outside Bun.
 * @example
 * const server = await serve(ChatServer, { port: 4000, path: '/chat' });
 */
export async function serve<S, A>(handler: WebSock<S, A>, opts: DemoServeOptions<A>): Promise<BeamsockServer> {
  if (process.env['SERVER'] !== 'bun') {
    const ws = await import('beamsock/ws');
    return ws.serve(handler, opts);
  }
  const bun = await import('beamsock/bun');
  const { args, onRequest, mounts = [], ...rest } = opts;
  const fetchMounts: BunServeMount[] = [];
  for (const m of mounts) {
    const { handleFetch, close } = m;
    if (handleFetch === undefined) process.stderr.write(`[demo] a mount that serves node:http only is not available on Bun\n`);
    else fetchMounts.push({ handleFetch: handleFetch.bind(m), close: close.bind(m) });
  }
  return bun.serve(handler, {
    ...rest,
    mounts: fetchMounts,
    ...(args !== undefined ? { args: (req: Request) => args({ url: pathOf(req.url) }) } : {}),
    ...(onRequest !== undefined ? { onRequest: (req: Request) => respond(req, onRequest) } : {}),
  });
}

/** Runs a node:http-style handler for a Fetch request and resolves with the Response it wrote. */
function respond(req: Request, onRequest: (req: DemoRequest, res: DemoResponse) => void): Promise<Response> {
  return new Promise((resolve) => {
    onRequest(
      { url: pathOf(req.url) },
      {
        writeHead: (status, headers) => ({ end: (body: string) => resolve(new Response(body, { status, headers })) }),
      },
    );
  });
}

function pathOf(url: string): string {
  const u = new URL(url);
  return u.pathname + u.search;
}
