/**
 * Many cores, one port, on Bun: the same as `main.ts`, with `serve` from
 * `beamsock/bun`. Bun's node:cluster cannot hand sockets between processes, so
 * every worker listens on `PORT` itself with `reusePort: true` (Linux) and the
 * kernel spreads the connections.
 *
 *     bun --conditions=beamsock-source examples/cluster-cores/bun.ts
 */
import { connectNats, connectRedis, runOnCores, startNode } from 'beamsock/cluster';
import { serve } from 'beamsock/bun';

const port = Number(process.env['PORT'] ?? 4000);
const cluster = process.env['CLUSTER'] ?? 'lobby';

const cores = await runOnCores({
  name: 'lobby',
  ...(process.env['CORES'] === undefined ? {} : { count: Number(process.env['CORES']) }),
  async worker({ name }) {
    const transport = process.env['TRANSPORT'] === 'redis' ? await connectRedis() : await connectNats();
    const node = await startNode({ name, cluster, transport });
    const { lobby } = await import('./lobby.js');
    const server = await serve(lobby(), { port, host: process.env['HOST'] ?? 'localhost', reusePort: true });
    console.log(`${name} (pid ${process.pid}) serves ${server.url}`);
    return async () => {
      await server.close(5_000);
      await node.stop();
    };
  },
});
if (cores.role === 'primary') {
  console.log(`primary (pid ${process.pid}): ${cores.workers().length} workers on port ${port}, cluster '${cluster}'; Ctrl-C stops all`);
}
