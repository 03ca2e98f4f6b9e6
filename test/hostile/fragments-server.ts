/**
 * The echo server the fragment attacks of `fragments.test.ts` run against, on
 * whichever runtime runs this file (Node with ws, Bun or Deno), each through
 * its adapter's `serve` with the options in the environment's `LIMITS` (JSON).
 * It prints `{"url": ...}` once listening, then its resident memory as
 * `{"rss": bytes}` every 100 ms, so that the test can take the peak over an attack.
 */
import { Echo } from '../../examples/echo/echo-server.js';

const runtime = globalThis as { Bun?: unknown; Deno?: { memoryUsage(): { rss: number }; env: { get(name: string): string | undefined } } };
const rss = (): number => (runtime.Deno !== undefined ? runtime.Deno.memoryUsage().rss : process.memoryUsage().rss);
const limits = JSON.parse((runtime.Deno !== undefined ? runtime.Deno.env.get('LIMITS') : process.env['LIMITS']) ?? '{}') as object;

const { serve } =
  runtime.Bun !== undefined
    ? await import('../../src/adapters/bun/server.js')
    : runtime.Deno !== undefined
      ? await import('../../src/adapters/deno/server.js')
      : await import('../../src/adapters/ws/server.js');

const server = await serve(Echo, { port: 0, ...limits });
console.log(JSON.stringify({ url: server.url }));
setInterval(() => console.log(JSON.stringify({ rss: rss() })), 100);
