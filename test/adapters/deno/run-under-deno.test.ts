/**
 * Runs the Deno adapter's tests under Deno itself: this vitest runs on Node,
 * where `Deno.serve` does not exist, so it starts vitest again under Deno (the
 * `deno` devDependency runs vitest's own CLI, whose test workers are then Deno
 * processes) on `deno.conformance.ts` (the shared conformance suite) and
 * `deno.specifics.ts` (what only the Deno adapter does), and the observer
 * mounted on Deno's `serve` (`test/observer/mount.deno.ts`), reads its JSON report,
 * and prints Deno's output when anything is off.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DENO = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'deno.exe' : 'deno');
const VITEST = path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const CONFIG = 'test/adapters/deno/vitest.deno.config.ts';
const RUN_TIMEOUT_MS = 600_000;

interface DenoRun {
  readonly exitCode: number | null;
  readonly output: string;
  readonly passed: string[];
  readonly failed: string[];
}

interface JsonReport {
  readonly testResults?: readonly { readonly assertionResults?: readonly { readonly fullName: string; readonly status: string }[] }[];
}

const scratch = mkdtempSync(path.join(tmpdir(), 'beamsock-deno-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** vitest under Deno on one file, with a JSON report; resolves with its exit code, output and per-test results. */
function denoVitest(file: string): Promise<DenoRun> {
  const report = path.join(scratch, `${path.basename(file)}.json`);
  return new Promise((resolve, reject) => {
    const child = spawn(DENO, ['run', '-A', VITEST, 'run', '--config', CONFIG, '--reporter=json', `--outputFile=${report}`, file], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (exitCode) => {
      let json: JsonReport = {};
      try {
        json = JSON.parse(readFileSync(report, 'utf8')) as JsonReport;
      } catch {
        // No report: vitest failed before running tests; the output says why.
      }
      const passed: string[] = [];
      const failed: string[] = [];
      for (const file of json.testResults ?? []) {
        for (const t of file.assertionResults ?? []) (t.status === 'passed' ? passed : failed).push(t.fullName);
      }
      resolve({ exitCode, output, passed, failed });
    });
  });
}

/** Deno's own output, appended to an assertion's message so a failure shows what it printed. */
function withOutput(run: DenoRun): string {
  return `vitest under deno exited with ${String(run.exitCode)}; its output:\n${run.output}`;
}

describe('the Deno adapter under Deno', () => {
  it(
    'passes the conformance suite (its known differences asserted as what Deno does instead)',
    async () => {
      const run = await denoVitest('test/adapters/deno/deno.conformance.ts');
      expect(run.failed, withOutput(run)).toEqual([]);
      expect(run.passed.length, withOutput(run)).toBeGreaterThan(100);
      expect(run.exitCode, withOutput(run)).toBe(0);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'passes its own tests',
    async () => {
      const run = await denoVitest('test/adapters/deno/deno.specifics.ts');
      expect(run.failed, withOutput(run)).toEqual([]);
      expect(run.passed.length, withOutput(run)).toBeGreaterThan(5);
      expect(run.exitCode, withOutput(run)).toBe(0);
    },
    RUN_TIMEOUT_MS,
  );
});

describe('beamsock on Deno, beyond the adapter', () => {
  it(
    'the observer mounted on serve() passes its tests under Deno',
    async () => {
      const run = await denoVitest('test/observer/mount.deno.ts');
      expect(run.failed, withOutput(run)).toEqual([]);
      expect(run.passed.length, withOutput(run)).toBeGreaterThanOrEqual(8);
      expect(run.exitCode, withOutput(run)).toBe(0);
    },
    RUN_TIMEOUT_MS,
  );
});
