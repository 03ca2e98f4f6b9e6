/**
 * Connection churn: clients that open, talk and close, over and over. Each one
 * gets its echo and the server's answer to its close (1000); afterwards the
 * server is back to its baseline: no connection, process or timer more than
 * before (timers counted on Node), `terminate` run for each, and RSS within the
 * bound (what a leak of a few KiB per connection would pass at 10,000).
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { MiB, RUNTIMES, scaled, serverFor, TEST_TIMEOUT_MS, underAttack } from './support.js';

/** Connections in all, and open at once. */
const CONNECTIONS = scaled(150, 10_000);
const AT_ONCE = scaled(50, 1_000);
/** What the server may grow by while churning: about 150 KiB for each connection open at once (ws, measured). */
const MEMORY_BOUND = scaled(48, 256) * MiB;
/** What may stay once all are closed: 48 MiB after 10,000 connections is under 5 KiB each. */
const SLACK = 48 * MiB;

/** Opens a connection, has one message echoed, closes with 1000; resolves with the code the server answered. */
async function talk(port: number, i: number): Promise<number> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  await once(ws, 'open');
  ws.send(`churn ${i}`);
  const [echo] = (await once(ws, 'message')) as [Buffer];
  expect(echo.toString()).toBe(`churn ${i}`);
  ws.close(1000);
  const [code] = (await once(ws, 'close')) as [number];
  return code;
}

describe.each(RUNTIMES)('connection churn on %s', (runtime) => {
  const target = serverFor(runtime);

  it(`${CONNECTIONS} connections, ${AT_ONCE} at a time, each echoed and closed with 1000: terminate runs for each, and connections, processes, timers and memory are back to baseline`, async () => {
    const before = (await target().stats()).terminated;
    await underAttack(target(), MEMORY_BOUND, async () => {
      for (let done = 0; done < CONNECTIONS; done += AT_ONCE) {
        const batch = Math.min(AT_ONCE, CONNECTIONS - done);
        const codes = await Promise.all(Array.from({ length: batch }, (_, k) => talk(target().port, done + k)));
        expect(codes.every((c) => c === 1000), `close codes ${[...new Set(codes)].join(', ')}`).toBe(true);
      }
    }, SLACK);
    // And the bystander's.
    expect((await target().stats()).terminated - before).toBe(CONNECTIONS + 1);
  }, TEST_TIMEOUT_MS);
});
