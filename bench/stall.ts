/**
 * Stalls from mass work (`npm run bench -- stall`): a server holds 10,000 idle
 * connections whose idle timeout is set, all at once, to a second; they time out
 * together and each closes (the clients answer the close frame as a browser does).
 * Meanwhile a well-behaved client in its own process (`latency-client.ts`) sends
 * an echo every 2 ms and measures every round trip: p50, p99 and the largest,
 * quiet (the same server with the same connections, before) and through the
 * burst (from the moment the connections idle out until the last is closed).
 *
 * beamsock on `ws` (the idle wheel, the connection processes, their closes)
 * beside bare `ws` with a timer per connection that closes it (the way an
 * application on bare `ws` times connections out), each server in turn.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LatencyWindow } from './latency-client.js';
import { answerCloses, withClients } from './load-client.js';
import { withServer } from './measure.js';
import type { BenchResult } from './report.js';
import type { ControlReply, StallFigures } from './servers/control.js';
import { ServerChild, budgetLabel, connectionBudget, STEP_TIMEOUT_MS } from './servers/server-child.js';
import { startServer, type Variant } from './ws.js';

const IDLE = 10_000;
const QUIET_MS = 3000;
/** The idle timeout every connection gets at once. */
const TIMEOUT_MS = 1000;

const LATENCY_CLIENT = fileURLToPath(new URL('./latency-client.ts', import.meta.url));

/** The latency client's process, asked for one window of round trips at a time. */
class LatencyClient {
  private constructor(private readonly child: ChildProcess) {}

  static async start(port: number): Promise<LatencyClient> {
    const child = fork(LATENCY_CLIENT, [String(port)], { execArgv: ['--conditions=beamsock-source', '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`the latency client exited (code ${String(code)}) before it connected`)));
    });
    return new LatencyClient(child);
  }

  /** Round trips since the last call. */
  window(): Promise<LatencyWindow> {
    return new Promise((resolve) => {
      this.child.once('message', (w: LatencyWindow) => resolve(w));
      this.child.send('window');
    });
  }

  stop(): void {
    this.child.kill();
  }
}

interface StallFigure {
  readonly quiet: LatencyWindow;
  readonly burst: LatencyWindow;
  /** Ms from the timeout until every idle connection is closed. */
  readonly closeMs: number;
  /** Server CPU ms over the same. */
  readonly cpuMs: number;
  /** The server's longest gap between two turns of its event loop, quiet and through the burst (see control.ts). */
  readonly quietStall: StallFigures;
  readonly burstStall: StallFigures;
}

async function stallOf(variant: Variant, idle: number): Promise<StallFigure> {
  return withServer(
    () => startServer(variant),
    async (server) => {
      const good = await LatencyClient.start(server.port);
      try {
        return await withClients(server.port, idle, async (clients) => {
          answerCloses(clients);
          await server.awaitCount(idle + 1);
          await good.window();
          await server.request('stalls');
          await sleep(QUIET_MS);
          const quiet = await good.window();
          const quietStall = stallsOf(await server.request('stalls'));
          await server.request('arm', { ms: TIMEOUT_MS });
          // Setting the timeouts is work of its own; the burst is the timing out.
          await sleep(TIMEOUT_MS / 2);
          await good.window();
          await server.request('stalls');
          const cpu0 = await server.cpuMs();
          await sleep(TIMEOUT_MS / 2);
          const start = performance.now();
          await untilOne(server);
          const closeMs = performance.now() - start;
          const cpuMs = (await server.cpuMs()) - cpu0;
          const burst = await good.window();
          const burstStall = stallsOf(await server.request('stalls'));
          return { quiet, burst, closeMs, cpuMs, quietStall, burstStall };
        });
      } finally {
        good.stop();
      }
    },
  );
}

function stallsOf(r: ControlReply): StallFigures {
  const { stallCpuMs, stallWallMs, gcCount, gcMaxMs, gcTotalMs } = r;
  if (stallCpuMs === undefined || stallWallMs === undefined || gcCount === undefined || gcMaxMs === undefined || gcTotalMs === undefined) {
    throw new Error(`a server answered 'stalls' without its figures: ${JSON.stringify(r)}`);
  }
  return { stallCpuMs, stallWallMs, gcCount, gcMaxMs, gcTotalMs };
}

function gcOf(s: StallFigures): string {
  return `${s.gcCount} GC pauses, the longest ${ms(s.gcMaxMs)}, ${ms(s.gcTotalMs)} in all`;
}

/** Waits until only the latency client's connection is left, polling often enough to time the closes. */
async function untilOne(server: ServerChild): Promise<void> {
  const deadline = performance.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const count = (await server.request('count')).count as number;
    if (count <= 1) return;
    if (performance.now() > deadline) throw new Error(`${server.name} still holds ${count} connections ${STEP_TIMEOUT_MS} ms after their idle timeout`);
    await sleep(10);
  }
}

