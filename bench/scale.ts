/**
 * How cost grows with connections (`npm run bench -- scale`, not in the default
 * run: it opens up to 20,000 connections and takes several minutes).
 *
 * - echo with 1, 64, 1,000 and 10,000 connections, each with one 32-byte message in
 *   flight (a chat's shape) and with 16 pipelined: beamsock on `ws` beside bare `ws`
 *   (and the corked `ws` server when pipelined), beamsock on Bun beside bare `Bun.serve`;
 *   every server with the same connections, taking turns. One in flight, the note also
 *   gives the floor: the bare server doing only what any process hop must (the message
 *   queued and handled from `setImmediate`; on `ws` also made a string, written as one
 *   frame, with an `AsyncLocalStorage` in use; `bench/servers/bare-ws.ts`, `bun-bare.ts`).
 * - broadcast of 64 bytes to 1,000, 5,000 and 20,000 connections (as many as the fd
 *   limit allows): bare `ws`'s naive loop, a pre-framed write to each socket, and
 *   the message queued for each connection and written from `setImmediate` (the floor
 *   under the next two); beamsock's fastlane, PubSub without the fastlane and a `send`
 *   to each pid;
 *   Bun's `server.publish` and beamsock's fastlane on Bun. One server at a time holds
 *   the connections (the client side of two would pass the fd limit); its ways of
 *   broadcasting take turns.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer as startBun } from './bun.js';
import { BroadcastTimer, echoLoad, withClients, type BroadcastFigure, type RawClient } from './load-client.js';
import { pct, withServer, withServerCpu, ECHO_PAYLOAD, BROADCAST_BYTES, BROADCAST_WARMUP, BROADCASTS, BROADCAST_PAUSE_MS, type ServedFigure } from './measure.js';
import type { BenchResult } from './report.js';
import { ServerChild, budgetLabel, connectionBudget } from './servers/server-child.js';
import { startServer as startWs } from './ws.js';

const ECHO_COUNTS = [1, 64, 1000, 10_000] as const;
const PIPELINED = 16;
const WARMUP_MS = 500;
const MEASURE_MS = 2000;
const CAST_COUNTS = [1000, 5000, 20_000] as const;

type Server = 'bare-ws' | 'hop-ws' | 'corked-ws' | 'beamsock' | 'bun-bare' | 'bun-hop' | 'bun-beamsock';
const LABELS: Readonly<Record<Server, string>> = {
  'bare-ws': 'bare ws',
  'hop-ws': 'bare ws with a process hop',
  'corked-ws': 'ws corked per read',
  beamsock: 'beamsock on ws',
  'bun-bare': 'bare Bun.serve',
  'bun-hop': 'bare Bun.serve with a process hop',
  'bun-beamsock': 'beamsock on Bun',
};

function start(server: Server, args: readonly string[] = []): Promise<ServerChild> {
  if (server === 'bun-bare' || server === 'bun-beamsock') return startBun(server, args);
  if (server === 'bun-hop') return startBun('bun-bare', ['hop', ...args]);
  // The floor under beamsock's lone message: bare ws doing only what any process hop must (see bare-ws.ts).
  if (server === 'hop-ws') return startWs('bare-ws', ['hop', 'als', ...args]);
  return startWs(server, args);
}

/** Runs `fn` with `count` upgraded clients of a fresh `server` child; everything is stopped afterwards. */
function connected<T>(server: Server, args: readonly string[], count: number, fn: (child: ServerChild, clients: RawClient[]) => Promise<T>): Promise<T> {
  return withServer(
    () => start(server, args),
    (child) =>
      withClients(child.port, count, async (clients) => {
        await child.awaitCount(count);
        return fn(child, clients);
      }),
  );
}

// Echo -----------------------------------------------------------------------------------

interface EchoCase {
  readonly count: number;
  readonly inFlight: number;
}

