// The server the backpressure tests attack, run as its own process by `node`, `bun` or `deno`:
// `<runtime> test/hostile/backpressure-server.ts ws|bun|deno`. It prints "port <n>" once
// listening. Default options only: what a new user gets.
//
// - Any path echoes every message (the echo example).
// - A text message "flood-me" makes that connection the flood's victim (answered "ok").
// - GET /flood?n=<count> sends the victim `n` messages, 100 per turn of the event loop, each
//   of which its handleInfo turns into a 64 KiB binary frame of its own: a stream of events
//   for a client that does not read.
// - GET /stats answers { rss, heap, connections, reports }: this process's memory (RSS, and V8
//   heap plus array buffers, after a GC when one can be asked for), each open connection's
//   { paused, bufferedAmount, queue } and the backpressure reports logged.
import process from 'node:process';
import { consoleLogger, setLogger, type BackpressureReport } from '../../src/runtime/logger.js';
import type { Pid } from '../../src/runtime/pid.js';
import { processInfo, self, send } from '../../src/runtime/process.js';
import { ok, push, type WebSock } from '../../src/websock/behaviour.js';

const FLOOD_FRAME = 64 * 1024;
const PER_TURN = 100;

const reports: Omit<BackpressureReport, 'pid'>[] = [];
setLogger((r) => {
  if (r.kind !== 'backpressure') return consoleLogger(r);
  const { pid: _pid, ...rest } = r;
  reports.push(rest);
});

let victim: Pid | undefined;
const open = new Set<Pid>();

const Echo: WebSock<null> = {
  init() {
    open.add(self());
    return ok(null);
  },
  terminate() {
    open.delete(self());
  },
  handleIn([data, { opcode }], state) {
    if (opcode === 'text' && data === 'flood-me') {
      victim = self();
      return push(['text', 'ok'], state);
    }
    return push([opcode, data], state);
  },
  handleInfo(msg, state) {
    return push(['binary', Buffer.alloc(FLOOD_FRAME, (msg as { n: number }).n & 0xff)], state);
  },
};

function flood(n: number): void {
  const to = victim;
  if (to === undefined) return;
  let i = 0;
  const turn = (): void => {
    for (const end = Math.min(n, i + PER_TURN); i < end; i++) send(to, { n: i });
    if (i < n) setImmediate(turn);
  };
  turn();
}

function stats(): string {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  const connections = [...open].map((pid) => {
    const info = processInfo(pid);
    return { paused: info?.details['paused'], bufferedAmount: info?.details['bufferedAmount'], queue: info?.messageQueueLen };
  });
  return JSON.stringify({ rss: m.rss, heap: m.heapUsed + m.arrayBuffers, connections, reports });
}

/** The answer to a plain request: [status, body]. */
function route(url: string): [number, string] {
  const u = new URL(url, 'http://localhost');
  if (u.pathname === '/stats') return [200, stats()];
  if (u.pathname === '/flood') {
    if (victim === undefined) return [409, 'no connection said flood-me'];
    flood(Number(u.searchParams.get('n')));
    return [200, 'flooding'];
  }
  return [404, 'not found'];
}

const runtime = process.argv[2];
let port: number;
if (runtime === 'ws') {
  const { serve } = await import('../../src/adapters/ws/server.js');
  const server = await serve(Echo, {
    port: 0,
    onRequest(req, res) {
      const [status, body] = route(req.url ?? '/');
      res.writeHead(status).end(body);
    },
  });
  port = server.port;
} else if (runtime === 'bun') {
  const { serve } = await import('../../src/adapters/bun/server.js');
  const server = await serve(Echo, { port: 0, onRequest: (req) => new Response(...responseOf(req)) });
  port = server.port;
} else if (runtime === 'deno') {
  const { serve } = await import('../../src/adapters/deno/server.js');
  const server = await serve(Echo, { port: 0, onRequest: (req) => new Response(...responseOf(req)) });
  port = server.port;
} else {
  throw new TypeError(`usage: backpressure-server.ts ws|bun|deno, got ${String(runtime)}`);
}

function responseOf(req: Request): [string, ResponseInit] {
  const [status, body] = route(req.url);
  return [body, { status }];
}

console.log(`port ${port}`);
