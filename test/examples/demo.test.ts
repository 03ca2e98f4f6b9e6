/**
 * `npm start` on each server: the demo's chat page, its chat socket and the
 * observer (page and socket), then a graceful exit on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ObserverClient } from '../observer/observer-client.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
// Starting tsx or Bun on a loaded machine takes a while.
const START_TIMEOUT_MS = 60_000;

let child: ChildProcess | undefined;
afterEach(() => {
  // A test that failed midway leaves the launcher and the demo it started: end both, by their group.
  if (child?.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  child = undefined;
});

/** Runs `npm start`'s script with `SERVER=server` on a free port; resolves with the URL it prints. */
function startDemo(server: 'ws' | 'bun'): Promise<{ url: string; output: () => string }> {
  const proc = spawn(process.execPath, ['scripts/start.mjs', 'examples/demo/main.ts'], {
    cwd: root,
    env: { ...process.env, SERVER: server, PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'development' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child = proc;
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const m = /open (http:\/\/\S+?)\/ in two tabs/.exec(output);
      if (m !== null) resolve({ url: m[1] as string, output: () => output });
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`the demo exited with ${String(code)} before listening:\n${output}`)));
  });
}

function exited(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) resolve(proc.exitCode);
    else proc.once('exit', (code) => resolve(code));
  });
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

        const proc = child as ChildProcess;
        proc.kill('SIGTERM');
        expect(await exited(proc), output()).toBe(0);
        expect((await page.client.closeSeen()).code).toBe(1001);
        expect((await chat.client.closeSeen()).code).toBe(1001);
      },
      START_TIMEOUT_MS * 2,
    );
  }
});
