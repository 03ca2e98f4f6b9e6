/**
 * Probe, not part of `npm run bench`: what beamsock itself spends on one
 * connection's whole life, with no socket: the admission of the request, the
 * connection's start (its process, the supervisor's adoption, telemetry, the idle
 * wheel), `init`, the peer's close, `terminate` and the exit. A server's CPU per
 * upgrade above its bare server's and above this is the adapter's and the
 * server's own. Runs on Node and on Bun:
 *
 *   node --expose-gc --conditions=beamsock-source --import tsx bench/probes/lifecycle.ts
 *   node_modules/.bin/bun bench/probes/lifecycle.ts
 *
 * Connections start `BATCH` at a time (16, as the bench's upgrades run), each
 * batch closing once the scheduler is idle.
 */
import { idle } from '../../src/runtime/scheduler.js';
import type { Frame } from '../../src/websock/behaviour.js';
import type { Connection } from '../../src/websock/connection.js';
import { normalizeOptions } from '../../src/websock/options.js';
import { Serving } from '../../src/websock/serving.js';
import type { ConnectionMeta, Transport } from '../../src/websock/transport.js';
import { Echo } from '../servers/echo-member.js';

const BATCH = 16;
const LIVES = 50_000;

/** A transport that writes nowhere and whose peer has always gone. */
class NoSocket implements Transport {
  readonly compressed = false;
  conn: Connection<unknown> | undefined;
  write(_frames: readonly Frame[]): void {}
  close(_code: number): void {}
  abort(): void {}
  pause(): void {}
  resume(): void {}
  bufferedAmount(): number {
    return 0;
  }
  setMaxFrameSize(): void {}
}

const META: ConnectionMeta = { handlerName: 'Echo', remoteAddress: '127.0.0.1', path: '/', protocol: undefined, server: 'probe' };
const REQUEST = {
  method: 'GET',
  httpVersion: '1.1',
  headers: { host: 'example.com', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' },
};
// The bench servers' idle timeout: one wheel, as in production.
const serving = new Serving<unknown, unknown>({ server: 'probe', handler: Echo as never, options: normalizeOptions({ timeout: 3_600_000 }), args: null });
await serving.supervisor;

async function lives(n: number): Promise<void> {
  for (let i = 0; i < n; i += BATCH) {
    const sockets: NoSocket[] = [];
    for (let j = 0; j < BATCH; j++) {
      serving.admit(REQUEST, null, '/');
      const s = new NoSocket();
      s.conn = serving.start(s, META, null);
      sockets.push(s);
    }
    await idle();
    for (const s of sockets) {
      const conn = s.conn as Connection<unknown>;
      conn.closed(true, 1000, '');
      serving.ended(conn);
    }
    await idle();
  }
}

const runtime = (globalThis as { Bun?: unknown }).Bun !== undefined ? 'Bun' : 'Node';
await lives(20_000);
for (let round = 0; round < 3; round++) {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await lives(LIVES);
  const used = process.cpuUsage(cpu);
  const ms = performance.now() - start;
  console.log(`${runtime}: ${((used.user + used.system) / LIVES).toFixed(2)} µs of CPU (all threads), ${((ms * 1000) / LIVES).toFixed(2)} µs of wall time per connection's life`);
}
await serving.close(1000);