/** One echo figure per server and in-flight count, every server holding `count` connections (as many as the fd limit allows) in turn. */
async function echoAt(count: number): Promise<Map<string, ServedFigure>> {
  const figures = new Map<string, ServedFigure>();
  const open = connectionBudget(count, 1);
  for (const server of Object.keys(LABELS) as Server[]) {
    const modes = server === 'corked-ws' ? [PIPELINED] : server === 'hop-ws' || server === 'bun-hop' ? [1] : [1, PIPELINED];
    await connected(server, [], open, async (child, clients) => {
      for (const inFlight of modes) {
        const f = await withServerCpu(child, (onWindow) => echoLoad(clients, { inFlight, payloadBytes: ECHO_PAYLOAD, warmupMs: WARMUP_MS, measureMs: MEASURE_MS, onWindow }));
        figures.set(key(server, { count, inFlight }), f);
        // Frames still in flight come back before the next load starts.
        await sleep(100);
      }
    });
  }
  return figures;
}

function key(server: Server, c: EchoCase): string {
  return `${server}/${c.count}/${c.inFlight}`;
}

function echoRows(figures: ReadonlyMap<string, ServedFigure>): BenchResult[] {
  const rows: BenchResult[] = [];
  const get = (server: Server, c: EchoCase): ServedFigure => figures.get(key(server, c)) as ServedFigure;
  for (const count of ECHO_COUNTS) {
    for (const inFlight of [1, PIPELINED]) {
      const c = { count, inFlight };
      const shape = `${count.toLocaleString('en-US')} conn${count === 1 ? '' : 's'} x ${inFlight} in flight`;
      const wsBase: Server = inFlight === 1 ? 'bare-ws' : 'corked-ws';
      for (const [server, base] of [
        ['beamsock', wsBase],
        ['bun-beamsock', 'bun-bare'],
      ] as const) {
        const f = get(server, c);
        const b = get(base, c);
        const also = (label: string, other: Server): string =>
          `; ${label}${LABELS[other]} ${Math.round(get(other, c).perSecond).toLocaleString('en-US')} rt/s, ${get(other, c).serverUsPerOp.toFixed(2)} us`;
        const bare = inFlight !== 1 ? (server === 'beamsock' ? also('', 'bare-ws') : '') : also('the floor, ', server === 'beamsock' ? 'hop-ws' : 'bun-hop');
        rows.push({
          name: `echo ${shape}, ${LABELS[server]}`,
          value: f.perSecond,
          unit: 'round trips/s',
          baseline: { label: LABELS[base], value: b.perSecond },
          target: { ratioAtLeast: server === 'beamsock' ? 1 : 0.95 },
          note: `server CPU ${pct(f.serverCpu)} of a core (${LABELS[base]}: ${pct(b.serverCpu)}), load client ${pct(f.clientCpu)} (${pct(b.clientCpu)})${bare}`,
        });
        rows.push({
          name: `server CPU per round trip, ${shape}, ${LABELS[server]}`,
          value: f.serverUsPerOp,
          unit: 'us',
          baseline: { label: LABELS[base], value: b.serverUsPerOp },
        });
      }
    }
  }
  return rows;
}

// Broadcast ------------------------------------------------------------------------------

/** The ways each broadcasting server is asked to broadcast (its `mode`s), and how the table names them. */
const CASTS: readonly { readonly server: Server; readonly modes: readonly (readonly [string, string])[] }[] = [
  {
    server: 'bare-ws',
    modes: [
      ['naive', 'ws naive loop'],
      ['preframed', 'ws pre-framed writes'],
      ['hop', 'ws hop to each connection'],
    ],
  },
  {
    server: 'beamsock',
    modes: [
      ['fastlane', 'beamsock PubSub fastlane'],
      ['pubsub', 'beamsock PubSub, default dispatcher'],
      ['send', 'beamsock send to each pid'],
    ],
  },
  { server: 'bun-bare', modes: [['publish', 'Bun server.publish']] },
  { server: 'bun-beamsock', modes: [['fastlane', 'beamsock fastlane on Bun']] },
];

