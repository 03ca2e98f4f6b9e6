import { describe, expect, it } from 'vitest';
import { demoInChromium, joinChat, say, screenshot } from './chromium.js';

const env = demoInChromium();

describe('the demo chat in Chromium', () => {
  it('two pages in room A chat with each other, and a page in room B sees none of it', async () => {
    const { browser, demo } = env;
    const alice = await joinChat(browser, demo.url, 'A', 'alice');
    const bob = await joinChat(browser, demo.url, 'A', 'bob');
    const carol = await joinChat(browser, demo.url, 'B', 'carol');
    const log = (page: typeof alice) => page.locator('#log');

    await expect.poll(() => log(alice).textContent()).toContain('bob joined');

    await say(alice, 'hello from alice');
    await expect.poll(() => log(bob).textContent()).toContain('alice: hello from alice');
    await expect.poll(() => log(alice).textContent()).toContain('alice: hello from alice');

    await say(carol, 'hello from carol');
    await expect.poll(() => log(carol).textContent()).toContain('carol: hello from carol');
    // Carol's broadcast left her process before her own echo did, and reached
    // room A's mailboxes (if at all) before this message: once bob sees it,
    // anything from room B would already be on both room-A pages.
    await say(alice, 'second from alice');
    await expect.poll(() => log(bob).textContent()).toContain('alice: second from alice');

    expect(await log(carol).textContent()).not.toContain('alice');
    expect(await log(carol).textContent()).not.toContain('bob');
    expect(await log(alice).textContent()).not.toContain('carol');
    expect(await log(bob).textContent()).not.toContain('carol');

    await screenshot(alice, 'chat-room-a-alice');
    await screenshot(bob, 'chat-room-a-bob');
    await screenshot(carol, 'chat-room-b-carol');
  });
});
