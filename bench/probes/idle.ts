/**
 * Probe, not part of `npm run bench`: heap and RSS per idle connection of each
 * server named, one at a time, measured as the bench measures them (`idleMemory`:
 * `--connections` upgraded clients, the server after a full collection minus
 * before). With `bun-ablate`, it weighs the pieces of beamsock's Bun adapter
 * apart, as `upgrade-threads.ts` does for CPU:
 *
 *   node --conditions=beamsock-source --import tsx bench/probes/idle.ts \
 *     [--connections 10000] bun-bare bun-ablate:validate bun-ablate:data:addr bun-beamsock
 *
 * See `servers.ts` for how servers are named.
 */
import { parseArgs } from 'node:util';
import { idleMemory } from '../measure.js';
import { parseServer, startServer } from './servers.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { connections: { type: 'string', default: '10000' } },
});
const n = Number(values.connections);

for (const label of positionals) {
  const server = await startServer(parseServer(label));
  try {
    const f = await idleMemory(server, n);
    console.log(`${label.padEnd(40)} heap ${f.heap.toFixed(0).padStart(5)} B, RSS ${f.rss.toFixed(0).padStart(5)} B per idle connection`);
  } finally {
    await server.stop();
  }
}
