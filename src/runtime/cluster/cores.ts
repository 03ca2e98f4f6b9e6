/**
 * Many cores on one machine: `runOnCores` forks one worker process per core with
 * `node:cluster`, each worker a beamsock node of its own (`<name>-1`, `<name>-2`, ...)
 * serving on the same port, joined through the broker like nodes on other machines.
 *
 * On Node, the primary accepts connections on the shared port and hands them to the
 * workers round-robin (node:cluster's default on Linux): Node 20 has no `reusePort`
 * for a second listener. On Bun, node:cluster cannot pass sockets between processes;
 * each worker listens itself with `reusePort: true` and the kernel spreads connections.
 *
 * The primary supervises: a worker that exits without being asked is reported through
 * the logger and started again under the same name after a backoff (doubling from
 * `restartDelayMs` to `maxRestartDelayMs` while it keeps dying young). `stop()` (or
 * SIGTERM/SIGINT to the primary) asks every worker to run its stop function and exit,
 * and kills those still running after `shutdownTimeoutMs`.
 */
import type { Cluster, Worker } from 'node:cluster';
import os from 'node:os';
import { report } from '../logger.js';
import { rejectUnknownOptions } from '../options.js';

/** What a worker function learns about the worker it runs in. */
export interface CoreInfo {
  /** 1 to `count`; a restarted worker keeps its index. */
  readonly index: number;
  /** `<name>-<index>`: the node name to give `startNode`. */
  readonly name: string;
  /** How many times this index was started before this start. */
  readonly restarts: number;
}

/** What a worker function may resolve to: how to stop what it started (close the server, stop the node). */
export type StopWorker = () => void | Promise<void>;

/** Options of `runOnCores`. */
export interface CoresOptions {
  /** The base of the node names: worker `i` is `<name>-<i>`. Letters, digits and `_-@.:`. */
  readonly name: string;
  /** Runs in each worker: start the node and the server; resolve with how to stop them. */
  readonly worker: (core: CoreInfo) => Promise<StopWorker | void> | StopWorker | void;
  /** Worker processes. Default `os.availableParallelism()`. */
  readonly count?: number;
  /** The wait before the first restart of a worker that died; doubles while it keeps dying within 10 s of its start. Default 100. */
  readonly restartDelayMs?: number;
  /** The longest wait before a restart. Default 5000. */
  readonly maxRestartDelayMs?: number;
  /** How long `stop()` lets a worker run its stop function before killing it. Default 15 000. */
  readonly shutdownTimeoutMs?: number;
  /** Whether SIGTERM and SIGINT stop the workers (in the primary) or the worker (in a worker), then end the process. Default true. */
  readonly handleSignals?: boolean;
}

/** A worker process as the primary sees it. */
export interface CoreWorker {
  readonly index: number;
  readonly name: string;
  /** Its OS process id. */
  readonly pid: number;
  readonly restarts: number;
  /** Whether its worker function has finished (it serves). */
  readonly ready: boolean;
}

/** What `runOnCores` returns in the primary process. */
export interface CoresPrimary {
  readonly role: 'primary';
  /** The workers running now, by index. */
  workers(): CoreWorker[];
  /** Restarts so far, all workers together. */
  restarts(): number;
  /** Asks every worker to stop and exit; resolves once all have exited. No worker is restarted afterwards. */
  stop(): Promise<void>;
}

/** What `runOnCores` returns in a worker process. */
export interface CoresWorker {
  readonly role: 'worker';
  readonly core: CoreInfo;
  /** Runs the worker's stop function, then ends this process. */
  stop(): Promise<void>;
}

const KNOWN = ['name', 'worker', 'count', 'restartDelayMs', 'maxRestartDelayMs', 'shutdownTimeoutMs', 'handleSignals'] as const;
const NAME_RE = /^[A-Za-z0-9_\-@.:]+$/;
/** A worker that served this long (from ready) before dying is restarted after `restartDelayMs` again. */
const STABLE_MS = 10_000;
const INDEX_ENV = 'BEAMSOCK_CORE_INDEX';
const RESTARTS_ENV = 'BEAMSOCK_CORE_RESTARTS';

/** The messages between the primary and a worker, tagged so they pass by the application's own. */
type CoreMessage = { readonly beamsockCore: 'listening' } | { readonly beamsockCore: 'ready' } | { readonly beamsockCore: 'failed'; readonly error: string } | { readonly beamsockCore: 'stop' };

function isCoreMessage(m: unknown): m is CoreMessage {
  return typeof m === 'object' && m !== null && typeof (m as { beamsockCore?: unknown }).beamsockCore === 'string';
}

