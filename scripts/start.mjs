#!/usr/bin/env node
/**
 * Runs an example on the server `SERVER` names: `ws` (the default) runs the
 * entry with Node and tsx, `bun` runs it (or the `--bun` entry, for examples
 * that use Bun's API directly) with the `bun` devDependency, and `deno` runs it
 * (or the `--deno` entry) with the `deno` devDependency; both execute
 * TypeScript themselves. All resolve `beamsock/*` to the sources.
 *
 *   node scripts/start.mjs examples/demo/main.ts
 *   node scripts/start.mjs examples/echo/main.ts --bun examples/echo/bun.ts --deno examples/echo/deno.ts
 *
 * Ctrl-C reaches the example directly (same process group), so it shuts down
 * gracefully; SIGTERM sent to this launcher is passed on. Exits with the
 * example's exit code.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const [entry, ...rest] = process.argv.slice(2);
const entryFor = (flag) => {
  const at = rest.indexOf(flag);
  return at === -1 ? entry : rest[at + 1];
};
const bunEntry = entryFor('--bun');
const denoEntry = entryFor('--deno');
const server = process.env.SERVER ?? 'ws';

if (entry === undefined || bunEntry === undefined || denoEntry === undefined) {
  console.error('usage: node scripts/start.mjs <entry.ts> [--bun <entry for Bun>] [--deno <entry for Deno>]');
  process.exit(2);
}
if (server !== 'ws' && server !== 'bun' && server !== 'deno') {
  console.error(`SERVER must be 'ws', 'bun' or 'deno', got '${server}'`);
  process.exit(2);
}

const bin = (name) => path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? `${name}.exe` : name);
// Deno: the sources import each other as './x.js', which --sloppy-imports resolves to './x.ts', as tsc and Bun do.
const [command, args] =
  server === 'bun'
    ? [bin('bun'), ['--conditions=beamsock-source', bunEntry]]
    : server === 'deno'
      ? [bin('deno'), ['run', '-A', '--conditions=beamsock-source', '--sloppy-imports', denoEntry]]
      : [process.execPath, ['--conditions=beamsock-source', '--import', 'tsx', entry]];

const child = spawn(command, args, { cwd: root, stdio: 'inherit' });
child.once('error', (err) => {
  console.error(`could not start ${command}: ${err.message}${server === 'ws' ? '' : ` (is the ${server} devDependency installed? run npm install)`}`);
  process.exit(1);
});
// The terminal's Ctrl-C already reaches the child; the launcher waits for it to finish.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.once('exit', (code, signal) => process.exit(code ?? (signal === null ? 0 : 1)));
