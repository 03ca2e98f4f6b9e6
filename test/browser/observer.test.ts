import { describe, expect, it } from 'vitest';
import { DynamicSupervisor, setLogger, spawnLink, type Pid } from 'beamsock';
import { demoInChromium, joinChat, screenshot } from './chromium.js';

const TOKEN = 'browser-test-token';
const env = demoInChromium({ observerToken: TOKEN });

describe('the observer in Chromium', () => {
  it('refuses the page without the token', async () => {
    const { browser, demo } = env;
    const page = await browser.newPage();
    const response = await page.goto(`${demo.url}/observer`);
    expect(response?.status()).toBe(401);
    await page.close();
  });

  it('lists the two chat connections of room A, and one killed from its button disappears while its page sees the close', async () => {
    const { browser, demo } = env;
    const alice = await joinChat(browser, demo.url, 'A', 'alice');
    await joinChat(browser, demo.url, 'A', 'bob');

    const observer = await browser.newPage();
    await observer.goto(`${demo.url}/observer?token=${TOKEN}`);
    await observer.waitForSelector('#conn.live');
    const roomA = observer.locator('#rows tr:not([hidden])', { hasText: 'room=A' });
    await expect.poll(() => roomA.count()).toBe(2);
    await expect.poll(() => observer.locator('#s-connections').textContent()).toBe('3'); // two chats and the observer itself
    // The charts have drawn at least one tick.
    await expect.poll(async () => Number(await observer.locator('body').getAttribute('data-ticks'))).toBeGreaterThanOrEqual(2);
    await screenshot(observer, 'observer-two-connections');

    const aliceRow = observer.locator('#rows tr:not([hidden])', { hasText: 'username=alice' });
    const alicePid = await aliceRow.getAttribute('data-pid');
    expect(alicePid).toMatch(/^#PID<0\.\d+>$/);
    await aliceRow.click();
    await expect.poll(() => observer.locator('#d-pid').textContent()).toBe(alicePid);
    await expect.poll(() => observer.locator('#d-list').textContent()).toContain('connection');
    await screenshot(observer, 'observer-details');

    expect(await observer.locator('#reason').inputValue()).toBe('kill');
    await observer.click('#kill');
    await expect.poll(() => observer.locator('#kill-result').textContent()).toContain('it has exited');
    await expect.poll(() => roomA.count()).toBe(1);
    expect(await observer.locator(`#rows tr[data-pid="${alicePid}"]`).count()).toBe(0);
    await expect.poll(() => alice.locator('#status').textContent()).toBe('disconnected (1006)'); // killed: the socket is cut, no close frame
    await screenshot(observer, 'observer-after-kill');
    await screenshot(alice, 'observer-killed-chat-page');
  });

  it('stays small with 10,000 processes: one page of rows, the big family as a count in the tree', async () => {
    const { browser, demo } = env;
    const sup = await DynamicSupervisor.start({ name: 'crowd' });
    const started: Promise<Pid | undefined>[] = [];
    for (let i = 0; i < 10_000; i++) started.push(DynamicSupervisor.startChild(sup, { start: () => spawnLink(() => undefined), restart: 'temporary' }));
    await Promise.all(started);

    const observer = await browser.newPage();
    await observer.goto(`${demo.url}/observer?token=${TOKEN}`);
    const group = observer.locator('#tree button.group', { hasText: '10,000 x worker' });
    await group.waitFor();
    expect(await observer.locator('#rows tr:not([hidden])').count()).toBe(50);
    // The page's size does not follow the process count.
    expect(await observer.locator('*').count()).toBeLessThan(1500);
    await screenshot(observer, 'observer-10000-processes');

    await group.click();
    await expect.poll(() => observer.locator('#pageinfo').textContent()).toBe('1-50 of 10,000 (page 1 of 200)');
    await observer.click('#next');
    await expect.poll(() => observer.locator('#pageinfo').textContent()).toBe('51-100 of 10,000 (page 2 of 200)');
    await screenshot(observer, 'observer-10000-page-2');

    const logger = setLogger(() => undefined);
    try {
      await DynamicSupervisor.stop(sup);
    } finally {
      setLogger(logger);
    }
  });
});
