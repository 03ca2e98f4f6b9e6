#!/usr/bin/env node
/**
 * `npm run soak`: the hostile suite (test/hostile) at full size, one file at a
 * time (each file starts its servers and holds thousands of sockets: two at once
 * would measure each other). HOSTILE_SCALE=full is set here rather than in the
 * npm script so that it works in any shell, Windows' included. Arguments are
 * passed on to vitest: `npm run soak -- test/hostile/churn.test.ts` soaks one
 * file, `-t ws` one server.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// vitest's own entry run by this node: no shell, no .cmd shim.
const vitest = path.join(path.dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const args = process.argv.slice(2);
// Only the hostile files, unless some of them were named.
const files = args.some((a) => a.includes('hostile')) ? [] : ['test/hostile'];
const run = spawnSync(process.execPath, [vitest, 'run', ...files, '--no-file-parallelism', ...args], {
  cwd: root,
  env: { ...process.env, HOSTILE_SCALE: 'full' },
  stdio: 'inherit',
});
process.exitCode = run.status ?? 1;
