/**
 * `npm run example:cluster`: two nodes over NATS, then over Redis. A chat message
 * sent on one node reaches a client of the same room on the other, the observer
 * on each node lists both nodes, and SIGTERM stops the launcher and both nodes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ObserverClient } from '../observer/observer-client.js';
import { Launched, startClusterExample, twoFreePorts } from './launched.js';

// Three tsx processes and two broker connections on a loaded machine.
const START_TIMEOUT_MS = 90_000;

let launched: Launched | undefined;
afterEach(() => {
  // A test that failed midway leaves the launcher and its nodes: end them all.
  launched?.killGroup();
  launched = undefined;
});

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
        const cluster = startClusterExample(transport, port);
        launched = cluster;
        const urls = await cluster.urls;
        expect(urls).toEqual([`http://127.0.0.1:${port}`, `http://127.0.0.1:${port + 1}`]);
        expect(await (await fetch(`${urls[1]}/`)).text()).toContain('<html');

        const ada = await ObserverClient.open(ws(urls[0]), '/chat?room=lobby&username=ada');
        const bob = await ObserverClient.open(ws(urls[1]), '/chat?room=lobby&username=bob');
        // A node routes the room to the other once it has heard of the other's subscriber, a
        // broker hop after the join (README, Cluster): ada says her line until bob has it.
        const say = (): void => ada.client.send(JSON.stringify({ type: 'chat', content: 'hello from chat-1' }));
        say();
        const again = setInterval(say, 250);
        try {
          expect(await nextChat(bob)).toEqual({ type: 'chat', from: 'ada', content: 'hello from chat-1' });
        } finally {
          clearInterval(again);
        }
        expect(await nextChat(ada)).toEqual({ type: 'chat', from: 'ada', content: 'hello from chat-1' });

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

        cluster.proc.kill('SIGTERM');
        expect(await cluster.exited, cluster.output()).toBe(0);
        expect((await ada.client.closeSeen()).code).toBe(1001);
        expect((await bob.client.closeSeen()).code).toBe(1001);
      },
      START_TIMEOUT_MS * 2,
    );
  }
});
