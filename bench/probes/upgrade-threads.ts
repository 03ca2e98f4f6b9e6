/**
 * Probe, not part of `npm run bench`: a bench server's CPU per upgrade split by
 * thread, from Linux's `/proc`: the main thread's (precise, from `schedstat`;
 * its user and system shares from `stat`'s ticks) and the other threads' (V8's
 * garbage collection and compiler, libuv's pool). With `--perf`, `perf record`
 * samples the window too (`/tmp/probe-<program>.perf`; the Node servers write
 * their JIT symbols for it).
 *
 *   node --conditions=beamsock-source --import tsx bench/probes/upgrade-threads.ts \
 *     [--rate 2000 | --closed 16] [--rounds 3] [--ms 5000] [--perf] bare-ws beamsock /work/wt/base@beamsock
 *
 * `--rate N` offers N upgrades a second whatever the server does (an open loop:
 * every server does the same work under the same client); `--closed N` keeps N
 * in flight (saturated, as `npm run bench` measures upgrades/s). Servers take
 * turns, `--rounds` times. See `servers.ts` for how servers are named.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { upgradeLoad, upgradeLoadAtRate, type LoadFigure } from '../load-client.js';
import { threadCpuNs } from '../measure.js';
import { parseServer, startServer } from './servers.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rate: { type: 'string' },
    closed: { type: 'string' },
    rounds: { type: 'string', default: '1' },
    ms: { type: 'string', default: '5000' },
    perf: { type: 'boolean', default: false },
  },
});

/** CPU so far: the main thread's and every other thread's nanoseconds (`threadCpuNs`), and the main thread's user and system ticks. */
interface Threads {
  readonly mainNs: number;
  readonly userTicks: number;
  readonly sysTicks: number;
  readonly otherNs: number;
}

function threads(pid: number): Threads {
  const ns = threadCpuNs(pid);
  if (ns === undefined) throw new Error(`no /proc/${pid}/task here: this probe reads Linux's per-thread CPU`);
  // Fields after the command's closing parenthesis: utime is the 12th, stime the 13th.
  const fields = (readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').split(') ')[1] as string).split(' ');
  return { mainNs: ns.main, userTicks: Number(fields[11]), sysTicks: Number(fields[12]), otherNs: ns.other };
}

const measureMs = Number(values.ms);
const window = { warmupMs: 3000, measureMs };

for (let round = 0; round < Number(values.rounds); round++) {
  for (const label of positionals) {
    const spec = parseServer(label);
    const server = await startServer(spec, values.perf ? ['--perf-basic-prof-only-functions'] : []);
    try {
      let before: Threads | undefined;
      let after: Threads | undefined;
      let perf: ReturnType<typeof spawn> | undefined;
      const onWindow = (edge: 'start' | 'end'): void => {
        if (edge === 'start') {
          before = threads(server.pid);
          if (values.perf) perf = spawn('perf', ['record', '-F', '2000', '-g', '-p', String(server.pid), '-o', `/tmp/probe-${spec.program}.perf`], { stdio: 'ignore' });
        } else {
          after = threads(server.pid);
          perf?.kill('SIGINT');
        }
      };
      const closed = Number(values.closed ?? 0);
      const figure: LoadFigure =
        closed > 0
          ? await upgradeLoad(server.port, { concurrency: closed, ...window, onWindow })
          : await upgradeLoadAtRate(server.port, { rate: Number(values.rate ?? 2000), ...window, onWindow });
      if (perf !== undefined) await new Promise((resolve) => (perf as ReturnType<typeof spawn>).once('exit', resolve));
      const b = before as Threads;
      const a = after as Threads;
      const n = figure.perSecond * (figure.ms / 1000);
      const us = (ns: number): string => (ns / n / 1000).toFixed(1);
      // The ticks say how the main thread's time divides between user and system; schedstat says how much it was.
      const mainNs = a.mainNs - b.mainNs;
      const ticks = a.userTicks - b.userTicks + (a.sysTicks - b.sysTicks);
      const sysShare = ticks === 0 ? 0 : (a.sysTicks - b.sysTicks) / ticks;
      console.log(
        `${label.padEnd(28)} ${figure.perSecond.toFixed(0).padStart(6)}/s  main ${us(mainNs)} µs ` +
          `(user ${us(mainNs * (1 - sysShare))}, system ${us(mainNs * sysShare)}; from ${ticks} ticks)  other threads ${us(a.otherNs - b.otherNs)} µs`,
      );
    } finally {
      await server.stop();
    }
  }
}
