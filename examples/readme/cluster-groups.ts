// examples/readme/cluster-groups.ts — a process group and a global name on two nodes over NATS
import { fork } from 'node:child_process';
import { send, spawn } from 'beamsock';
import { connectNats, pg, registerGlobal, startNode, whereisGlobal } from 'beamsock/cluster';

const [name = 'a', cluster = `readme-pg-${process.pid}`] = process.argv.slice(2);
const node = await startNode({ name, cluster, transport: await connectNats() });

if (name === 'a') {
  await new Promise<void>((resolve) => {
    const boss = spawn((msg: string) => {
      console.log(`the boss got "${msg}"; workers on both nodes: ${pg.members('workers').map(String).join(', ')}`);
      resolve();
    });
    pg.join('workers', boss);
    // true once every node up has acknowledged the claim; then start node b.
    void registerGlobal('boss', boss).then(() => fork(process.argv[1] as string, ['b', cluster], { execArgv: process.execArgv }));
  });
} else {
  await new Promise<void>((resolve) => {
    let greeted = false;
    // a's members and names arrive as the first thing on its stream to this node: greet once they are here.
    const greet = (): void => {
      if (greeted || whereisGlobal('boss') === undefined || pg.members('workers').length < 2) return;
      greeted = true;
      send({ global: 'boss' }, `hello from ${node.name}`);
      resolve();
    };
    spawn(greet, {
      init: () => {
        pg.join('workers');
        pg.monitor('workers'); // a join or leave anywhere: { type: 'group', event, ref, scope, group, pids }
        greet();
      },
    });
  });
}
await node.stop();
