/**
 * An example's launcher run by a test: started in a process group of its own, so
 * that a test failing midway ends it together with whatever it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export class Launched {
  private text = '';
  /** Its exit code once it exits. */
  readonly exited: Promise<number | null>;

  private constructor(readonly proc: ChildProcess) {
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
    const onData = (chunk: Buffer): void => void (this.text += chunk.toString());
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
  }

  /** Runs `node ...args` in the repository with `env` added to this process's environment. */
  static start(args: readonly string[], env: Record<string, string>): Launched {
    return new Launched(spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true }));
  }

  /** Everything it printed so far, stdout and stderr together. */
  output(): string {
    return this.text;
  }

  /** The first match of `re` in what it prints; rejects if it exits before printing one. */
  printed(re: RegExp): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const m = re.exec(this.text);
        if (m === null) return;
        this.proc.stdout?.off('data', check);
        this.proc.stderr?.off('data', check);
        resolve(m);
      };
      this.proc.stdout?.on('data', check);
      this.proc.stderr?.on('data', check);
      check();
      void this.exited.then((code) => reject(new Error(`${String(this.proc.spawnargs.slice(1).join(' '))} exited with ${String(code)} before printing ${String(re)}:\n${this.text}`)));
    });
  }

  /** Kills it and its process group if it still runs (after a failed test). */
  killGroup(): void {
    if (this.proc.exitCode === null && this.proc.pid !== undefined) process.kill(-this.proc.pid, 'SIGKILL');
  }
}
