import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { demoInChromium, screenshot, type Browser } from './chromium.js';

const env = demoInChromium();

async function joinRoom(browser: Browser, baseUrl: string, room: string, user: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${baseUrl}/channels`);
  await page.fill('#room', room);
  await page.fill('#user', user);
  await page.click('#join');
  await page.waitForSelector(`body[data-joined="${room}"]`);
  return page;
}

describe('the demo Channels page in Chromium (the official phoenix client)', () => {
  it('two pages in a room chat through new_msg broadcasts and see each other online; a page in another room sees none of it', async () => {
    const { browser, demo } = env;
    const ada = await joinRoom(browser, demo.url, 'lobby', 'ada');
    const bob = await joinRoom(browser, demo.url, 'lobby', 'bob');
    const eve = await joinRoom(browser, demo.url, 'elsewhere', 'eve');
    const online = (page: Page) => page.locator('#online').textContent();
    const log = (page: Page) => page.locator('#log').textContent();

    await expect.poll(() => online(ada)).toBe('adabob');
    await expect.poll(() => online(bob)).toBe('adabob');
    await expect.poll(() => online(eve)).toBe('eve');

    await ada.fill('#body', 'hello from ada');
    await ada.press('#body', 'Enter');
    await expect.poll(() => log(bob)).toContain('ada: hello from ada');
    await expect.poll(() => log(ada)).toContain('ada: hello from ada');
    await screenshot(bob, 'channels-lobby');

    await bob.close();
    await expect.poll(() => online(ada)).toBe('ada');
    expect(await log(eve)).not.toContain('hello from ada');
  });
});
