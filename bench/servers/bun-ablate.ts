/**
 * For `bench/probes/upgrade-threads.ts`: bare `Bun.serve` (as `bun-bare.ts`)
 * plus, one argument each, a piece of what beamsock's Bun adapter does at every
 * upgrade, to weigh them apart:
 *
 * - `validate`: websock_adapter's checks on the request (`fromFetchRequest`, `validateUpgrade`);
 * - `path`: the request's path, from its URL;
 * - `ext`: a read of its `Sec-WebSocket-Extensions` header;
 * - `data`: an object as the socket's `data`, given to `server.upgrade`;
 * - `headers`: response headers given to `server.upgrade` (beamsock's empty subprotocol);
 * - `addr`: the peer's address read at `open`;
 * - `handlers`: `drain`, `ping` and `pong` handlers (Bun calls into JavaScript for each);
 * - `opts`: the `websocket` settings beamsock gives Bun;
 * - `strings`: 16 short-lived strings, as many as `validate` makes, but nothing else: what any
 *   garbage made at upgrade time costs an idle connection in RSS (see `probes/idle.ts`).
 *
 *   node --conditions=beamsock-source --import tsx bench/probes/upgrade-threads.ts --rate 5000 \
 *     bun-bare bun-ablate:validate:path:ext:data:headers bun-ablate:addr:handlers:opts:data bun-beamsock
 */
import { pathOf } from '../../src/websock/fetch.js';
import { fromFetchRequest, validateUpgrade } from '../../src/websock/upgrade-validation.js';
import { startBunControl } from './bun-control.js';

declare const Bun: { serve(options: object): { port: number } };

interface Socket {
  readonly data: { addr?: string };
  readonly remoteAddress: string;
  send(message: string | Buffer): number;
}
interface Upgrader {
  upgrade(req: Request, options?: object): boolean;
}

const has = (piece: string): boolean => process.argv.includes(piece);
const HEADERS = Object.freeze({ 'Sec-WebSocket-Protocol': '' });
let open = 0;
// Where the `strings` piece leaves its garbage (the length keeps it from being optimized away).
let sinkLength = 0;

const server = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  fetch: (req: Request, s: Upgrader) => {
    if (has('validate') && !validateUpgrade(fromFetchRequest(req)).ok) return new Response('not an upgrade', { status: 400 });
    if (has('strings')) {
      for (let i = 0; i < 16; i++) sinkLength += `${req.method}:${i}:${open}`.length;
    }
    const data: { path?: string } = {};
    if (has('path')) data.path = pathOf(req.url);
    if (has('ext')) req.headers.get('sec-websocket-extensions');
    const options = has('headers') ? { headers: HEADERS, data } : has('data') || has('addr') ? { data } : undefined;
    return s.upgrade(req, options) ? undefined : new Response('upgrade only', { status: 400 });
  },
  websocket: {
    open(ws: Socket) {
      open++;
      if (has('addr')) ws.data.addr = ws.remoteAddress;
    },
    message(ws: Socket, message: string | Buffer) {
      ws.send(message);
    },
    close() {
      open--;
    },
    ...(has('handlers') ? { drain() {}, ping() {}, pong() {} } : {}),
    ...(has('opts') ? { maxPayloadLength: 0xffff_ffff, backpressureLimit: 0, closeOnBackpressureLimit: false, idleTimeout: 0, sendPings: false, publishToSelf: false, perMessageDeflate: false } : {}),
  },
});

startBunControl(server.port, { count: () => open });
