/**
 * Probe, not part of `npm run bench`: one broadcast server at a time, its
 * clients alone in this process, and where each broadcast's time goes: from
 * sending the trigger until the server starts (`ipc`), the server's own time
 * until it has written every socket (`server`), and until this process has the
 * first and the last frame (medians of 20 after 3 of warm-up). `npm run bench`
 * instead keeps every server's clients connected at once and takes turns.
 *
 *   node --conditions=beamsock-source --import tsx bench/probes/broadcast.ts \
 *     [--connections 5000] [--mode fastlane] bun-bare:pubsub bun-beamsock:pubsub bare-ws:pubsub beamsock:pubsub
 *
 * `--mode` is handed to the servers that know several ways (see `echo-member.ts`);
 * see `servers.ts` for how servers are named.
 */
import { parseArgs } from 'node:util';
import { withClients } from '../load-client.js';
import { parseServer, startServer } from './servers.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { connections: { type: 'string', default: '5000' }, mode: { type: 'string' } },
});

const n = Number(values.connections);
const now = (): number => performance.timeOrigin + performance.now();
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;

for (const label of positionals) {
  const server = await startServer(parseServer(label));
  try {
    await withClients(server.port, n, async (clients) => {
      await server.awaitCount(n);
      const ipc: number[] = [];
      const wall: number[] = [];
      const first: number[] = [];
      const last: number[] = [];
      for (let i = 0; i < 23; i++) {
        let got = 0;
        let firstAt = 0;
        const sentAt = now();
        const lastAt = new Promise<number>((resolve) => {
          for (const c of clients) {
            c.onFrames = (frames) => {
              if (got === 0) firstAt = now();
              got += frames;
              if (got === n) resolve(now());
            };
          }
        });
        const reply = await server.request('broadcast', { message: 'b'.repeat(64), ...(values.mode === undefined ? {} : { mode: values.mode }) });
        const end = await lastAt;
        if (i >= 3) {
          ipc.push((reply.startedAt as number) - sentAt);
          wall.push(reply.wallMs as number);
          first.push(firstAt - sentAt);
          last.push(end - sentAt);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      console.log(
        `${label.padEnd(24)} ipc ${median(ipc).toFixed(1)} ms, server ${median(wall).toFixed(1)} ms, ` + `first frame ${median(first).toFixed(1)} ms, last frame ${median(last).toFixed(1)} ms`,
      );
    });
  } finally {
    await server.stop();
  }
}
