import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | Record<string, string>>;
  dependencies: Record<string, string>;
};
const entries = Object.keys(pkg.exports).filter((key) => key !== './package.json');
// Building and packing the whole library on a loaded machine takes a while.
const PACK_TIMEOUT_MS = 300_000;

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout: PACK_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

async function mustRun(cmd: string, args: string[], cwd: string): Promise<string> {
  const { code, stdout, stderr } = await run(cmd, args, cwd);
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${stdout}\n${stderr}`);
  return stdout;
}

function link(name: string): void {
  mkdirSync(dirname(join(app, 'node_modules', name)), { recursive: true });
  symlinkSync(join(root, 'node_modules', name), join(app, 'node_modules', name));
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f));
}

/**
 * What `npm publish` would ship, installed the way `npm install beamsock` lays
 * it out, without the network: a copy of the package's sources is packed (its
 * `prepare` script runs `npm run build`), the tarball is unpacked into an app's
 * node_modules/beamsock, and the package's runtime dependencies are linked in
 * from this checkout's node_modules.
 */
const tmp = mkdtempSync(join(tmpdir(), 'beamsock-pack-'));
const app = join(tmp, 'app');
const installed = join(app, 'node_modules', 'beamsock');
let packed: string[] = [];

beforeAll(async () => {
  const stage = join(tmp, 'stage');
  for (const f of ['package.json', 'README.md', 'LICENSE', 'tsconfig.json', 'tsconfig.build.json', 'src']) cpSync(join(root, f), join(stage, f), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(stage, 'node_modules'));
  const [report] = JSON.parse(await mustRun('npm', ['pack', '--json', '--pack-destination', tmp], stage)) as [{ filename: string; files: { path: string }[] }];
  packed = report.files.map((f) => f.path);

  mkdirSync(join(app, 'node_modules'), { recursive: true });
  await mustRun('tar', ['-xzf', join(tmp, report.filename), '-C', join(app, 'node_modules')], app);
  renameSync(join(app, 'node_modules', 'package'), installed);
  for (const dep of Object.keys(pkg.dependencies)) link(dep);
  for (const f of ['consumer.cjs', 'consumer.mjs', 'echo.cjs']) cpSync(join(here, f), join(app, f));
}, PACK_TIMEOUT_MS);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the packed tarball', () => {
  it('holds the LICENSE, the README and every file the exports map names', () => {
    expect(packed).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json']));
    for (const entry of entries) {
      const targets = pkg.exports[entry] as Record<string, string>;
      for (const condition of ['types', 'import', 'require', 'default']) {
        expect(targets[condition], `${entry} has no '${condition}' condition`).toBeDefined();
        expect(packed, `${entry} '${condition}'`).toContain((targets[condition] as string).replace(/^\.\//, ''));
      }
    }
  });

  it('declares no @internal member in its types', () => {
    const declarations = filesUnder(join(installed, 'dist')).filter((f) => f.endsWith('.d.ts'));
    expect(declarations.length).toBeGreaterThanOrEqual(entries.length);
    const leaking = declarations.filter((f) => readFileSync(f, 'utf8').includes('@internal'));
    expect(leaking).toEqual([]);
  });

  it.concurrent.each([
    ['a CommonJS', 'consumer.cjs', 'hello from require'],
    ['an ES module', 'consumer.mjs', 'hello from import'],
  ])('%s consumer loads every entry point, gets an echo from a server, and exits cleanly', async (_kind, file, text) => {
    const { code, stdout, stderr } = await run(process.execPath, [file], app);
    expect(code, `${file} failed:\n${stdout}\n${stderr}`).toBe(0);
    const result = JSON.parse(stdout) as { entries: string[]; echoed: string };
    expect(result.entries).toEqual(entries.map((entry) => `beamsock${entry.slice(1)}`));
    expect(result.echoed).toBe(text);
  });

  it('gives a TypeScript app, CommonJS or ES module, the types of every entry point', async () => {
    link('@types/node');
    const names = ['beamsock', ...entries.filter((entry) => entry !== '.').map((entry) => `beamsock${entry.slice(1)}`)];
    const source = (importAs: (local: string, name: string) => string) =>
      [
        ...names.map((name, i) => importAs(`entry${i}`, name)),
        importAs('ws', 'beamsock/ws'),
        `export const loaded = [${names.map((_, i) => `entry${i}`).join(', ')}];`,
        'const Counter: entry0.WebSock<number> = { init: () => entry0.ok(0), handleIn: (_frame, n) => entry0.ok(n + 1), handleInfo: (_msg, n) => entry0.ok(n) };',
        'export const start = () => ws.serve(Counter, { port: 0 });',
        // A port as a string must not compile: the types are real, not `any`.
        '// @ts-expect-error',
        "export const wrong = () => ws.serve(Counter, { port: '0' });",
        '',
      ].join('\n');
    writeFileSync(join(app, 'types.cts'), source((local, name) => `import ${local} = require('${name}');`));
    writeFileSync(join(app, 'types.mts'), source((local, name) => `import * as ${local} from '${name}';`));
    const compilerOptions = { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['types.cts', 'types.mts'] }));
    const { code, stdout, stderr } = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app);
    expect(code, `tsc failed:\n${stdout}\n${stderr}`).toBe(0);
  });
});
