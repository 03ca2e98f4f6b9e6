#!/usr/bin/env node
/**
 * `npm run test:ws-latest`: runs the ws adapter's tests against the newest `ws`
 * release as well as the pinned one. When the newest release is the pinned one
 * (ws 8.23.0 is both as of this writing), the ordinary `npm test` run already
 * covers it and nothing is installed. Otherwise `ws@latest` goes into a temporary
 * directory (never into node_modules) and vitest runs test/adapters/ws with
 * every `import 'ws'` pointed at it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pinned = JSON.parse(readFileSync(path.join(root, 'node_modules/ws/package.json'), 'utf8')).version;
const newest = execFileSync('npm', ['view', 'ws', 'version'], { encoding: 'utf8' }).trim();
if (newest === pinned) {
  console.log(`ws ${pinned} is both the installed and the newest release: npm test already ran the suite against it.`);
  process.exit(0);
}
const dir = mkdtempSync(path.join(tmpdir(), 'beamsock-ws-latest-'));
try {
  execFileSync('npm', ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `ws@${newest}`], { stdio: 'inherit' });
  const config = path.join(dir, 'vitest.config.mjs');
  writeFileSync(
    config,
    `import { mergeConfig } from 'vitest/config';
import base from ${JSON.stringify(path.join(root, 'vitest.config.ts'))};
export default mergeConfig(base, { root: ${JSON.stringify(root)}, resolve: { alias: { ws: ${JSON.stringify(path.join(dir, 'node_modules/ws/wrapper.mjs'))} } } });
`,
  );
  console.log(`running test/adapters/ws against ws ${newest} (installed: ${pinned})`);
  const run = spawnSync('npx', ['vitest', 'run', '--config', config, 'test/adapters/ws'], { cwd: root, stdio: 'inherit' });
  process.exitCode = run.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
