/**
 * A program that closes its server exits by itself: after `close()` resolves, no
 * beamsock timer, interval, socket or process keeps it alive. Each fixture in
 * `exits/` serves, connects a client, closes, and prints "closed <codes>"; it
 * must then exit within 2 s, on Node and on Bun.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE = [process.execPath, '--conditions=beamsock-source', '--import', 'tsx'];
const BUN = [path.join(ROOT, 'node_modules', '.bin', 'bun')];
/** From "closed" to the process's exit. */
const EXIT_WITHIN_MS = 2_000;
/** Starting tsx or bun on a loaded machine takes its time; only the exit is measured. */
const RUN_TIMEOUT_MS = 60_000;

interface Run {
  readonly code: number | null;
  readonly output: string;
  /** Milliseconds from the "closed" line to the exit; undefined if it never printed it. */
  readonly exitAfterMs: number | undefined;
}

function run(command: readonly string[], fixture: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const [bin, ...args] = command as [string, ...string[]];
    const child = spawn(bin, [...args, `test/adapters/exits/${fixture}`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let closedAt: number | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (closedAt === undefined && /^closed/m.test(output)) closedAt = performance.now();
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output, exitAfterMs: closedAt === undefined ? undefined : performance.now() - closedAt }));
  });
}

async function expectPromptExit(command: readonly string[], fixture: string, codes: string): Promise<void> {
  const r = await run(command, fixture);
  expect(r.output.trim(), r.output).toBe(`closed ${codes}`);
  expect(r.code, r.output).toBe(0);
  expect(r.exitAfterMs).toBeLessThan(EXIT_WITHIN_MS);
}

describe('a closed server lets its process exit', () => {
  it.concurrent('ws serve(), with the observer mounted and open: exits within 2 s of close()', () => expectPromptExit(NODE, 'ws-serve.ts', '1001 1001'), RUN_TIMEOUT_MS);

  it.concurrent('ws upgrade() users: exits within 2 s of stopping the default supervisor and the HTTP server', () => expectPromptExit(NODE, 'ws-upgrade.ts', '1001'), RUN_TIMEOUT_MS);

  it.concurrent('ws attach() users: exits within 2 s of closing the HTTP server', () => expectPromptExit(NODE, 'ws-attach.ts', '1001'), RUN_TIMEOUT_MS);

  it.concurrent('Bun serve(), with the observer mounted and open: exits within 2 s of close()', () => expectPromptExit(BUN, 'bun-serve.ts', '1001 1001'), RUN_TIMEOUT_MS);

  it.concurrent('Bun createBunHandler() users: exits within 2 s of closeConnections() and stop()', () => expectPromptExit(BUN, 'bun-handler.ts', '1001'), RUN_TIMEOUT_MS);
});
