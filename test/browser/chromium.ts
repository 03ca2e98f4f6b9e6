/**
 * Real headless Chromium for the browser tests, driven by playwright-core: the
 * one shipped inside the @sparticuz/chromium npm package (so `npm install`
 * alone is enough), else a system Chromium. A fresh profile in a short
 * temporary path; screenshots kept in test-artifacts/browser.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { startDemo, type Demo, type DemoOptions } from '../../examples/demo/app.js';

/** Where a system Chromium is looked for when the packaged one cannot start (Debian's package). */
const SYSTEM_CHROMIUM = '/usr/bin/chromium';
// Headless as root in a container; with the network closed, nothing may make Chromium reach out on its own.
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
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Unpacking 200 MB, then launching, on a loaded machine takes far longer than a test hook's default.
const START_TIMEOUT_MS = 300_000;

export interface Browser {
  readonly context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** A Chromium executable and the environment it needs. */
interface Executable {
  readonly path: string;
  readonly env: Record<string, string | undefined>;
}

/**
 * Unpacks @sparticuz/chromium's brotli-packed Chromium (and its fonts) once per
 * package version into a cache under the temporary directory. The package
 * always unpacks into `os.tmpdir()`, and returns early when a `chromium` file
 * merely exists there, so a child process unpacks into a fresh directory that
 * is renamed into place only when complete: test files starting at once, here
 * or in another checkout, never see half a binary.
 */
async function packagedChromium(): Promise<Executable> {
  if (platform() !== 'linux' || arch() !== 'x64') throw new Error(`@sparticuz/chromium ships Chromium for linux-x64 only, not ${platform()}-${arch()}`);
  const main = createRequire(import.meta.url).resolve('@sparticuz/chromium');
  const { version } = JSON.parse(readFileSync(join(dirname(main), '../../package.json'), 'utf8')) as { version: string };
  const cache = join(tmpdir(), `beamsock-chromium-${version}`);
  const executable = { path: join(cache, 'chromium'), env: { ...process.env, FONTCONFIG_FILE: join(cache, 'fonts.conf') } };
  if (existsSync(executable.path)) return executable;

  const staging = mkdtempSync(`${cache}-unpacking-`);
  try {
    const unpack = "const { default: c } = await import('@sparticuz/chromium'); process.stdout.write(await c.executablePath());";
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', unpack], { cwd: ROOT, env: { ...process.env, TMPDIR: staging } });
    if (stdout !== join(staging, 'chromium')) throw new Error(`@sparticuz/chromium unpacked to ${stdout}, not into ${staging}`);
    // The package's own fonts.conf names Lambda's paths; this one adds its fonts
    // to the system's, so screenshots show text even where no font is installed.
    writeFileSync(
      join(staging, 'fonts.conf'),
      `<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <dir>${join(cache, 'fonts')}</dir>
  <cachedir>${join(cache, 'fonts-cache')}</cachedir>
</fontconfig>
`,
    );
    renameSync(staging, cache);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    // Another process finished first: its copy is as good as ours.
    if (!existsSync(executable.path)) throw err;
  }
  return executable;
}

async function systemChromium(): Promise<Executable> {
  if (!existsSync(SYSTEM_CHROMIUM)) throw new Error(`no Chromium at ${SYSTEM_CHROMIUM}`);
  return { path: SYSTEM_CHROMIUM, env: process.env };
}

async function launchFrom(executable: Executable, profile: string): Promise<BrowserContext> {
  // Playwright passes the profile as --user-data-dir; it refuses that flag in `args`.
  return chromium.launchPersistentContext(profile, {
    executablePath: executable.path,
    env: executable.env,
    headless: true,
    args: FLAGS,
    viewport: { width: 1440, height: 1000 },
  });
}

/**
 * Launches the packaged Chromium, else the system one; throws, naming why each
 * failed, when none starts, so the browser tests fail rather than skip.
 */
export async function launchChromium(): Promise<Browser> {
  // Short, because Chromium's profile lock is a Unix socket whose path has a length limit.
  const profile = mkdtempSync('/tmp/bsc-');
  const failures: string[] = [];
  for (const [name, find] of [
    ['@sparticuz/chromium', packagedChromium],
    [SYSTEM_CHROMIUM, systemChromium],
  ] as const) {
    try {
      const context = await launchFrom(await find(), profile);
      return {
        context,
        newPage: () => context.newPage(),
        async close() {
          await context.close();
          rmSync(profile, { recursive: true, force: true });
        },
      };
    } catch (err) {
      failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  rmSync(profile, { recursive: true, force: true });
  throw new Error(`no Chromium could start for the browser tests (run 'npm install' to get @sparticuz/chromium):\n${failures.join('\n')}`);
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
 * tests, and stops both after them. Read the fields inside tests: when either
 * could not start, reading them throws why, so every test fails (a failed
 * `beforeAll` would only mark them skipped).
 */
export function demoInChromium(opts: DemoOptions = {}): { readonly demo: Demo; readonly browser: Browser } {
  const env: { demo?: Demo; browser?: Browser; failure?: unknown } = {};
  beforeAll(async () => {
    try {
      env.demo = await startDemo({ ...opts, port: 0, host: '127.0.0.1' });
      env.browser = await launchChromium();
    } catch (err) {
      env.failure = err;
    }
  }, START_TIMEOUT_MS);
  afterAll(async () => {
    await env.browser?.close();
    await env.demo?.close(2_000);
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw env.failure;
    return value;
  };
  return {
    get demo() {
      return started(env.demo);
    },
    get browser() {
      return started(env.browser);
    },
  };
}
