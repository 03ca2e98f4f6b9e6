// examples/readme/cluster.ts — node a here, node b forked; both over NATS on 127.0.0.1:4222
import { fork } from 'node:child_process';
import { Pid, send, spawn } from 'beamsock';
import { connectNats, startNode } from 'beamsock/cluster';

const [name = 'a', cluster = `readme-${process.pid}`, inboxJson] = process.argv.slice(2);
const node = await startNode({ name, cluster, transport: await connectNats() });

if (name === 'a') {
  await new Promise<void>((resolve) => {
    const inbox = spawn((msg: { text: string; from: Pid; at: Date }) => {
      console.log(`a got "${msg.text}" from ${String(msg.from)}, sent at ${msg.at.toISOString()}`);
      resolve();
    });
    // The pid crosses as JSON ({ node, serial, creation }) and comes back with Pid.from.
    fork(process.argv[1] as string, ['b', cluster, JSON.stringify(inbox)], { execArgv: process.execArgv });
  });
} else {
  const me = spawn(() => {});
  send(Pid.from(JSON.parse(inboxJson as string)), { text: 'hello', from: me, at: new Date() });
}
await node.stop(); // waits for what it sent to be acknowledged, then leaves
