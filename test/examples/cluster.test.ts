/**
 * `npm run example:cluster`: two nodes over NATS, then over Redis. A chat message
 * sent on one node reaches a client of the same room on the other, the observer
 * on each node lists both nodes, and SIGTERM stops the launcher and both nodes.
 */
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ObserverClient } from '../observer/observer-client.js';
import { Launched } from './launched.js';

// Three tsx processes and two broker connections on a loaded machine.
const START_TIMEOUT_MS = 90_000;

let launched: Launched | undefined;
afterEach(() => {
  // A test that failed midway leaves the launcher and its nodes: end them all.
  launched?.killGroup();
  launched = undefined;
});

function listen(port: number): Promise<ReturnType<typeof createServer> | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(null));
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

/** A port p with p+1 free too (the launcher takes PORT and PORT+1). */
async function twoFreePorts(): Promise<number> {
  for (;;) {
    const first = await listen(0);
    if (first === null) continue;
    const port = (first.address() as AddressInfo).port;
    const second = port < 65535 ? await listen(port + 1) : null;
    await new Promise((resolve) => first.close(resolve));
    if (second !== null) {
      await new Promise((resolve) => second.close(resolve));
      return port;
    }
  }
}

/** Starts the launcher; resolves with both nodes' URLs once it prints them. */
async function startCluster(transport: 'nats' | 'redis', port: number): Promise<[string, string]> {
  const cluster = Launched.start(['--conditions=beamsock-source', '--import', 'tsx', 'examples/cluster/main.ts'], { TRANSPORT: transport, PORT: String(port), HOST: '127.0.0.1' });
  launched = cluster;
  const [, one, two] = await cluster.printed(/chat-1: (http:\/\/\S+?)\/[^]*chat-2: (http:\/\/\S+?)\//);
  return [one as string, two as string];
}

const ws = (url: string): string => url.replace('http:', 'ws:');

/** The next chat message a client receives: joins may arrive first, in either order across nodes. */
async function nextChat(client: ObserverClient): Promise<unknown> {
  for (;;) {
    const m = JSON.parse(await client.client.text()) as { type: string };
    if (m.type === 'chat') return m;
  }
}

describe('the cluster example (npm run example:cluster)', () => {
  for (const transport of ['nats', 'redis'] as const) {
    it(
      `TRANSPORT=${transport}: a chat message crosses nodes, each observer lists both nodes, SIGTERM stops all`,
      async () => {
        const port = await twoFreePorts();
        const urls = await startCluster(transport, port);
        expect(urls).toEqual([`http://127.0.0.1:${port}`, `http://127.0.0.1:${port + 1}`]);
        expect(await (await fetch(`${urls[1]}/`)).text()).toContain('<html');

        const ada = await ObserverClient.open(ws(urls[0]), '/chat?room=lobby&username=ada');
        const bob = await ObserverClient.open(ws(urls[1]), '/chat?room=lobby&username=bob');
        // Bob's join crossing to ada's node says bob's subscription is in place on his
        // (ada's own join may still reach bob: it crossed while he subscribed).
        expect(JSON.parse(await ada.client.text())).toEqual({ type: 'join', from: 'bob' });
        ada.client.send(JSON.stringify({ type: 'chat', content: 'hello from chat-1' }));
        expect(await nextChat(ada)).toEqual({ type: 'chat', from: 'ada', content: 'hello from chat-1' });
        expect(await nextChat(bob)).toEqual({ type: 'chat', from: 'ada', content: 'hello from chat-1' });

        for (const [url, self] of [
          [urls[0], 'chat-1'],
          [urls[1], 'chat-2'],
        ] as const) {
          const page = await ObserverClient.open(ws(url));
          expect((await page.next('hello')).node).toBe(self);
          const snap = await page.snapshotWhere((m) => m.summary.nodes.length === 2);
          expect(snap.summary.nodes).toEqual([self, self === 'chat-1' ? 'chat-2' : 'chat-1']);
          expect((await fetch(`${url}/observer`)).status).toBe(200);
          page.close();
        }

        const cluster = launched as Launched;
        cluster.proc.kill('SIGTERM');
        expect(await cluster.exited, cluster.output()).toBe(0);
        expect((await ada.client.closeSeen()).code).toBe(1001);
        expect((await bob.client.closeSeen()).code).toBe(1001);
      },
      START_TIMEOUT_MS * 2,
    );
  }
});
