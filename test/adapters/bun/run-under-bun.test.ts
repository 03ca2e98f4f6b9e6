/**
 * Runs the Bun adapter's tests under Bun itself: vitest runs on Node, where
 * `Bun.serve` does not exist, so this file starts Bun's test runner (the `bun`
 * devDependency) on `bun.conformance.ts` (the shared conformance suite),
 * `bun.specifics.ts` (what only the Bun adapter does), `bun.admission.ts`
 * (admission and telemetry) and the `*.bun.ts` files of what runs on it (the
 * observer, the test kit), reads its JUnit report, and prints Bun's output when
 * anything is off.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BUN = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'bun.exe' : 'bun');
const RUN_TIMEOUT_MS = 300_000;


interface BunRun {
  readonly exitCode: number | null;
  readonly output: string;
  readonly passed: string[];
  readonly failed: string[];
}

const scratch = mkdtempSync(path.join(tmpdir(), 'beamsock-bun-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** `bun test ./file` with a JUnit report; resolves with its exit code, output and per-test results. */
function bunTest(file: string): Promise<BunRun> {
  const report = path.join(scratch, `${path.basename(file)}.xml`);
  return new Promise((resolve, reject) => {
    const child = spawn(BUN, ['test', '--reporter=junit', `--reporter-outfile=${report}`, `./${file}`], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (exitCode) => {
      let xml = '';
      try {
        xml = readFileSync(report, 'utf8');
      } catch {
        // No report: Bun failed before running tests; the output says why.
      }
      resolve({ exitCode, output, ...results(xml) });
    });
  });
}

/** Test names that passed and failed, from a JUnit report. */
function results(xml: string): { passed: string[]; failed: string[] } {
  const passed: string[] = [];
  const failed: string[] = [];
  const testcase = /<testcase name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of xml.matchAll(testcase)) {
    const name = unescapeXml(m[1] as string);
    const body = m[3] ?? '';
    if (body.includes('<failure') || body.includes('<error')) failed.push(name);
    else if (!body.includes('<skipped')) passed.push(name);
  }
  return { passed, failed };
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e] as string);
}

/** Bun's own output, appended to an assertion's message so a failure shows what Bun printed. */
function withOutput(run: BunRun): string {
  return `bun exited with ${String(run.exitCode)}; its output:\n${run.output}`;
}

describe('the Bun adapter under Bun', () => {
  it(
    'passes the conformance suite (its known differences asserted as what Bun does instead)',
    async () => {
      const run = await bunTest('test/adapters/bun/bun.conformance.ts');
      expect(run.failed, withOutput(run)).toEqual([]);
      expect(run.passed.length, withOutput(run)).toBeGreaterThan(100);
      expect(run.exitCode, withOutput(run)).toBe(0);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'passes its own tests',
    async () => {
      const run = await bunTest('test/adapters/bun/bun.specifics.ts');
      expect(run.failed, withOutput(run)).toEqual([]);
      expect(run.passed.length, withOutput(run)).toBeGreaterThan(10);
      expect(run.exitCode, withOutput(run)).toBe(0);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'passes the admission and telemetry tests (deflate offers, authorize, plain telemetry)',
    async () => {
      const run = await bunTest('test/adapters/bun/bun.admission.ts');
      expect(run.failed, withOutput(run)).toEqual([]);
      expect(run.passed.length, withOutput(run)).toBeGreaterThan(10);
      expect(run.exitCode, withOutput(run)).toBe(0);
    },
    RUN_TIMEOUT_MS,
  );
});

describe('beamsock on Bun, beyond the adapter', () => {
  for (const [what, file, atLeast] of [
    ['the observer mounted on serve()', 'test/observer/mount.bun.ts', 8],
    ["the test kit's startServer with the Bun adapter", 'test/testing/server.bun.ts', 3],
  ] as const) {
    it(
      `${what} passes its tests under Bun`,
      async () => {
        const run = await bunTest(file);
        expect(run.failed, withOutput(run)).toEqual([]);
        expect(run.passed.length, withOutput(run)).toBeGreaterThanOrEqual(atLeast);
        expect(run.exitCode, withOutput(run)).toBe(0);
      },
      RUN_TIMEOUT_MS,
    );
  }
});
