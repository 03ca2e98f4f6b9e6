/**
 * runOnCores: its options are checked before anything forks; in a child process
 * (test/cluster/fixtures/cores-child.ts) with two workers, the primary lists its
 * workers, restarts one that was SIGKILLed under the same index, reports it and
 * waits longer the second time, stops all (each running its stop function, one
 * that never ends killed after shutdownTimeoutMs) and then exits by itself; a worker that fails before it is ready rejects runOnCores
 * with its error and leaves no process.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runOnCores, type CoresOptions } from '../../src/runtime/cluster/cores.js';
import { isRunning } from '../examples/launched.js';

const CHILD = fileURLToPath(new URL('./fixtures/cores-child.ts', import.meta.url));
// Three tsx processes on a loaded machine; the stop of a worker still starting waits for it.
const RUN_TIMEOUT_MS = 90_000;

function runChild(env: Record<string, string> = {}): Promise<{ code: number | null; lines: Record<string, unknown>[]; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--conditions=beamsock-source', '--import', 'tsx', CHILD], { env: { ...process.env, ...env }, timeout: RUN_TIMEOUT_MS }, (_err, stdout, stderr) =>
      resolve({
        code: child.exitCode,
        lines: stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>),
        stderr,
      }),
    );
  });
}

describe('runOnCores', () => {
  const worker = (): void => undefined;
  it.each([
    [{ name: 'a b', worker }, "runOnCores option 'name' must be letters, digits and _-@.: only, got \"a b\""],
    [{ name: 'x', worker: 'w' }, "runOnCores option 'worker' must be a function"],
    [{ name: 'x', worker, count: 0 }, "runOnCores option 'count' must be a positive integer, got 0"],
    [{ name: 'x', worker, count: 1.5 }, "runOnCores option 'count' must be a positive integer, got 1.5"],
    [{ name: 'x', worker, restartDelayMs: -1 }, "runOnCores option 'restartDelayMs' must be a positive number, got -1"],
    [{ name: 'x', worker, maxRestartDelayMs: 'soon' }, "runOnCores option 'maxRestartDelayMs' must be a positive number, got soon"],
    [{ name: 'x', worker, shutdownTimeoutMs: Infinity }, "runOnCores option 'shutdownTimeoutMs' must be a positive number, got Infinity"],
    [{ name: 'x', worker, handleSignals: 'yes' }, "runOnCores option 'handleSignals' must be a boolean, got yes"],
    [{ name: 'x', worker, cuont: 2 }, "unknown option 'cuont' in runOnCores options (did you mean 'count'?)"],
  ])('refuses %j before forking anything, naming the option', async (options, message) => {
    await expect(runOnCores(options as unknown as CoresOptions)).rejects.toThrow(message);
  });

  it(
    'supervises its workers: lists them, restarts a SIGKILLed one under its index with a report and a growing backoff, stops all, then lets the primary exit',
    async () => {
      const { code, lines, stderr } = await runChild();
      expect(code, stderr).toBe(0);
      const workers = lines.find((l) => 'workers' in l)?.['workers'] as { index: number; name: string; pid: number; restarts: number; ready: boolean }[];
      expect(workers.map(({ index, name, restarts, ready }) => ({ index, name, restarts, ready }))).toEqual([
        { index: 1, name: 'fx-1', restarts: 0, ready: true },
        { index: 2, name: 'fx-2', restarts: 0, ready: true },
      ]);
      const after = lines.find((l) => 'restarted' in l) as { killed: number[]; restarted: { index: number; pid: number; restarts: number }[]; restarts: number; reports: unknown[] };
      expect(after.restarted.map(({ index, restarts }) => ({ index, restarts }))).toEqual([
        { index: 1, restarts: 2 },
        { index: 2, restarts: 0 },
      ]);
      expect(after.killed[0]).toBe(workers[0]?.pid);
      expect(after.restarted[0]?.pid).not.toBe(after.killed[1]);
      expect(after.restarts).toBe(2);
      // A worker dying young again waits longer: 50 ms doubled, capped by maxRestartDelayMs (80).
      expect(after.reports).toEqual([
        { event: 'worker_exit', node: 'fx-1', detail: `worker process ${String(after.killed[0])} exited (signal SIGKILL); restarting in 50 ms` },
        { event: 'worker_exit', node: 'fx-1', detail: `worker process ${String(after.killed[1])} exited (signal SIGKILL); restarting in 80 ms` },
      ]);
      // Both ran their stop function; worker 2's never ended and it was killed after shutdownTimeoutMs.
      expect(lines.filter((l) => 'stopped' in l).sort((a, b) => Number(a['stopped']) - Number(b['stopped']))).toEqual([
        { stopped: 1, restarts: 2 },
        { stopped: 2, restarts: 0 },
      ]);
      expect(lines.at(-1)).toEqual({ afterStop: [] });
      // handleSignals (default true): the primary listens for SIGTERM and SIGINT.
      expect(lines.find((l) => 'signalListeners' in l)).toEqual({ signalListeners: 2 });
      for (const pid of [...workers.map((w) => w.pid), ...after.restarted.map((w) => w.pid)]) expect(isRunning(pid)).toBe(false);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'handleSignals: false leaves SIGTERM and SIGINT to the application (no listener), and stop() still ends every worker',
    async () => {
      const { code, lines, stderr } = await runChild({ MODE: 'nosignals' });
      expect(code, stderr).toBe(0);
      expect(lines.filter((l) => !('stopped' in l))).toEqual([{ signalListeners: 0 }, { afterStop: [] }]);
      expect(lines.filter((l) => 'stopped' in l).map((l) => l['stopped']).sort()).toEqual([1, 2]);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'rejects with the error of a worker that failed before it was ready, after stopping the others',
    async () => {
      const { code, lines, stderr } = await runChild({ MODE: 'fail' });
      expect(code, stderr).toBe(0);
      const rejected = lines.find((l) => 'rejected' in l)?.['rejected'] as string;
      expect(rejected).toMatch(/^runOnCores: worker fx-2 exited \(code 1\) before it was ready: Error: worker 2 cannot start/);
      expect(lines.filter((l) => 'stopped' in l)).toEqual([{ stopped: 1, restarts: 0 }]);
    },
    RUN_TIMEOUT_MS,
  );
});
