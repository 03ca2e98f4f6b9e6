/**
 * The parent's end of the control channel (`control.ts` is the child's): starts a
 * bench server program as a child process with an IPC channel, waits for its port,
 * and sends it requests. Every child started here is killed when this process
 * exits, whatever happens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ControlReply, ControlRequest, ListeningMessage } from './control.js';

/** Longest wait for a server to start or answer a request. */
export const STEP_TIMEOUT_MS = 30_000;
/** How long a child asked to exit may take before it is killed. */
const EXIT_GRACE_MS = 5000;
/** File descriptors a process needs beside its sockets. */
const FD_SPARE = 200;

/** Every child still running. */
const live = new Set<ChildProcess>();
process.on('exit', () => ServerChild.killAll());

/** A server child and its control channel. */
export class ServerChild {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: ControlReply) => void; reject: (e: Error) => void }>();
  private exited: Error | undefined;

  private constructor(
    /** How errors name the server. */
    readonly name: string,
    private readonly child: ChildProcess,
    /** The port it listens on, on 127.0.0.1. */
    readonly port: number,
  ) {
    child.on('message', (reply: ControlReply) => {
      const p = this.pending.get(reply.id);
      if (p === undefined) return;
      this.pending.delete(reply.id);
      if (reply.error !== undefined) p.reject(new Error(`${name}: ${reply.error}`));
      else p.resolve(reply);
    });
    child.on('exit', (code, signal) => {
      this.exited = new Error(`bench server ${name} exited (code ${String(code)}, signal ${String(signal)})`);
      for (const p of this.pending.values()) p.reject(this.exited);
      this.pending.clear();
    });
  }

  /**
   * Runs `command args` in `cwd` with an IPC channel and resolves once the program
   * has called `startControl`. Rejects if it cannot start, exits first, or stays
   * silent for `STEP_TIMEOUT_MS`.
   *
   * @example
   * const server = await ServerChild.start('bare-ws', process.execPath, ['--import', 'tsx', 'bench/servers/bare-ws.ts'], root);
   */
  static start(name: string, command: string, args: readonly string[], cwd: string): Promise<ServerChild> {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    live.add(child);
    child.once('exit', () => live.delete(child));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`bench server ${name} did not report its port within ${STEP_TIMEOUT_MS} ms`));
      }, STEP_TIMEOUT_MS);
      child.once('message', (msg: ListeningMessage) => {
        clearTimeout(timer);
        resolve(new ServerChild(name, child, msg.port));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`bench server ${name} exited before listening (code ${String(code)}, signal ${String(signal)})`));
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`bench server ${name} could not be started: ${err.message}`));
      });
    });
  }

  /** The child's process id (for probes that read /proc or attach perf). */
  get pid(): number {
    return this.child.pid as number;
  }

  /**
   * Kills every child still running.
   *
   * @example
   * try { await measure(); } finally { ServerChild.killAll(); }
   */
  static killAll(): void {
    for (const child of live) child.kill('SIGKILL');
  }

  /**
   * Sends a control request; resolves with the reply, rejects with the child's
   * error, when it exits, or after `STEP_TIMEOUT_MS`.
   *
   * @example
   * const { cpuMs } = await server.request('broadcast', { message: 'hello', mode: 'preframed' });
   */
  request(cmd: ControlRequest['cmd'], fields: Omit<ControlRequest, 'id' | 'cmd'> = {}): Promise<ControlReply> {
    if (this.exited !== undefined) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`bench server ${this.name} did not answer '${cmd}' within ${STEP_TIMEOUT_MS} ms`));
      }, STEP_TIMEOUT_MS);
      const settled =
        <T>(fn: (v: T) => void) =>
        (v: T): void => {
          clearTimeout(timer);
          fn(v);
        };
      this.pending.set(id, { resolve: settled(resolve), reject: settled(reject) });
      this.child.send({ id, cmd, ...fields } satisfies ControlRequest);
    });
  }

  /**
   * The child's heap and RSS in bytes, after it settled and collected garbage.
   *
   * @example
   * const { heapUsed } = await server.mem();
   */
  async mem(): Promise<{ heapUsed: number; rss: number }> {
    const r = await this.request('mem');
    return { heapUsed: r.heapUsed as number, rss: r.rss as number };
  }

  /**
   * The child's user + system CPU time so far, in ms.
   *
   * @example
   * const before = await server.cpuMs();
   */
  async cpuMs(): Promise<number> {
    return (await this.request('cpu')).cpuMs as number;
  }

  /**
   * Waits until the server holds `n` connections (or subscribers); throws after
   * `STEP_TIMEOUT_MS`, naming how many it holds.
   *
   * @example
   * await server.awaitCount(5000);
   */
  async awaitCount(n: number): Promise<void> {
    const deadline = performance.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const count = (await this.request('count')).count as number;
      if (count === n) return;
      if (performance.now() > deadline) throw new Error(`${this.name} holds ${count} connections, expected ${n}`);
      await sleep(20);
    }
  }

  /**
   * Asks the child to exit (so `--cpu-prof` writes its profile), and kills it if it
   * has not after a grace period.
   *
   * @example
   * await server.stop();
   */
  async stop(): Promise<void> {
    if (this.exited !== undefined) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.request('exit').catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), EXIT_GRACE_MS);
    await gone;
    clearTimeout(timer);
  }
}

/**
 * How many connections per server a run can open when this process holds the
 * client sockets for `servers` servers and each server child its own: the fd
 * limit (`ulimit -n`) is per process and every child inherits this one's.
 * Returns `perServer` when the limit allows it or cannot be read.
 *
 * @example
 * const n = connectionBudget(5000, 2); // 5000 under ulimit -n 20000; 4900 under 10000
 */
export function connectionBudget(perServer: number, servers: number): number {
  const limit = fdLimit();
  return limit === undefined ? perServer : Math.min(perServer, Math.floor((limit - FD_SPARE) / servers));
}

/**
 * `n` for a printed name, saying so when the fd limit cut it below `wanted`.
 *
 * @example
 * budgetLabel(4900, 5000); // '4,900 (ulimit -n too low for 5,000)'
 */
export function budgetLabel(n: number, wanted: number): string {
  return n === wanted ? n.toLocaleString('en-US') : `${n.toLocaleString('en-US')} (ulimit -n too low for ${wanted.toLocaleString('en-US')})`;
}

function fdLimit(): number | undefined {
  const report = process.report?.getReport() as { userLimits?: { open_files?: { soft?: number | string } } } | undefined;
  const soft = report?.userLimits?.open_files?.soft;
  return typeof soft === 'number' ? soft : undefined;
}
