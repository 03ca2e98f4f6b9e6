// examples/echo/deno.ts — run: SERVER=deno PORT=9001 npm run example:echo
/**
 * The echo example on Deno's own server: `SERVER=deno PORT=9001 npm run example:echo`.
 *
 * The same as `main.ts` on Node: listens on 127.0.0.1, accepts an upgrade on any
 * path and echoes every text and binary message unchanged, with a 20 MB
 * maxFrameSize (Deno's server has no permessage-deflate, so `compress` stays
 * off) and upgrades from any Origin (said at start-up). The README's EchoServer ("ping" gets "pong") answers on /echo-server.
 * Two handlers share one `Deno.serve`: each `createDenoHandler` gives its own
 * `upgrade`, called from the one request handler.
 */
import { createDenoHandler, type DenoHttpServer, type DenoServeHandlerInfo } from 'beamsock/deno';
import { Echo, EchoServer } from './echo-server.js';

declare const Deno: {
  serve(options: { port: number; hostname: string; onListen(): void; handler(req: Request, info: DenoServeHandlerInfo): Response | Promise<Response> }): DenoHttpServer;
};

const port = Number(process.env['PORT'] ?? 9001);
const options = { maxFrameSize: 20_000_000, checkOrigin: false };
const echo = createDenoHandler(Echo, { ...options, args: null });
const echoServer = createDenoHandler(EchoServer, { ...options, args: {} });

const server = Deno.serve({
  port,
  hostname: '127.0.0.1',
  onListen: () => {
    console.log(`beamsock echo on Deno listening on ws://127.0.0.1:${port}/ (any path echoes)`);
    console.log('accepting upgrades from any Origin (checkOrigin: false, for test clients and pages on other ports)');
  },
  handler(req, info) {
    if (!req.headers.has('upgrade')) return new Response('beamsock echo: connect a WebSocket to any path\n');
    return new URL(req.url).pathname.startsWith('/echo-server') ? echoServer.upgrade(req, info) : echo.upgrade(req, info);
  },
});

const stop = (): void => {
  void Promise.all([echo.closeConnections(5_000), echoServer.closeConnections(5_000)])
    .then(() => server.shutdown())
    .then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
