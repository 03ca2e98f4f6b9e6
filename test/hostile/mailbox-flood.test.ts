/**
 * Messages sent to a connection whose client never reads, on every server: each becomes a
 * 64 KiB frame the socket cannot drain. Reading the socket stops at `highWaterMark`, but
 * `handleInfo` still runs, so the connection's unwritten output is what grows; past
 * `maxBufferedAmount` (16 MiB by default) it is closed with 1008 and a `backpressure` report,
 * and the server's memory stays bounded (2,000 × 64 KiB is 128 MiB unbounded; 10,000, 640 MiB,
 * under `npm run soak`). A well-behaved
 * client on the same server gets all its echoes meanwhile.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AttackedServer, echoes, expectedEchoes, MiB, RUNTIMES, SlowReader, WAIT_MS } from './backpressure-support.js';
import { scaled } from './support.js';

const MESSAGES = scaled(2_000, 10_000);
const GROWTH_BOUND = 100 * MiB;

let server: AttackedServer | undefined;
let victim: SlowReader | undefined;
afterEach(async () => {
  victim?.destroy();
  victim = undefined;
  await server?.stop();
  server = undefined;
});

describe.each(RUNTIMES)('a mailbox flood to a connection whose client never reads, on %s', (runtime) => {
  it(
    `closes it with 1008 past maxBufferedAmount and reports it, holding the server under 100 MB of growth; a well-behaved client gets all its echoes`,
    async () => {
      server = await AttackedServer.start(runtime);
      const before = await server.stats();
      const v = (victim = await SlowReader.open(server.port));
      v.sendText('flood-me');
      await v.until(() => v.texts.includes('ok'), 'the flood victim to be named');
      v.pause();
      await server.flood(MESSAGES);

      const during = await server.statsUntil((s) => s.reports.length > 0, 'the backpressure report');
      expect(during.reports).toEqual([{ kind: 'backpressure', server: runtime, held: 'outbound', bytes: expect.any(Number), limit: 16 * MiB, code: 1008 }]);
      const [report] = during.reports;
      expect(report?.bytes).toBeGreaterThan(16 * MiB);
      expect(await echoes(server.url, 100)).toEqual(expectedEchoes(100));
      const after = await server.statsUntil((s) => s.connections.length === 0, 'the flooded connection to be gone');
      console.log(`${runtime}: RSS ${mb(before.rss)} idle, ${mb(during.rss)} at the report, ${mb(after.rss)} after; heap+buffers ${mb(after.heap)}`);
      expect(Math.max(during.rss, after.rss) - before.rss).toBeLessThan(GROWTH_BOUND);

      // The client that reads at last gets what was written before the limit, then the close code.
      // Bun and Deno stop waiting for a closing peer that reads nothing: if this client read
      // too late (a loaded machine), its close frame was never written, and the report above,
      // with its 1008, is what says how it ended. ws keeps the frame queued for it.
      v.resume();
      const closeFrame = await v.until(() => v.closeCode !== undefined, 'the close frame');
      if (closeFrame || runtime === 'ws') expect(v.closeCode).toBe(1008);
      expect(v.dataFrames).toBeLessThan(MESSAGES);
    },
    4 * WAIT_MS,
  );
});

function mb(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}
