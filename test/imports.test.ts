import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

// `import ... from './x.js'` and `export ... from './x.js'`. Type-only ones (`import type`,
// `export type`) are left out: the compiler erases them, so they cannot make modules load
// half-initialised, which is what a circle breaks.
const IMPORT = /^\s*(?:import|export)\s(?!type\s)[^;]*?\sfrom\s+'(\.[^']+)'/gms;

/** Relative imports of every file under src/, as absolute .ts paths. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(src)) {
    const text = readFileSync(file, 'utf8');
    const deps: string[] = [];
    for (const m of text.matchAll(IMPORT)) deps.push(resolve(dirname(file), (m[1] as string).replace(/\.js$/, '.ts')));
    graph.set(file, deps);
  }
  return graph;
}

/** Every import circle, each once, as the files along it (first file repeated at the end). */
function circles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    path.push(file);
    for (const dep of graph.get(file) ?? []) {
      const s = state.get(dep);
      if (s === 'open') found.push([...path.slice(path.indexOf(dep)), dep]);
      else if (s === undefined && graph.has(dep)) visit(dep);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}

describe('imports in src/', () => {
  it('the graph is read: the runtime facade gathers its rooms', () => {
    const facade = importGraph().get(join(src, 'runtime/process.ts')) ?? [];
    expect(facade.map((f) => relative(src, f))).toEqual(expect.arrayContaining(['runtime/process-core.ts', 'runtime/links.ts', 'runtime/monitors.ts']));
  });

  it('form no circle', () => {
    const found = circles(importGraph()).map((c) => c.map((f) => relative(src, f)).join(' -> '));
    expect(found).toEqual([]);
  });

  it('finds a circle when there is one', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
    ]);
    expect(circles(graph)).toEqual([['a', 'b', 'c', 'a']]);
  });
});
