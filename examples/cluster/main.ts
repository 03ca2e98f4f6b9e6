/**
 * The chat demo on two nodes: `npm run example:cluster` forks `chat-1` on `PORT`
 * (default 4000) and `chat-2` on `PORT+1`, joined over NATS on 127.0.0.1:4222, or
 * over Redis on 127.0.0.1:6379 with `TRANSPORT=redis`. Open one node's page in a
 * tab and the other's in a second tab, same room: a message sent in one appears in
 * the other. `/observer` on either node lists both nodes. Ctrl-C stops both.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const port = Number(process.env['PORT'] ?? 4000);
const transport = process.env['TRANSPORT'] ?? 'nats';
if (!Number.isInteger(port) || port < 1 || port > 65534) throw new TypeError(`PORT must be a port number below 65535, got ${JSON.stringify(process.env['PORT'])}`);
if (transport !== 'nats' && transport !== 'redis') throw new TypeError(`TRANSPORT must be 'nats' or 'redis', got ${JSON.stringify(transport)}`);
// Unique per launch, so that a run never meets the nodes of another on a shared broker.
const cluster = `chat-${randomUUID().slice(0, 8)}`;
const nodeScript = fileURLToPath(new URL('./node.ts', import.meta.url));

function start(name: string, nodePort: number): { child: ChildProcess; url: Promise<string> } {
  const child = fork(nodeScript, [], {
    execArgv: process.execArgv,
    env: { ...process.env, NODE_NAME: name, CLUSTER: cluster, TRANSPORT: transport, PORT: String(nodePort) },
  });
  const url = new Promise<string>((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve(m.url));
    child.once('exit', (code) => reject(new Error(`node ${name} exited with code ${String(code)} before listening`)));
  });
  return { child, url };
}

const nodes = [start('chat-1', port), start('chat-2', port + 1)];
const exited = nodes.map(({ child }) => new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))));

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  for (const { child } of nodes) if (child.exitCode === null) child.kill('SIGTERM');
  void Promise.all(exited).then((codes) => process.exit(codes.every((c) => c === 0) ? 0 : 1));
}
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
// One node gone on its own takes the example down: half a cluster is no demo.
void Promise.race(exited).then(stop);

try {
  const [url1, url2] = await Promise.all(nodes.map((n) => n.url));
  console.log(`beamsock cluster '${cluster}' over ${transport}:`);
  console.log(`  chat-1: ${url1 ?? ''}/  (observer ${url1 ?? ''}/observer)`);
  console.log(`  chat-2: ${url2 ?? ''}/  (observer ${url2 ?? ''}/observer)`);
  console.log('open one in each tab, same room; Ctrl-C stops both');
} catch (e) {
  console.error(String(e));
  stop();
}
