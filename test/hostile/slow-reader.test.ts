/**
 * Backpressure by default, on every server: a client that sends many 64 KiB messages to an
 * echo handler and never reads (the slow reader) does not grow the server without
 * bound. Its connection stops reading at `highWaterMark` (1 MiB unwritten), so the server
 * holds a few MiB for it while TCP pushes back on the client; Deno, which cannot stop reading,
 * closes it with 1008 past `maxBufferedAmount` (16 MiB held). A well-behaved client on the
 * same server meanwhile gets every echo. 2,000 × 64 KiB (128 MiB, which an unbounded server
 * would hold) in `npm test`; the 10,000 (640 MiB) under `npm run soak`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AttackedServer, echoes, expectedEchoes, MiB, RUNTIMES, SlowReader, WAIT_MS, type ServerStats } from './backpressure-support.js';
import { scaled } from './support.js';

const MESSAGES = scaled(2_000, 10_000);
const SIZE = 64 * 1024;
/** Growth of the server's RSS allowed over its idle figure: generous, but under what 2,000 unread echoes would take. */
const GROWTH_BOUND = 100 * MiB;
const TEST_TIMEOUT = 4 * WAIT_MS;

let server: AttackedServer | undefined;
let clients: SlowReader[] = [];
afterEach(async () => {
  for (const c of clients) c.destroy();
  clients = [];
  await server?.stop();
  server = undefined;
});

/**
 * The slow connection has reached its steady state: reading stopped and nothing left in its
 * mailbox to echo. It paused past the 1 MiB high-water mark, but by the time the stats are read
 * the kernel may have taken some of that (Deno reported 832 KiB under load); it stays paused
 * until under the ¼ MiB low-water mark, so more than that is still "backed up".
 */
const settled = (s: ServerStats): boolean => s.connections.some((c) => c.paused && c.bufferedAmount > MiB / 4 && c.queue === 0);

describe.each(RUNTIMES)('a client that never reads, on %s', (runtime) => {
  it(
    `sending ${MESSAGES} × 64 KiB holds the server under 100 MB of growth, and a well-behaved client gets all its echoes`,
    async () => {
      server = await AttackedServer.start(runtime);
      const before = await server.stats();
      const slow = await SlowReader.open(server.port);
      clients.push(slow);
      slow.pause();
      slow.sendMany(MESSAGES, SIZE);

      // ws and Bun stop reading the socket: the connection stays, paused with its output backed up.
      // Deno cannot stop reading: what it reads for the paused connection is held, up to maxBufferedAmount.
      const during = await server.statsUntil(
        (s) => (runtime === 'deno' ? s.reports.length > 0 : settled(s)),
        runtime === 'deno' ? 'the backpressure report' : 'the slow connection to pause with its output backed up',
      );
      expect(await echoes(server.url, 100)).toEqual(expectedEchoes(100));
      const after = await server.stats();
      const growth = Math.max(during.rss, after.rss) - before.rss;
      console.log(`${runtime}: RSS ${mb(before.rss)} idle, ${mb(during.rss)} with the slow reader paused, ${mb(after.rss)} after the well-behaved client; heap+buffers ${mb(after.heap)}`);
      expect(growth).toBeLessThan(GROWTH_BOUND);

      if (runtime === 'deno') {
        expect(during.reports).toEqual([{ kind: 'backpressure', server: 'deno', held: 'inbound', bytes: expect.any(Number), limit: 16 * MiB, code: 1008 }]);
        // Deno closes with 1008 and drops the TCP connection; with the client's unread frames in
        // its receive buffer the kernel resets it, so the close frame itself may never be read.
        slow.resume();
        await slow.until(() => slow.ended, 'the connection to end');
      } else {
        expect(slow.written).toBeLessThan(MESSAGES);
        expect(during.reports).toEqual([]);
      }
    },
    TEST_TIMEOUT,
  );

  it(
    'a client that stops reading and then reads again gets every echo, in full: the connection resumes once its output drains',
    async () => {
      server = await AttackedServer.start(runtime);
      const slow = await SlowReader.open(server.port);
      clients.push(slow);
      slow.pause();
      // Within what even Deno holds for a paused connection (under 16 MiB in and out).
      const count = runtime === 'deno' ? 150 : 600;
      slow.sendMany(count, SIZE);
      await server.statsUntil(settled, 'the connection to pause with its output backed up');
      slow.resume();
      await slow.until(() => slow.dataFrames === count, `${count} echoes`);
      expect(slow.dataBytes).toBe(count * SIZE);
      expect(slow.closeCode).toBeUndefined();
      expect((await server.stats()).reports).toEqual([]);
    },
    TEST_TIMEOUT,
  );
});

function mb(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}
