/**
 * Probe, not part of `npm run bench`: instructions per upgrade of a bench server,
 * counted by valgrind's callgrind (Debian's `valgrind` package), which, unlike
 * CPU time, does not move with the machine's load. The server runs under
 * callgrind with instrumentation off; after `--warm` upgrades it is switched on
 * for `--count` more, then the counts are dumped, split into what garbage
 * collection, the JIT compilers and error stack traces took and the rest.
 * `--cache` simulates the caches too (L1 and last-level misses per upgrade).
 *
 *   node --conditions=beamsock-source --import tsx bench/probes/upgrade-instructions.ts \
 *     [--warm 8000] [--count 1000] [--cache] bare-ws beamsock
 *
 * Each server takes about a minute (callgrind runs Node some 50 times slower).
 * The Node servers write their JIT symbols (`/tmp/perf-<pid>.map`), which
 * `callgrind_annotate` does not read but which map the dump's JIT addresses.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { oneLife, upgradeRequest } from '../load-client.js';
import { ServerChild } from '../servers/server-child.js';
import { parseServer } from './servers.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    warm: { type: 'string', default: '8000' },
    count: { type: 'string', default: '1000' },
    cache: { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '4' },
  },
});

async function lives(port: number, n: number): Promise<void> {
  const request = upgradeRequest(port);
  let left = n;
  await Promise.all(
    Array.from({ length: Number(values.concurrency) }, async () => {
      while (left-- > 0) await oneLife(port, request);
    }),
  );
}

/** Which bucket a function's own cost goes to, by its name. */
function bucket(fn: string): 'compile' | 'gc' | 'stack traces' | 'rest' {
  if (/compiler::|turboshaft|[Mm]aglev|Zone|interpreter::Bytecode|internal::Parser|Scanner|Compiler::|RegisterAllocator|InstructionSelector|LiveRange/.test(fn)) return 'compile';
  if (/Scaveng|MarkCompact|Marking|Sweep|Heap::|Evacuat|RememberedSet|SlotSet/.test(fn)) return 'gc';
  if (/TranslatedState|TranslatedFrame|Translation|FrameSummary|StackFrame|SafepointTable|CaptureSimpleStackTrace|CallSiteBuilder|Summarize/.test(fn)) return 'stack traces';
  return 'rest';
}

for (const label of positionals) {
  const spec = parseServer(label);
  if (spec.program.startsWith('bun-')) throw new Error(`${label}: callgrind runs the Node servers only`);
  const out = `/tmp/probe-callgrind-${process.pid}-${spec.program}.out`;
  const valgrind = ['--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', `--callgrind-out-file=${out}`, ...(values.cache ? ['--cache-sim=yes'] : [])];
  const node = [process.execPath, '--perf-basic-prof', '--conditions=beamsock-source', '--import', 'tsx', `bench/servers/${spec.program}.ts`, ...spec.args];
  const server = await ServerChild.start(label, 'valgrind', [...valgrind, ...node], spec.dir);
  try {
    await lives(server.port, Number(values.warm));
    await sleep(500);
    execFileSync('callgrind_control', ['-i', 'on', String(server.pid)]);
    await lives(server.port, Number(values.count));
    await sleep(300);
    execFileSync('callgrind_control', ['-i', 'off', String(server.pid)]);
    execFileSync('callgrind_control', ['-d', String(server.pid)]);
  } finally {
    await server.stop();
  }
  const count = Number(values.count);
  const dumps = readdirSync('/tmp').filter((f) => `/tmp/${f}`.startsWith(`${out}.`));
  const totals = new Map<string, number>();
  let events: string[] = [];
  const sums: number[] = [];
  for (const dump of dumps) {
    const file = `/tmp/${dump}`;
    const text = readFileSync(file, 'utf8');
    events = (/^events: (.*)$/m.exec(text)?.[1] ?? 'Ir').split(' ');
    ((/^totals: (.*)$/m.exec(text)?.[1] ?? '').split(' ').map(Number)).forEach((v, i) => (sums[i] = (sums[i] ?? 0) + v));
    const flat = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', file], { maxBuffer: 1 << 28 }).toString();
    for (const line of flat.split('\n')) {
      const m = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/.exec(line);
      if (m === null || (m[2] as string).includes('PROGRAM TOTALS')) continue;
      const b = bucket(m[2] as string);
      totals.set(b, (totals.get(b) ?? 0) + Number((m[1] as string).replaceAll(',', '')));
    }
  }
  const k = (v: number): string => `${(v / count / 1000).toFixed(1)} k`;
  const split = ['gc', 'compile', 'stack traces', 'rest'].map((b) => `${b} ${k(totals.get(b) ?? 0)}`).join(', ');
  const cache = events.length > 1 ? '; ' + events.slice(1).map((e, i) => `${e} ${((sums[i + 1] ?? 0) / count).toFixed(0)}`).join(' ') : '';
  console.log(`${label.padEnd(28)} ${k(sums[0] ?? 0)} instructions per upgrade (${split})${cache}`);
}
