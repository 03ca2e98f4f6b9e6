/**
 * Real headless Chromium for the browser tests: the Debian package at
 * /usr/bin/chromium driven by playwright-core, a fresh profile in a short
 * temporary path, screenshots kept in test-artifacts/browser.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { startDemo, type Demo, type DemoOptions } from '../../examples/demo/app.js';

export const CHROMIUM = '/usr/bin/chromium';
export const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ARTIFACTS = resolve('test-artifacts/browser');

export interface Browser {
  readonly context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** Launches Chromium; throws, saying how to install it, when it is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}: install the Debian package with 'apt-get install -y chromium' (.ci/run installs it)`);
  }
  // Short, because Chromium's profile lock is a Unix socket whose path has a length limit.
  const profile = mkdtempSync('/tmp/bsc-');
  try {
    // Playwright passes the profile as --user-data-dir; it refuses that flag in `args`.
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1440, height: 1000 },
    });
    return {
      context,
      newPage: () => context.newPage(),
      async close() {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
}

/** Saves a full-page screenshot as test-artifacts/browser/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Opens the demo's chat page and joins `room` as `username`. */
export async function joinChat(browser: Browser, baseUrl: string, room: string, username: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${baseUrl}/`);
  await page.fill('#room', room);
  await page.fill('#username', username);
  await page.click('#connect');
  await page.waitForSelector(`body[data-connected="${room}"]`);
  return page;
}

/** Sends a chat message from `page`. */
export async function say(page: Page, text: string): Promise<void> {
  await page.fill('#message', text);
  await page.press('#message', 'Enter');
}

/**
 * Starts the demo on a free port of 127.0.0.1 and Chromium before the file's
 * tests, and stops both after them. Read the fields inside tests.
 */
export function demoInChromium(opts: DemoOptions = {}): { readonly demo: Demo; readonly browser: Browser } {
  const env = {} as { demo: Demo; browser: Browser };
  beforeAll(async () => {
    env.demo = await startDemo({ ...opts, port: 0, host: '127.0.0.1' });
    env.browser = await launchChromium();
  });
  afterAll(async () => {
    await env.browser?.close();
    await env.demo?.close(2_000);
  });
  return env;
}