function ms(n: number): string {
  return `${n.toFixed(2)} ms`;
}

/**
 * Runs the stall benchmark and returns one row per figure: the good client's
 * round trips through the burst beside its quiet value, for beamsock and bare `ws`.
 *
 * @example
 * console.log(formatTable(await run()));
 */
export async function run(): Promise<BenchResult[]> {
  try {
    // The load client holds the idle connections; the server child one each.
    const idle = connectionBudget(IDLE, 1);
    const bare = await stallOf('bare-ws', idle);
    const beam = await stallOf('beamsock', idle);
    const how =
      `${budgetLabel(idle, IDLE)} idle connections given a ${TIMEOUT_MS} ms idle timeout at once, answering the close frame; a client in its own ` +
      `process sends a 32-byte echo every 2 ms; quiet: ${QUIET_MS / 1000} s before`;
    const rows: BenchResult[] = [];
    for (const [label, f] of [
      ['beamsock on ws', beam],
      ['bare ws, a timer each', bare],
    ] as const) {
      const about =
        `${how}; burst: from the timeout until the last idle connection closed (${ms(f.closeMs)}, server CPU ${ms(f.cpuMs)}), ` +
        `${f.burst.count} round trips (quiet ${f.quiet.count}); p50 ${ms(f.burst.p50)} (quiet ${ms(f.quiet.p50)}), max ${ms(f.burst.max)} (quiet ${ms(f.quiet.max)})`;
      rows.push({
        name: `good client's p99 echo while 10,000 idle out, ${label}`,
        value: f.burst.p99,
        unit: 'ms',
        baseline: { label: 'its quiet p99', value: f.quiet.p99 },
        ...(label === 'beamsock on ws' ? { target: { ratioAtMost: 2 } } : {}),
        note: about,
      });
      rows.push({
        name: `good client's max echo while 10,000 idle out, ${label}`,
        value: f.burst.max,
        unit: 'ms',
        baseline: { label: 'its quiet max', value: f.quiet.max },
      });
      rows.push({
        name: `server's longest event-loop stall in CPU while 10,000 idle out, ${label}`,
        value: f.burstStall.stallCpuMs,
        unit: 'ms',
        baseline: { label: 'quiet', value: f.quietStall.stallCpuMs },
        note:
          `server CPU time between two runs of a 1 ms interval timer, the longest (it does not grow when other processes take the core, ` +
          `as wall-clock latency does on this busy machine); in wall-clock time ${ms(f.burstStall.stallWallMs)} (quiet ${ms(f.quietStall.stallWallMs)}); ` +
          `through the burst V8 made ${gcOf(f.burstStall)} (quiet: ${gcOf(f.quietStall)}): ` +
          `young-generation collections of a heap holding 10,000 connections, which the closes' garbage brings on, and each delays every echo sent meanwhile`,
      });
    }
    rows.push({
      name: 'good client p99 through the burst, beamsock vs bare ws',
      value: beam.burst.p99,
      unit: 'ms',
      baseline: { label: 'bare ws, a timer each', value: bare.burst.p99 },
    });
    return rows;
  } finally {
    ServerChild.killAll();
  }
}
