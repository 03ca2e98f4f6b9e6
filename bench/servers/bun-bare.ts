/**
 * Baseline: bare `Bun.serve` with Bun's defaults. Echoes every message with
 * `ws.send(message)`. Started with the argument `pubsub`, every connection
 * subscribes to one topic and a broadcast is Bun's native `server.publish`.
 * Started with the argument `hop`, it echoes the way any actor runtime must, with
 * nothing else: a message waits in its connection's queue until a `setImmediate`
 * drains every queue, then goes back with `ws.send`: the floor under beamsock's
 * per-message path on Bun.
 */
import { startBunControl } from './bun-control.js';

interface Socket {
  send(data: string | Buffer): number;
  subscribe(topic: string): void;
  cork(fn: () => void): void;
}
declare const Bun: {
  serve(options: object): { port: number; publish(topic: string, data: string): number };
};

const TOPIC = 'bench';
const subscribe = process.argv.includes('pubsub');
let open = 0;

/** `hop`: sockets with queued messages, drained together from `setImmediate`. */
const hop = process.argv.includes('hop');
const queues = new Map<Socket, (string | Buffer)[]>();
const hopRun: Socket[] = [];
function drainHops(): void {
  for (const ws of hopRun.splice(0)) {
    const queue = queues.get(ws);
    // One write for what the connection queued, as beamsock's batched writes do (Bun corks only inside its own callbacks).
    if (queue !== undefined) ws.cork(() => {
      for (const m of queue.splice(0)) ws.send(m);
    });
  }
}

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
      if (!hop) {
        ws.send(message);
        return;
      }
      let queue = queues.get(ws);
      if (queue === undefined) queues.set(ws, (queue = []));
      if (queue.length === 0) {
        if (hopRun.length === 0) setImmediate(drainHops);
        hopRun.push(ws);
      }
      queue.push(message);
    },
    close(ws: Socket) {
      queues.delete(ws);
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
