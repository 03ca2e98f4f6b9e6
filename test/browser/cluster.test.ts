/**
 * `npm run example:cluster` in Chromium: a page on each node, same room, chat
 * with each other; the observer of either node names both nodes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startClusterExample, twoFreePorts, type Launched } from '../examples/launched.js';
import { joinChat, launchChromium, say, screenshot, type Browser } from './chromium.js';

let cluster: Launched | undefined;
let browser: Browser | undefined;
afterAll(async () => {
  await browser?.close();
  if (cluster !== undefined) {
    cluster.proc.kill('SIGTERM');
    await cluster.exited;
  }
});

describe('the cluster example in Chromium', () => {
  it('a message sent on chat-1 appears on chat-2, and each observer shows both nodes', { timeout: 180_000 }, async () => {
    const started = startClusterExample('nats', await twoFreePorts());
    cluster = started;
    const [one, two] = await started.urls;
    browser = await launchChromium();
    const ada = await joinChat(browser, one, 'lobby', 'ada');
    const bob = await joinChat(browser, two, 'lobby', 'bob');
    // Bob's join reaching ada's page says his subscription on chat-2 is in place.
    await expect.poll(() => ada.locator('#log').textContent()).toContain('bob joined');

    await say(ada, 'hello across nodes');
    await expect.poll(() => bob.locator('#log').textContent()).toContain('ada: hello across nodes');
    await say(bob, 'and back');
    await expect.poll(() => ada.locator('#log').textContent()).toContain('bob: and back');
    await screenshot(ada, 'cluster-chat-1-ada');
    await screenshot(bob, 'cluster-chat-2-bob');

    for (const [url, nodes] of [
      [one, 'Nodes: chat-1, chat-2'],
      [two, 'Nodes: chat-2, chat-1'],
    ] as const) {
      const observer = await browser.newPage();
      await observer.goto(`${url}/observer`);
      await expect.poll(() => observer.locator('#nodes').textContent()).toBe(nodes);
      expect(await observer.locator('#nodes').isVisible()).toBe(true);
      await screenshot(observer, `cluster-observer-${nodes.slice(7, 13)}`);
      await observer.close();
    }
  });
});
