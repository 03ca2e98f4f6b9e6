/**
 * Baseline: bare `Bun.serve` with Bun's defaults. Echoes every message with
 * `ws.send(message)`. Started with the argument `pubsub`, every connection
 * subscribes to one topic and a broadcast is Bun's native `server.publish`.
 */
import { startBunControl } from './bun-control.js';

interface Socket {
  send(data: string | Buffer): number;
  subscribe(topic: string): void;
}
declare const Bun: {
  serve(options: object): { port: number; publish(topic: string, data: string): number };
};

const TOPIC = 'bench';
const subscribe = process.argv.includes('pubsub');
let open = 0;

const server = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  fetch: (req: Request, s: { upgrade(req: Request): boolean }) => (s.upgrade(req) ? undefined : new Response('upgrade only', { status: 400 })),
  websocket: {
    open(ws: Socket) {
      open++;
      if (subscribe) ws.subscribe(TOPIC);
    },
    message(ws: Socket, message: string | Buffer) {
      ws.send(message);
    },
    close() {
      open--;
    },
  },
});

startBunControl(server.port, {
  count: () => open,
  async broadcast(message) {
    server.publish(TOPIC, message);
    // Bun queues a publish and writes it when its event loop next turns; the reply waits for that.
    await new Promise((resolve) => setImmediate(resolve));
  },
});
