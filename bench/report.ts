/**
 * The shape every bench module returns and the table `npm run bench` prints.
 *
 * A figure is printed beside its baseline (the same work done without beamsock, or
 * by the library it is compared with) and its target; targets are reported as
 * PASS or MISS and never fail the run, because timings on a shared machine are
 * evidence, not a gate.
 */

/**
 * What a figure is held against. `atLeast`/`atMost` compare the value itself;
 * `ratioAtLeast`/`ratioAtMost` compare value / baseline.
 */
export type Target =
  | { readonly atLeast: number }
  | { readonly atMost: number }
  | { readonly ratioAtLeast: number }
  | { readonly ratioAtMost: number };

/** One measured figure. */
export interface BenchResult {
  /** What was measured, e.g. `send -> receive, 1 receiver`. */
  readonly name: string;
  readonly value: number;
  /** e.g. `msgs/s`, `bytes/process`. */
  readonly unit: string;
  /** The same work measured without beamsock (or in the library compared with). */
  readonly baseline?: { readonly label: string; readonly value: number };
  readonly target?: Target;
  /** Printed under the table: how the figure was taken, when that is not obvious from the name. */
  readonly note?: string;
}

/** What a bench module in `bench/` exports; `bench/run.ts` calls it. */
export interface BenchModule {
  run(): Promise<BenchResult[]>;
}

/**
 * PASS or MISS against the target, or `-` without one (or without the baseline
 * a ratio target needs).
 *
 * @example
 * verdict({ name: 'x', value: 12e6, unit: 'msgs/s', target: { atLeast: 10e6 } }); // 'PASS'
 */
export function verdict(r: BenchResult): 'PASS' | 'MISS' | '-' {
  const t = r.target;
  if (t === undefined) return '-';
  let ok: boolean;
  if ('atLeast' in t) ok = r.value >= t.atLeast;
  else if ('atMost' in t) ok = r.value <= t.atMost;
  else {
    const ratio = ratioOf(r);
    if (ratio === undefined) return '-';
    ok = 'ratioAtLeast' in t ? ratio >= t.ratioAtLeast : ratio <= t.ratioAtMost;
  }
  return ok ? 'PASS' : 'MISS';
}

function ratioOf(r: BenchResult): number | undefined {
  if (r.baseline === undefined || r.baseline.value === 0) return undefined;
  return r.value / r.baseline.value;
}

/** A number with thousands separators; small numbers keep up to two decimals. */
function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const digits = Math.abs(n) >= 100 ? 0 : 2;
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function formatTarget(r: BenchResult): string {
  const t = r.target;
  if (t === undefined) return '-';
  if ('atLeast' in t) return `>= ${formatNumber(t.atLeast)}`;
  if ('atMost' in t) return `<= ${formatNumber(t.atMost)}`;
  if ('ratioAtLeast' in t) return `ratio >= ${formatNumber(t.ratioAtLeast)}`;
  return `ratio <= ${formatNumber(t.ratioAtMost)}`;
}

const HEADERS = ['name', 'value', 'unit', 'baseline', 'baseline value', 'ratio', 'target', 'result'] as const;
/** Columns holding numbers are right-aligned. */
const RIGHT = new Set([1, 4, 5]);

/**
 * Renders results as a plain-text table (name, value, unit, baseline, baseline
 * value, ratio, target, PASS/MISS), then the notes, numbered.
 *
 * @example
 * console.log(formatTable(await run()));
 */
export function formatTable(results: readonly BenchResult[]): string {
  const notes: string[] = [];
  const rows = results.map((r) => {
    const ratio = ratioOf(r);
    let name = r.name;
    if (r.note !== undefined) {
      notes.push(r.note);
      name = `${name} [${notes.length}]`;
    }
    return [
      name,
      formatNumber(r.value),
      r.unit,
      r.baseline?.label ?? '-',
      r.baseline === undefined ? '-' : formatNumber(r.baseline.value),
      ratio === undefined ? '-' : `${ratio.toFixed(2)}x`,
      formatTarget(r),
      verdict(r),
    ];
  });
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (RIGHT.has(i) ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join(' | ')
      .trimEnd();
  const out = [line(HEADERS), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)];
  notes.forEach((n, i) => out.push(`[${i + 1}] ${n}`));
  return out.join('\n');
}
