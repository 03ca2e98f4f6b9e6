// examples/echo/bun.ts — run: SERVER=bun PORT=9001 npm run example:echo
/**
 * The echo example on Bun's native server: `SERVER=bun PORT=9001 npm run example:echo`.
 *
 * The same as `main.ts` on Node: listens on 127.0.0.1, accepts an upgrade on any
 * path and echoes every text and binary message unchanged, with permessage-deflate
 * negotiable, a 20 MB maxFrameSize and upgrades from any Origin (said at
 * start-up). The README's EchoServer ("ping" gets
 * "pong") answers on /echo-server. Two handlers share one `Bun.serve`: each
 * `createBunHandler` gives its own `upgrade`, and one `websocket` object serves
 * both because Bun's handlers find each connection's own on the socket.
 */
import { createBunHandler, type BunServer } from 'beamsock/bun';
import { Echo, EchoServer } from './echo-server.js';

declare const Bun: { serve(options: object): BunServer };

const port = Number(process.env['PORT'] ?? 9001);
const options = { compress: true, maxFrameSize: 20_000_000, checkOrigin: false };
const echo = createBunHandler(Echo, { ...options, args: null });
const echoServer = createBunHandler(EchoServer, { ...options, args: {} });

const server = Bun.serve({
  port,
  hostname: '127.0.0.1',
  fetch(req: Request, s: BunServer) {
    if (!req.headers.has('upgrade')) return new Response('beamsock echo: connect a WebSocket to any path\n');
    return new URL(req.url).pathname.startsWith('/echo-server') ? echoServer.upgrade(req, s) : echo.upgrade(req, s);
  },
  websocket: echo.websocket,
});
console.log(`beamsock echo on Bun listening on ws://127.0.0.1:${server.port}/ (any path echoes)`);
console.log('accepting upgrades from any Origin (checkOrigin: false, for test clients and pages on other ports)');

const stop = (): void => {
  void Promise.all([echo.closeConnections(5_000), echoServer.closeConnections(5_000)])
    .then(() => server.stop(true))
    .then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
