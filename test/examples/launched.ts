/**
 * An example's launcher run by a test: started in a process group of its own, so
 * that a test failing midway ends it together with whatever it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export class Launched {
  private text = '';
  /** Its exit code and the signal that ended it, once it exits. */
  readonly ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Its exit code once it exits. */
  readonly exited: Promise<number | null>;

  private constructor(readonly proc: ChildProcess) {
    this.ended = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    this.exited = this.ended.then(({ code }) => code);
    const onData = (chunk: Buffer): void => void (this.text += chunk.toString());
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
  }

  /** Runs `command ...args` (node by default) in the repository with `env` added to this process's environment. */
  static start(args: readonly string[], env: Record<string, string>, command: string = process.execPath): Launched {
    return new Launched(spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true }));
  }

  /** Everything it printed so far, stdout and stderr together. */
  output(): string {
    return this.text;
  }

  /** The first match of `re` in what it prints; rejects if it exits before printing one. */
  printed(re: RegExp): Promise<RegExpExecArray> {
    return this.waitFor((text) => re.exec(text) ?? undefined, `printing ${String(re)}`);
  }

  /** Resolves once `pred` holds for what it printed; rejects if it exits first, naming `what`. */
  waitFor<T>(pred: (text: string) => T | undefined, what = 'the awaited output'): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = pred(this.text);
        if (found === undefined) return;
        this.proc.stdout?.off('data', check);
        this.proc.stderr?.off('data', check);
        resolve(found);
      };
      this.proc.stdout?.on('data', check);
      this.proc.stderr?.on('data', check);
      check();
      void this.exited.then((code) => reject(new Error(`${String(this.proc.spawnargs.slice(1).join(' '))} exited with ${String(code)} before ${what}:\n${this.text}`)));
    });
  }

  /** Kills it and its process group if it still runs (after a failed test). */
  killGroup(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null && this.proc.pid !== undefined) process.kill(-this.proc.pid, 'SIGKILL');
  }
}

/** Whether a process of this pid still runs. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function listen(port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(null));
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

/** A port p with p+1 free too (the launcher takes PORT and PORT+1). */
export async function twoFreePorts(): Promise<number> {
  for (;;) {
    const first = await listen(0);
    if (first === null) continue;
    const port = (first.address() as AddressInfo).port;
    const second = port < 65535 ? await listen(port + 1) : null;
    await new Promise((resolve) => first.close(resolve));
    if (second !== null) {
      await new Promise((resolve) => second.close(resolve));
      return port;
    }
  }
}

/**
 * Starts `npm run example:cluster`'s launcher on 127.0.0.1 with `PORT=port`;
 * `urls` resolves with both nodes' URLs once it prints them.
 */
export function startClusterExample(transport: 'nats' | 'redis', port: number): Launched & { readonly urls: Promise<[string, string]> } {
  const cluster = Launched.start(['--conditions=beamsock-source', '--import', 'tsx', 'examples/cluster/main.ts'], { TRANSPORT: transport, PORT: String(port), HOST: '127.0.0.1' });
  const urls = cluster.printed(/chat-1: (http:\/\/\S+?)\/[^]*chat-2: (http:\/\/\S+?)\//).then(([, one, two]) => [one, two] as [string, string]);
  return Object.assign(cluster, { urls });
}
