/**
 * Runs the Bun adapter's tests under Bun itself: vitest runs on Node, where
 * `Bun.serve` does not exist, so this file starts Bun's test runner (the `bun`
 * devDependency) on `bun.conformance.ts` (the shared conformance suite),
 * `bun.specifics.ts` (what only the Bun adapter does), `bun.admission.ts`
 * (admission and telemetry), `bun.topics.ts` (fastlane broadcasts through Bun's
 * pub/sub) and the `*.bun.ts` files of what runs on it (the
 * observer, the test kit), reads its JUnit report, and prints Bun's output when
 * anything is off.
 */
import { describe, it } from 'vitest';
import { binary, expectAllPassed, foreignRunner, type ForeignRunner } from '../../support/foreign-runtime.js';

const RUN_TIMEOUT_MS = 300_000;

const BUN: ForeignRunner = {
  name: 'bun',
  reportExtension: 'xml',
  command: (file, report) => [binary('bun'), ['test', '--reporter=junit', `--reporter-outfile=${report}`, `./${file}`]],
  results(xml) {
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
  },
};

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e] as string);
}

const bunTest = foreignRunner(BUN);

describe('the Bun adapter under Bun', () => {
  for (const [what, file, atLeast] of [
    ['passes the conformance suite (its known differences asserted as what Bun does instead)', 'test/adapters/bun/bun.conformance.ts', 101],
    ['passes its own tests', 'test/adapters/bun/bun.specifics.ts', 11],
    ['passes the admission and telemetry tests (deflate offers, authorize, plain telemetry)', 'test/adapters/bun/bun.admission.ts', 11],
    ["keeps each connection's frame order when fastlane broadcasts go through Bun's topics", 'test/adapters/bun/bun.topics.ts', 10],
  ] as const) {
    it(what, async () => expectAllPassed(BUN, await bunTest(file), atLeast), RUN_TIMEOUT_MS);
  }
});

describe('beamsock on Bun, beyond the adapter', () => {
  for (const [what, file, atLeast] of [
    ['the observer mounted on serve()', 'test/observer/mount.bun.ts', 8],
    ["the test kit's startServer with the Bun adapter", 'test/testing/server.bun.ts', 3],
  ] as const) {
    it(`${what} passes its tests under Bun`, async () => expectAllPassed(BUN, await bunTest(file), atLeast), RUN_TIMEOUT_MS);
  }
});
