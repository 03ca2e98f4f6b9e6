/**
 * Many cores, one port, on Node: `runOnCores` forks `CORES` workers (default: one
 * per core), each a beamsock node (`lobby-1`, `lobby-2`, ...) joined over NATS on
 * 127.0.0.1:4222 (`TRANSPORT=redis`: Redis on 127.0.0.1:6379), all serving the
 * lobby on `PORT` (default 4000). node:cluster's primary accepts the connections
 * and hands them to the workers in turn. A worker that dies is restarted; Ctrl-C
 * (or SIGTERM) stops them all.
 *
 *     node --conditions=beamsock-source --import tsx examples/cluster-cores/main.ts
 */
import { connectNats, connectRedis, runOnCores, startNode } from 'beamsock/cluster';
import { serve } from 'beamsock/ws';

const port = Number(process.env['PORT'] ?? 4000);
// Every worker runs this file again: the cluster name must come from outside, not be drawn here.
const cluster = process.env['CLUSTER'] ?? 'lobby';

const cores = await runOnCores({
  name: 'lobby',
  ...(process.env['CORES'] === undefined ? {} : { count: Number(process.env['CORES']) }),
  async worker({ name }) {
    const transport = process.env['TRANSPORT'] === 'redis' ? await connectRedis() : await connectNats();
    const node = await startNode({ name, cluster, transport });
    // Imported after startNode: the PubSub's processes carry the node's name.
    const { lobby } = await import('./lobby.js');
    const server = await serve(lobby(), { port, host: process.env['HOST'] ?? 'localhost' });
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
