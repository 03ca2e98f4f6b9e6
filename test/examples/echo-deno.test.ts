/**
 * `SERVER=deno npm run example:echo` serves the echo example under Deno: the
 * launcher runs examples/echo/deno.ts with the `deno` devDependency, resolving
 * `beamsock/deno` to the sources, and it shuts down on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { TestClient, within } from '../conformance/client.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Starting Deno on a loaded machine takes its time. */
const START_MS = 60_000;

const children: ChildProcess[] = [];
const clients: TestClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.ws.terminate();
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** A port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

describe('SERVER=deno npm run example:echo', () => {
  it(
    'serves the echo example under Deno (any path echoes, /echo-server answers ping) and stops on SIGTERM',
    async () => {
      const port = await freePort();
      const child = spawn(process.execPath, ['scripts/start.mjs', 'examples/echo/main.ts', '--bun', 'examples/echo/bun.ts', '--deno', 'examples/echo/deno.ts'], {
        cwd: ROOT,
        env: { ...process.env, SERVER: 'deno', PORT: String(port), NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let output = '';
      const listening = new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('listening')) resolve();
        });
        child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.once('exit', (code) => reject(new Error(`the example exited with ${String(code)} before listening:\n${output}`)));
      });
      await within(listening, 'the example to listen', START_MS);
      expect(output).toContain(`on Deno listening on ws://127.0.0.1:${port}/`);

      const url = `ws://127.0.0.1:${port}`;
      const echo = new TestClient(url, { path: '/anything' });
      const readme = new TestClient(url, { path: '/echo-server' });
      clients.push(echo, readme);
      await Promise.all([echo.opened, readme.opened]);
      echo.send('same back');
      echo.send(Buffer.from([1, 2, 3]));
      expect(await echo.text()).toBe('same back');
      expect((await echo.next('binary')).data).toEqual(Buffer.from([1, 2, 3]));
      readme.send('ping');
      expect(await readme.text()).toBe('pong');

      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect((await echo.closeSeen()).code).toBe(1001);
      expect(await within(exited, 'the example to exit', START_MS)).toBe(0);
    },
    3 * START_MS,
  );
});
