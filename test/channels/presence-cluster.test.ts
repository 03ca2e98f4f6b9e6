// Presence across two cluster nodes (separate OS processes over NATS), one phoenix client on each.
import { afterAll, describe, expect, it } from 'vitest';
import { Presence, type Socket } from 'phoenix';
import { uniqueCluster } from '../cluster/brokers.js';
import { ServerProc, client, join, until } from './support.js';

describe('Presence on two cluster nodes', () => {
  const servers: ServerProc[] = [];
  const sockets: Socket[] = [];
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await Promise.all(servers.map((s) => s.stop()));
  });

  for (const runtime of ['node', 'bun'] as const) {
    it(`each client sees the other node's user join, and leave when that node dies (${runtime})`, async () => {
      const cluster = uniqueCluster();
      const env = (name: string): Record<string, string> => ({ NATS_URL: '127.0.0.1:4222', CLUSTER: cluster, NODE_NAME: name });
      const [one, two] = await Promise.all([ServerProc.start(runtime, env('one')), ServerProc.start(runtime, env('two'))]);
      servers.push(one as ServerProc, two as ServerProc);
      const names = (p: Presence): string => p.list((key) => key).sort().join();
      const ada = client((one as ServerProc).url, { params: { token: 'a' } });
      const bob = client((two as ServerProc).url, { params: { token: 'b' } });
      sockets.push(ada, bob);
      const adaRoom = ada.channel('chat:cluster', { user: 'ada' });
      const bobRoom = bob.channel('chat:cluster', { user: 'bob' });
      const adaView = new Presence(adaRoom);
      const bobView = new Presence(bobRoom);
      await join(adaRoom);
      await join(bobRoom);
      await until(() => names(adaView) === 'ada,bob' && names(bobView) === 'ada,bob', 'both nodes listing both users');
      // A broadcast from one node reaches the client on the other.
      const heard = new Promise((r) => adaRoom.on('news', r));
      (two as ServerProc).broadcast('chat:cluster', 'news', { from: 'two' });
      expect(await heard).toEqual({ from: 'two' });
      await (two as ServerProc).kill();
      await until(() => names(adaView) === 'ada', "bob gone once node two is detected down");
    }, 60_000);
  }
});