function positive(options: CoresOptions, key: 'restartDelayMs' | 'maxRestartDelayMs' | 'shutdownTimeoutMs', fallback: number): number {
  const v = options[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new TypeError(`runOnCores option '${key}' must be a positive number, got ${String(v)}`);
  return v;
}

interface Settings {
  readonly name: string;
  readonly worker: CoresOptions['worker'];
  readonly count: number;
  readonly restartDelayMs: number;
  readonly maxRestartDelayMs: number;
  readonly shutdownTimeoutMs: number;
  readonly handleSignals: boolean;
}

function settings(options: CoresOptions): Settings {
  if (typeof options !== 'object' || options === null) throw new TypeError('runOnCores expects an options object { name, worker }');
  rejectUnknownOptions(options, KNOWN, 'runOnCores options');
  if (typeof options.name !== 'string' || !NAME_RE.test(options.name)) {
    throw new TypeError(`runOnCores option 'name' must be letters, digits and _-@.: only, got ${JSON.stringify(options.name)}`);
  }
  if (typeof options.worker !== 'function') throw new TypeError(`runOnCores option 'worker' must be a function of the worker's { index, name, restarts }`);
  const count = options.count ?? os.availableParallelism();
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) throw new TypeError(`runOnCores option 'count' must be a positive integer, got ${String(count)}`);
  if (options.handleSignals !== undefined && typeof options.handleSignals !== 'boolean') {
    throw new TypeError(`runOnCores option 'handleSignals' must be a boolean, got ${String(options.handleSignals)}`);
  }
  return {
    name: options.name,
    worker: options.worker,
    count,
    restartDelayMs: positive(options, 'restartDelayMs', 100),
    maxRestartDelayMs: positive(options, 'maxRestartDelayMs', 5000),
    shutdownTimeoutMs: positive(options, 'shutdownTimeoutMs', 15_000),
    handleSignals: options.handleSignals ?? true,
  };
}

/**
 * Runs this program on `count` cores: called in the primary process, it forks
 * `count` workers running the same program (with `node:cluster`) and resolves once
 * each has run `worker` to completion; called in a worker, it runs `worker` with
 * the worker's `{ index, name, restarts }` and resolves after it. Each worker
 * should start a node named `name` and serve on the shared port (on Bun, with
 * `reusePort: true`), and resolve with a function that stops both.
 *
 * A worker that exits unasked is reported (`cluster` report `worker_exit`) and
 * restarted under the same name with a backoff. SIGTERM or SIGINT to the primary
 * stops every worker, then ends the primary with that signal; a worker whose
 * primary dies exits at once (node:cluster cuts its channel).
 *
 * @throws TypeError for a bad option; rejects (after stopping the others) when a
 * worker fails before it was ready the first time, with the worker's error.
 * @example
 * import { runOnCores, startNode, connectNats } from 'beamsock/cluster';
 * import { serve } from 'beamsock/ws';
 * await runOnCores({
 *   name: 'chat',
 *   async worker({ name }) {
 *     const node = await startNode({ name, transport: await connectNats() });
 *     const server = await serve(Chat, { port: 4000 });
 *     return async () => {
 *       await server.close();
 *       await node.stop();
 *     };
 *   },
 * });
 */
export async function runOnCores(options: CoresOptions): Promise<CoresPrimary | CoresWorker> {
  const s = settings(options);
  // Loaded here, not at the top: most users of beamsock/cluster never fork.
  const cluster = (await import('node:cluster')).default;
  return cluster.isPrimary ? startPrimary(cluster, s) : startWorker(s);
}

// ---- the worker side ----

