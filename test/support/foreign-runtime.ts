/**
 * Runs test files under another runtime (Bun's test runner, vitest under Deno)
 * from this vitest on Node, and checks what that runner reported: the shared part
 * of `run-under-bun.test.ts` and `run-under-deno.test.ts`. Each of those says how
 * to start its runner and how to read its report.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect } from 'vitest';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** One run of a foreign test runner on one file. */
export interface ForeignRun {
  readonly exitCode: number | null;
  readonly output: string;
  readonly passed: readonly string[];
  readonly failed: readonly string[];
}

/** How to run one file under a runtime: its command line (given where to write the report) and how to read the report. */
export interface ForeignRunner {
  /** Names the runner in failure messages: 'bun', 'vitest under deno'. */
  readonly name: string;
  readonly reportExtension: string;
  command(file: string, report: string): readonly [command: string, args: readonly string[]];
  /** Test names that passed and failed, from the report's text ('' when the runner wrote none). */
  results(report: string): { passed: string[]; failed: string[] };
}

/** A runner's binary from node_modules/.bin. */
export function binary(name: string): string {
  return path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? `${name}.exe` : name);
}

/** `run(file)` for `runner`, writing reports to a scratch folder removed after the calling file. */
export function foreignRunner(runner: ForeignRunner): (file: string) => Promise<ForeignRun> {
  const scratch = mkdtempSync(path.join(tmpdir(), `beamsock-${runner.name.replace(/\W+/g, '-')}-`));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  return (file) => {
    const report = path.join(scratch, `${path.basename(file)}.${runner.reportExtension}`);
    const [command, args] = runner.command(file, report);
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('error', reject);
      child.once('close', (exitCode) => {
        let text = '';
        try {
          text = readFileSync(report, 'utf8');
        } catch {
          // No report: the runner failed before running tests; its output says why.
        }
        resolve({ exitCode, output, ...runner.results(text) });
      });
    });
  };
}

/** Every test of `run` passed, at least `atLeast` of them, and the runner exited 0; a failure shows the runner's output. */
export function expectAllPassed(runner: ForeignRunner, run: ForeignRun, atLeast: number): void {
  const withOutput = `${runner.name} exited with ${String(run.exitCode)}; its output:\n${run.output}`;
  expect(run.failed, withOutput).toEqual([]);
  expect(run.passed.length, withOutput).toBeGreaterThanOrEqual(atLeast);
  expect(run.exitCode, withOutput).toBe(0);
}
