/**
 * Runs the Deno adapter's tests under Deno itself: this vitest runs on Node,
 * where `Deno.serve` does not exist, so it starts vitest again under Deno (the
 * `deno` devDependency runs vitest's own CLI, whose test workers are then Deno
 * processes) on `deno.conformance.ts` (the shared conformance suite) and
 * `deno.specifics.ts` (what only the Deno adapter does), and the observer
 * mounted on Deno's `serve` (`test/observer/mount.deno.ts`), reads its JSON report,
 * and prints Deno's output when anything is off.
 */
import path from 'node:path';
import { describe, it } from 'vitest';
import { ROOT, binary, expectAllPassed, foreignRunner, type ForeignRunner } from '../../support/foreign-runtime.js';

const VITEST = path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const CONFIG = 'test/adapters/deno/vitest.deno.config.ts';
const RUN_TIMEOUT_MS = 600_000;

interface JsonReport {
  readonly testResults?: readonly { readonly assertionResults?: readonly { readonly fullName: string; readonly status: string }[] }[];
}

const DENO: ForeignRunner = {
  name: 'vitest under deno',
  reportExtension: 'json',
  command: (file, report) => [binary('deno'), ['run', '-A', VITEST, 'run', '--config', CONFIG, '--reporter=json', `--outputFile=${report}`, file]],
  results(text) {
    let json: JsonReport = {};
    try {
      json = JSON.parse(text) as JsonReport;
    } catch {
      // No report, or a cut one: vitest failed before finishing; its output says why.
    }
    const passed: string[] = [];
    const failed: string[] = [];
    for (const file of json.testResults ?? []) {
      for (const t of file.assertionResults ?? []) (t.status === 'passed' ? passed : failed).push(t.fullName);
    }
    return { passed, failed };
  },
};

const denoVitest = foreignRunner(DENO);

describe('the Deno adapter under Deno', () => {
  for (const [what, file, atLeast] of [
    ['passes the conformance suite (its known differences asserted as what Deno does instead)', 'test/adapters/deno/deno.conformance.ts', 101],
    ['passes its own tests', 'test/adapters/deno/deno.specifics.ts', 6],
  ] as const) {
    it(what, async () => expectAllPassed(DENO, await denoVitest(file), atLeast), RUN_TIMEOUT_MS);
  }
});

describe('beamsock on Deno, beyond the adapter', () => {
  it('the observer mounted on serve() passes its tests under Deno', async () => expectAllPassed(DENO, await denoVitest('test/observer/mount.deno.ts'), 8), RUN_TIMEOUT_MS);
});
