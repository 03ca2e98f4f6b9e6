import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const json = (file: string) => JSON.parse(readFileSync(`${root}${file}`, 'utf8')) as Record<string, unknown>;
// TypeDoc converts the whole library; a loaded machine needs time for that.
const TYPEDOC_TIMEOUT_MS = 300_000;

describe('the API docs', () => {
  it('document every entry point the package exports', () => {
    const exports = json('package.json').exports as Record<string, string | Record<string, string>>;
    const sources = Object.values(exports)
      .flatMap((target) => (typeof target === 'string' ? [] : [target['beamsock-source'] as string]))
      .map((path) => path.replace(/^\.\//, ''));
    expect([...(json('typedoc.json').entryPoints as string[])].sort()).toEqual(sources.sort());
  });

  it(
    'build without a warning',
    async () => {
      const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
        execFile(
          process.execPath,
          [`${root}node_modules/typedoc/bin/typedoc`, '--emit', 'none', '--treatWarningsAsErrors'],
          { cwd: root, timeout: TYPEDOC_TIMEOUT_MS },
          (err, stdout, stderr) => resolve({ code: err === null ? 0 : 1, output: stdout + stderr }),
        );
      });
      expect(output).not.toContain('[warning]');
      expect(code, output).toBe(0);
    },
    TYPEDOC_TIMEOUT_MS,
  );
});