async function startWorker(s: Settings): Promise<CoresWorker> {
  const index = Number(process.env[INDEX_ENV]);
  const restarts = Number(process.env[RESTARTS_ENV] ?? 0);
  if (!Number.isInteger(index) || index < 1) throw new Error(`runOnCores: this node:cluster worker was not started by runOnCores (no ${INDEX_ENV})`);
  const core: CoreInfo = { index, name: `${s.name}-${index}`, restarts };
  const tell = (m: CoreMessage): void => void process.send?.(m);
  let stopWorker: StopWorker | void;
  let started = false;
  let stopRequested = false;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      let code = 0;
      try {
        await stopWorker?.();
      } catch (e) {
        code = 1;
        process.stderr.write(`[beamsock] runOnCores: worker ${core.name} failed to stop: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      }
      process.exit(code);
    })();
    return stopping;
  };
  // Listening before the worker function runs: a stop asked for meanwhile waits for it to finish.
  const onStop = (): void => {
    stopRequested = true;
    if (started) void stop();
  };
  process.on('message', (m: unknown) => {
    if (isCoreMessage(m) && m.beamsockCore === 'stop') onStop();
  });
  // A stop sent before this listener existed would be lost: the primary waits for this.
  tell({ beamsockCore: 'listening' });
  if (s.handleSignals) {
    process.once('SIGTERM', onStop);
    process.once('SIGINT', onStop);
  }
  try {
    stopWorker = await s.worker(core);
  } catch (e) {
    const failed: CoreMessage = { beamsockCore: 'failed', error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
    // The failure reaches the primary before this process ends.
    await new Promise<void>((resolve) => (process.send === undefined ? resolve() : process.send(failed, () => resolve())));
    process.exit(1);
  }
  started = true;
  if (stopRequested) void stop();
  else tell({ beamsockCore: 'ready' });
  return { role: 'worker', core, stop };
}

// ---- the primary side ----

interface Slot {
  readonly index: number;
  readonly name: string;
  worker: Worker | undefined;
  /** Whether the worker listens for the primary's stop yet. */
  listening: boolean;
  ready: boolean;
  /** When the worker said it was ready; a slow start (a loaded machine) does not count as service. */
  readyAt: number;
  restarts: number;
  /** Restarts in a row of a worker that died before it was ready or within `STABLE_MS` of it. */
  fastDeaths: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

function startPrimary(cluster: Cluster, s: Settings): Promise<CoresPrimary> {
  const slots: Slot[] = Array.from({ length: s.count }, (_, i) => ({
    index: i + 1,
    name: `${s.name}-${i + 1}`,
    worker: undefined,
    listening: false,
    ready: false,
    readyAt: 0,
    restarts: 0,
    fastDeaths: 0,
    timer: undefined,
  }));
  let stopping: Promise<void> | undefined;
  let totalRestarts = 0;
  let readyCount = 0;
  let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
  const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));

  const fork = (slot: Slot): void => {
    slot.timer = undefined;
    const worker = cluster.fork({ [INDEX_ENV]: String(slot.index), [RESTARTS_ENV]: String(slot.restarts) });
    slot.worker = worker;
    slot.listening = false;
    slot.ready = false;
    let wasReady = false;
    let failure: string | undefined;
    worker.on('message', (m: unknown) => {
      if (!isCoreMessage(m)) return;
      if (m.beamsockCore === 'listening') {
        slot.listening = true;
        if (stopping !== undefined) askToStop(worker);
      } else if (m.beamsockCore === 'ready' && !wasReady) {
        wasReady = true;
        slot.ready = true;
        slot.readyAt = Date.now();
        if (slot.restarts === 0 && ++readyCount === s.count) settle?.resolve();
      } else if (m.beamsockCore === 'failed') {
        failure = m.error;
      }
    });
    worker.once('exit', (code, signal) => {
      if (slot.worker === worker) slot.worker = undefined;
      if (stopping !== undefined) return;
      const how = signal === null ? `code ${String(code)}` : `signal ${signal}`;
      if (slot.restarts === 0 && !wasReady) {
        // The program cannot start: restarting would loop. Say why, once.
        void stop().then(() => settle?.reject(new Error(`runOnCores: worker ${slot.name} exited (${how}) before it was ready${failure === undefined ? '' : `: ${failure}`}`)));
        return;
      }
      slot.fastDeaths = !wasReady || Date.now() - slot.readyAt < STABLE_MS ? slot.fastDeaths + 1 : 0;
      const delay = Math.min(s.maxRestartDelayMs, s.restartDelayMs * 2 ** Math.max(0, slot.fastDeaths - 1));
      report({
        kind: 'cluster',
        event: 'worker_exit',
        node: slot.name,
        lost: 0,
        detail: `worker process ${String(worker.process.pid)} exited (${how})${failure === undefined ? '' : `: ${failure}`}; restarting in ${delay} ms`,
      });
      slot.restarts++;
      totalRestarts++;
      slot.timer = setTimeout(() => fork(slot), delay);
    });
  };

  const stopOne = (slot: Slot): Promise<void> => {
    if (slot.timer !== undefined) clearTimeout(slot.timer);
    slot.timer = undefined;
    const worker = slot.worker;
    if (worker === undefined || worker.process.exitCode !== null || worker.process.signalCode !== null) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const kill = setTimeout(() => worker.process.kill('SIGKILL'), s.shutdownTimeoutMs);
      worker.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      // Otherwise asked as soon as it listens.
      if (slot.listening) askToStop(worker);
    });
  };

  const askToStop = (worker: Worker): void => {
    try {
      worker.send({ beamsockCore: 'stop' } satisfies CoreMessage);
    } catch {
      // Its channel is already gone: it is exiting, or is killed when the timer fires.
    }
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    void stop().then(() => {
      // Ends the primary as the signal would have without this handler.
      process.kill(process.pid, signal);
    });
  };
  const onTerm = (): void => onSignal('SIGTERM');
  const onInt = (): void => onSignal('SIGINT');

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await Promise.all(slots.map(stopOne));
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
    })();
    return stopping;
  };

  if (s.handleSignals) {
    process.once('SIGTERM', onTerm);
    process.once('SIGINT', onInt);
  }
  for (const slot of slots) fork(slot);

  const handle: CoresPrimary = {
    role: 'primary',
    workers: () =>
      slots.flatMap((slot) =>
        slot.worker?.process.pid === undefined ? [] : [{ index: slot.index, name: slot.name, pid: slot.worker.process.pid, restarts: slot.restarts, ready: slot.ready }],
      ),
    restarts: () => totalRestarts,
    stop,
  };
  return ready.then(() => handle);
}
