/**
 * `npm start` on each server: the demo's chat page, its chat socket and the
 * observer (page and socket), then a graceful exit on SIGTERM.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ObserverClient } from '../observer/observer-client.js';
import { Launched } from './launched.js';

// Starting tsx or Bun on a loaded machine takes a while.
const START_TIMEOUT_MS = 60_000;

let launched: Launched | undefined;
afterEach(() => {
  // A test that failed midway leaves the launcher and the demo it started: end both.
  launched?.killGroup();
  launched = undefined;
});

/** Runs `npm start`'s script with `SERVER=server` on a free port; resolves with the URL it prints. */
async function startDemo(server: 'ws' | 'bun'): Promise<{ url: string; output: () => string }> {
  const demo = Launched.start(['scripts/start.mjs', 'examples/demo/main.ts'], { SERVER: server, PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'development' });
  launched = demo;
  const m = await demo.printed(/open (http:\/\/\S+?)\/ in two tabs/);
  return { url: m[1] as string, output: () => demo.output() };
}

describe('the demo (npm start)', () => {
  for (const server of ['ws', 'bun'] as const) {
    it(
      `SERVER=${server}: serves the chat and the observer, and exits cleanly on SIGTERM`,
      async () => {
        const { url, output } = await startDemo(server);
        expect(await (await fetch(`${url}/`)).text()).toContain('<html');
        const observerPage = await fetch(`${url}/observer`);
        expect(observerPage.status, output()).toBe(200);
        expect(await observerPage.text()).toContain('const SOCKET_PATH = "/observer/ws";');
        const plainChat = await fetch(`${url}/chat`);
        expect([plainChat.status, plainChat.headers.get('upgrade')]).toEqual([426, 'websocket']);

        const page = await ObserverClient.open(url.replace('http:', 'ws:'));
        await page.next('hello');
        const chat = await ObserverClient.open(url.replace('http:', 'ws:'), '/chat?room=lobby&username=ann');
        const snap = await page.snapshotWhere((m) => m.page.rows.some((r) => r.kind === 'connection' && r.label?.startsWith('/chat') === true));
        expect(snap.summary.runtime.memory.heapUsed).toBeGreaterThan(0);

        const demo = launched as Launched;
        demo.proc.kill('SIGTERM');
        expect(await demo.exited, output()).toBe(0);
        expect((await page.client.closeSeen()).code).toBe(1001);
        expect((await chat.client.closeSeen()).code).toBe(1001);
      },
      START_TIMEOUT_MS * 2,
    );
  }
});
