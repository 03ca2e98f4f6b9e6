/**
 * `npm run bench`: runs every bench module in `bench/` in turn and prints one
 * table per module. `npm run bench -- runtime` runs only the modules named.
 *
 * Run with `--expose-gc` (the npm script does): heap figures call `global.gc()`.
 */
import os from 'node:os';
import { formatTable, type BenchModule } from './report.js';

/** Every bench module, by the name given on the command line. Add a module here. */
const MODULES: Readonly<Record<string, () => Promise<BenchModule>>> = {
  runtime: () => import('./runtime.js'),
  ws: () => import('./ws.js'),
  bun: () => import('./bun.js'),
  cluster: () => import('./cluster.js'),
  channels: () => import('./channels.js'),
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((name) => !(name in MODULES));
  if (unknown.length > 0) {
    throw new Error(`unknown bench module ${unknown.join(', ')} (expected one of ${Object.keys(MODULES).join(', ')})`);
  }
  const names = wanted.length > 0 ? wanted : Object.keys(MODULES);
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`beamsock bench: Node ${process.version}, ${os.cpus().length} x ${cpu}, ${os.platform()} ${os.arch()}`);
  for (const name of names) {
    const load = MODULES[name] as () => Promise<BenchModule>;
    const started = performance.now();
    const results = await (await load()).run();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`\n## ${name} (${seconds} s)\n`);
    console.log(formatTable(results));
  }
}

await main();
