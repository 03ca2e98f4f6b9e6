/**
 * Unknown options: one check and one wording for every options object in beamsock,
 * with a suggestion when a known name is close, so that a typo says what was meant:
 *
 *     unknown option 'timout' in upgrade options (did you mean 'timeout'?)
 *     unknown option 'frobnicate' in spawn options (known: name, trapExit, ...)
 */

/**
 * Throws a `TypeError` for the first key of `options` that is not in `known`,
 * naming it, where it was found, and the known name it most likely meant (or all
 * of them when none is close).
 *
 * @param where names the options in the message: `'spawn options'`, `'GenServer.start options'`.
 * @example
 * rejectUnknownOptions({ timout: 1 }, ['timeout', 'name'], 'upgrade options');
 * // TypeError: unknown option 'timout' in upgrade options (did you mean 'timeout'?)
 */
export function rejectUnknownOptions(options: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw unknownOption(key, known, where);
  }
}

/**
 * The `TypeError` `rejectUnknownOptions` throws, for a name that is not an object
 * key (a process flag, say).
 *
 * @example
 * throw unknownOption('trapexit', ['trapExit', 'maxHeapSize'], 'process flags');
 * // TypeError: unknown option 'trapexit' in process flags (did you mean 'trapExit'?)
 */
export function unknownOption(key: string, known: readonly string[], where: string): TypeError {
  const near = didYouMean(key, known);
  const hint = near === undefined ? ` (known: ${known.join(', ')})` : ` (did you mean '${near}'?)`;
  return new TypeError(`unknown option '${key}' in ${where}${hint}`);
}

/**
 * The known name closest to `key`: one that differs only in case and underscores
 * (`max_frame_size`), else the nearest by edit distance within a third of the
 * name's length (at least 2); undefined when none is that close.
 *
 * @example
 * didYouMean('max_frame_size', ['maxFrameSize', 'timeout']); // 'maxFrameSize'
 */
export function didYouMean(key: string, known: readonly string[]): string | undefined {
  const folded = key.replace(/_/g, '').toLowerCase();
  for (const name of known) {
    if (name.toLowerCase() === folded) return name;
  }
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const name of known) {
    const d = editDistance(key.toLowerCase(), name.toLowerCase());
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent swaps cost 1. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}
