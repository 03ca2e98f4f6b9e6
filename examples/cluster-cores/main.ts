// examples/cluster-cores/main.ts — one node per core behind one port, over NATS on 127.0.0.1:4222
import { connectNats, connectRedis, runOnCores, startNode } from 'beamsock/cluster';
import { serve } from 'beamsock/ws';

const port = Number(process.env['PORT'] ?? 4000);
// Every worker runs this file again: the cluster name comes from outside, never drawn here.
const cluster = process.env['CLUSTER'] ?? 'lobby';

const cores = await runOnCores({
  name: 'lobby', // the workers are nodes lobby-1, lobby-2, ...
  ...(process.env['CORES'] === undefined ? {} : { count: Number(process.env['CORES']) }),
  async worker({ name }) {
    const transport = process.env['TRANSPORT'] === 'redis' ? await connectRedis() : await connectNats();
    const node = await startNode({ name, cluster, transport });
    // Imported after startNode: the lobby's PubSub belongs to this node.
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