/** Median figures of every way of broadcasting to `count` connections, by its label. */
async function castAt(count: number): Promise<Map<string, BroadcastFigure>> {
  const message = 'b'.repeat(BROADCAST_BYTES);
  const figures = new Map<string, BroadcastFigure>();
  for (const { server, modes } of CASTS) {
    await connected(server, ['pubsub'], count, async (child, clients) => {
      const timers = modes.map(([mode, label]) => {
        // Bare Bun.serve broadcasts one way only and takes no mode.
        const fields = server === 'bun-bare' ? { message } : { message, mode };
        return [label, new BroadcastTimer(`${child.name} ${mode}`, clients, () => child.request('broadcast', fields))] as const;
      });
      for (let n = 0; n < BROADCAST_WARMUP + BROADCASTS; n++) {
        for (let k = 0; k < timers.length; k++) {
          await (timers[(n + k) % timers.length] as (typeof timers)[number])[1].once(n >= BROADCAST_WARMUP);
          await sleep(BROADCAST_PAUSE_MS);
        }
      }
      for (const [label, timer] of timers) figures.set(label, timer.figure());
    });
  }
  return figures;
}

function castRows(count: number, wanted: number, f: ReadonlyMap<string, BroadcastFigure>): BenchResult[] {
  const naive = f.get('ws naive loop') as BroadcastFigure;
  const hop = f.get('ws hop to each connection') as BroadcastFigure;
  const publish = f.get('Bun server.publish') as BroadcastFigure;
  const n = budgetLabel(count, wanted);
  const rows: BenchResult[] = [];
  const targets: Readonly<Record<string, BenchResult['target']>> = {
    'beamsock PubSub fastlane': { ratioAtMost: 1 / 1.5 },
    'beamsock PubSub, default dispatcher': { ratioAtMost: 1 },
    'beamsock send to each pid': { ratioAtMost: 1 },
    'beamsock fastlane on Bun': { ratioAtMost: 1 },
  };
  // Through each connection's process: beside the floor of any such broadcast too, bare ws handing the message to each connection's queue.
  const throughProcesses = new Set(['beamsock PubSub, default dispatcher', 'beamsock send to each pid']);
  for (const label of ['ws pre-framed writes', 'ws hop to each connection', 'beamsock PubSub fastlane', 'beamsock PubSub, default dispatcher', 'beamsock send to each pid', 'beamsock fastlane on Bun']) {
    const x = f.get(label) as BroadcastFigure;
    const base = label.endsWith('on Bun') ? (['Bun server.publish', publish] as const) : (['ws naive loop', naive] as const);
    const target = targets[label];
    rows.push({
      name: `broadcast ${BROADCAST_BYTES} B to ${n}, ${label}`,
      value: x.ms,
      unit: 'ms',
      baseline: { label: base[0], value: base[1].ms },
      ...(target === undefined ? {} : { target }),
      note:
        `until the last client has it; median of ${BROADCASTS} after ${BROADCAST_WARMUP} warm-up; server CPU ${x.serverCpuMs.toFixed(1)} ms per broadcast ` +
        `(${base[0]}: ${base[1].serverCpuMs.toFixed(1)} ms), server wall ${x.serverWallMs.toFixed(1)} ms (${base[1].serverWallMs.toFixed(1)} ms)` +
        (throughProcesses.has(label)
          ? `; ${(x.ms / hop.ms).toFixed(2)}x the time and ${(x.serverCpuMs / hop.serverCpuMs).toFixed(2)}x the server CPU of its floor, ws hop to each connection (${hop.ms.toFixed(1)} ms, ${hop.serverCpuMs.toFixed(1)} ms CPU)`
          : ''),
    });
  }
  return rows;
}

// The table -------------------------------------------------------------------------------

/**
 * Runs the scaling benchmarks and returns one row per figure, each beside its
 * bare baseline measured in the same run. Every server child is killed either way.
 *
 * @example
 * console.log(formatTable(await run()));
 */
export async function run(): Promise<BenchResult[]> {
  try {
    const echoes = new Map<string, ServedFigure>();
    for (const count of ECHO_COUNTS) for (const [k, f] of await echoAt(count)) echoes.set(k, f);
    const rows = echoRows(echoes);
    for (const wanted of CAST_COUNTS) {
      const count = connectionBudget(wanted, 1);
      rows.push(...castRows(count, wanted, await castAt(count)));
    }
    return rows;
  } finally {
    ServerChild.killAll();
  }
}
