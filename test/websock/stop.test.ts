/**
 * `stop`'s close detail is an object, so the compiler tells it from a state:
 * issue 11 item 4 (with a numeric state, `stop('normal', 4000)` used to mean
 * "state 4000, close 1000" and a detail-first call type-checked either way).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { ok, stop, type WebSock } from '../../src/websock/behaviour.js';
import { startHandler } from '../../src/testing/index.js';
import { captureReports } from '../support/reports.js';

const reports = captureReports();

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const SNIPPETS = {
  numeric: `const n: number = 5;\nexport const r = stop('normal', 4000, n);`,
  tuple: `export const r = stop('normal', [4000, 'bye'], { n: 1 });`,
  fine:
    `export const a = stop('normal', { code: 4000, reason: 'bye' }, 5);\n` +
    `export const b = stop('normal', { code: 4001 }, ['text', 'last'], 5);\n` +
    `export const c = stop('normal', 4000);`,
} as const;

/**
 * The compiler's error messages for each snippet, compiled beside the sources with
 * the project's strict options: one program for all of them (a program costs seconds).
 */
function typeErrors(): Record<keyof typeof SNIPPETS, string[]> {
  const files = new Map(
    Object.entries(SNIPPETS).map(([name, body]) => [
      path.join(ROOT, 'test', 'websock', `__stop_${name}__.ts`),
      `import { stop } from '../../src/websock/behaviour.js';\n${body}\n`,
    ]),
  );
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
    types: ['node'],
  };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  host.readFile = (f) => files.get(path.resolve(f)) ?? read(f);
  const exists = host.fileExists.bind(host);
  host.fileExists = (f) => files.has(path.resolve(f)) || exists(f);
  const program = ts.createProgram([...files.keys()], options, host);
  const out: Record<string, string[]> = {};
  for (const [file] of files) {
    const name = /__stop_(\w+)__/.exec(file)?.[1] as string;
    out[name] = ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  }
  return out as Record<keyof typeof SNIPPETS, string[]>;
}

let errors: Record<keyof typeof SNIPPETS, string[]>;
beforeAll(() => {
  errors = typeErrors();
}, 120_000);

describe('stop: the close detail is an object', () => {
  it('a numeric code in the detail position does not type-check, whatever the state', () => {
    expect(errors.numeric.join('\n')).toMatch(/not assignable to parameter of type 'CloseDetail'/);
  });

  it('the old [code, reason] tuple does not type-check either', () => {
    expect(errors.tuple.join('\n')).toMatch(/CloseDetail/);
  });

  it('{ code, reason } with a state, and with frames, type-checks', () => {
    expect(errors.fine).toEqual([]);
  });

  it('stop(reason, state) with a numeric state keeps that state and closes with 1000', async () => {
    const Counter: WebSock<number> = { init: () => stop('normal', 4000), handleIn: () => stop('normal', 0), handleInfo: () => stop('normal', 0) };
    const conn = startHandler(Counter, null);
    await conn.assertClosed({ code: 1000 });
    expect((await conn.assertTerminated('normal')).state).toBe(4000);
  });

  it('a JavaScript caller passing the removed numeric form crashes that connection with a clear TypeError (1011)', async () => {
    const Legacy: WebSock<null> = {
      init: () => ok(null),
      handleIn: () => (stop as (...args: unknown[]) => ReturnType<typeof stop<null>>)('normal', 4000, null),
      handleInfo: () => stop('normal', null),
    };
    const conn = startHandler(Legacy, null);
    conn.pushText('stop');
    await conn.assertClosed({ code: 1011 });
    const t = await conn.assertTerminated((r) => typeof r === 'object');
    expect(String((t.reason as { error: unknown }).error)).toBe('TypeError: stop() close detail must be { code, reason? }, got 4000');
    expect(reports.length).toBeGreaterThan(0);
  });
});
