/**
 * Runtime benchmarks: mailbox throughput, spawn rate and heap per idle process, and
 * `call` round trips, each beside the same work done by xstate v5 actors (or, for
 * calls, by the raw send/reply round trip that `call` is built on).
 */
import { createActor, fromTransition, type Actor } from 'xstate';
import { GenServer, type From, type GenServerImpl } from '../src/runtime/gen-server.js';
import { makeRef, type Pid, type Ref } from '../src/runtime/pid.js';
import { exit, self, send, spawn } from '../src/runtime/process.js';
import { idle } from '../src/runtime/scheduler.js';
import type { BenchResult } from './report.js';

const MESSAGES = 5_000_000;
const SPREAD_PROCESSES = 10_000;
const IDLE_PROCESSES = 100_000;
const XSTATE_ACTORS = 100_000;
const CALLS = 200_000;

/** One event object for every xstate send, so neither side allocates per message. */
const INC = { type: 'inc' } as const;
const counterLogic = fromTransition((n: number, _event: typeof INC) => n + 1, 0);
type Counter = Actor<typeof counterLogic>;

function collectGarbage(): void {
  if (globalThis.gc === undefined) throw new Error('run the benchmarks with node --expose-gc (npm run bench does)');
  globalThis.gc();
  globalThis.gc();
}

function perSecond(count: number, ms: number): number {
  return count / (ms / 1000);
}

/** Sends `total` messages round-robin over `receivers` processes; returns msgs/s from the first send until all were counted. */
async function beamsockThroughput(total: number, receivers: number): Promise<number> {
  let counted = 0;
  const receive = (_msg: number): void => {
    counted++;
  };
  const pids: Pid[] = [];
  for (let i = 0; i < receivers; i++) pids.push(spawn(receive));
  await idle();
  const start = performance.now();
  if (receivers === 1) {
    const pid = pids[0] as Pid;
    for (let i = 0; i < total; i++) send(pid, i);
  } else {
    for (let i = 0; i < total; i++) send(pids[i % receivers] as Pid, i);
  }
  await idle();
  const elapsed = performance.now() - start;
  if (counted !== total) throw new Error(`beamsock counted ${counted} of ${total} messages`);
  for (const pid of pids) exit(pid, 'kill');
  return perSecond(total, elapsed);
}

/** The same work through xstate actors whose logic counts events. */
function xstateThroughput(total: number, receivers: number): number {
  const actors: Counter[] = [];
  for (let i = 0; i < receivers; i++) actors.push(createActor(counterLogic).start());
  const start = performance.now();
  if (receivers === 1) {
    const actor = actors[0] as Counter;
    for (let i = 0; i < total; i++) actor.send(INC);
  } else {
    for (let i = 0; i < total; i++) (actors[i % receivers] as Counter).send(INC);
  }
  let counted = 0;
  for (const actor of actors) counted += actor.getSnapshot().context;
  const elapsed = performance.now() - start;
  if (counted !== total) throw new Error(`xstate counted ${counted} of ${total} events`);
  for (const actor of actors) actor.stop();
  return perSecond(total, elapsed);
}

/**
 * The floor under one receiver: the same messages pushed into one plain array, then a
 * function called for each, with no processes and no scheduler.
 */
function bareArrayThroughput(total: number): number {
  let counted = 0;
  const receive = (_msg: number): void => {
    counted++;
  };
  const start = performance.now();
  const queue: (number | undefined)[] = [];
  for (let i = 0; i < total; i++) queue.push(i);
  for (let i = 0; i < queue.length; i++) {
    const msg = queue[i] as number;
    queue[i] = undefined; // as a mailbox lets go of a handled message
    receive(msg);
  }
  const elapsed = performance.now() - start;
  if (counted !== total) throw new Error(`the bare loop counted ${counted} of ${total} messages`);
  return perSecond(total, elapsed);
}

async function mailboxThroughput(): Promise<BenchResult[]> {
  // Warm both paths up so neither is measured while the JIT is still compiling it.
  await beamsockThroughput(200_000, 1);
  await beamsockThroughput(200_000, 1000);
  xstateThroughput(200_000, 1);
  xstateThroughput(200_000, 1000);
  bareArrayThroughput(200_000);
  collectGarbage();
  const oneXstate = xstateThroughput(MESSAGES, 1);
  collectGarbage();
  const one = await beamsockThroughput(MESSAGES, 1);
  collectGarbage();
  const oneBare = bareArrayThroughput(MESSAGES);
  collectGarbage();
  const spreadXstate = xstateThroughput(MESSAGES, SPREAD_PROCESSES);
  collectGarbage();
  const spread = await beamsockThroughput(MESSAGES, SPREAD_PROCESSES);
  return [
    {
      name: 'send -> receive, 1 receiver',
      value: one,
      unit: 'msgs/s',
      baseline: { label: 'xstate actor.send', value: oneXstate },
      target: { atLeast: 10_000_000 },
      note: `${MESSAGES.toLocaleString('en-US')} messages, from the first send until idle() resolved and the receiver counted all`,
    },
    {
      name: 'send -> receive, 1 receiver vs xstate',
      value: one,
      unit: 'msgs/s',
      baseline: { label: 'xstate actor.send', value: oneXstate },
      target: { ratioAtLeast: 2 },
    },
    {
      name: 'send -> receive, 1 receiver vs a bare array',
      value: one,
      unit: 'msgs/s',
      baseline: { label: 'array push, then a call each', value: oneBare },
      note: `the floor: the same ${MESSAGES.toLocaleString('en-US')} messages pushed into one plain array, then a function called for each (no processes, no scheduler)`,
    },
    {
      name: `send -> receive, ${SPREAD_PROCESSES.toLocaleString('en-US')} receivers`,
      value: spread,
      unit: 'msgs/s',
      baseline: { label: 'xstate actor.send', value: spreadXstate },
      target: { ratioAtLeast: 2 },
      note: `${MESSAGES.toLocaleString('en-US')} messages round-robin over ${SPREAD_PROCESSES.toLocaleString('en-US')} processes (xstate: as many actors)`,
    },
  ];
}

/** Spawns `n` processes sharing one receive function, each handling one message; returns spawns/s and heap bytes per process. */
async function beamsockIdleProcesses(n: number): Promise<{ rate: number; bytes: number }> {
  const pids: Pid[] = new Array<Pid>(n);
  const receive = (_msg: number): void => {};
  await idle();
  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  const start = performance.now();
  for (let i = 0; i < n; i++) pids[i] = spawn(receive);
  const elapsed = performance.now() - start;
  for (let i = 0; i < n; i++) send(pids[i] as Pid, i);
  await idle();
  collectGarbage();
  const bytes = (process.memoryUsage().heapUsed - before) / n;
  for (const pid of pids) exit(pid, 'kill');
  return { rate: perSecond(n, elapsed), bytes };
}

/** The same for xstate: `n` started counter actors, each having handled one event. */
function xstateIdleActors(n: number): { rate: number; bytes: number } {
  const actors: Counter[] = new Array<Counter>(n);
  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  const start = performance.now();
  for (let i = 0; i < n; i++) actors[i] = createActor(counterLogic).start();
  const elapsed = performance.now() - start;
  for (let i = 0; i < n; i++) (actors[i] as Counter).send(INC);
  collectGarbage();
  const bytes = (process.memoryUsage().heapUsed - before) / n;
  for (const actor of actors) actor.stop();
  return { rate: perSecond(n, elapsed), bytes };
}

async function idleProcesses(): Promise<BenchResult[]> {
  await beamsockIdleProcesses(10_000);
  xstateIdleActors(10_000);
  const ours = await beamsockIdleProcesses(IDLE_PROCESSES);
  const theirs = xstateIdleActors(XSTATE_ACTORS);
  collectGarbage();
  const count = `${IDLE_PROCESSES.toLocaleString('en-US')} processes (xstate: ${XSTATE_ACTORS.toLocaleString('en-US')} actors)`;
  return [
    {
      name: 'spawn',
      value: ours.rate,
      unit: 'spawns/s',
      baseline: { label: 'xstate createActor+start', value: theirs.rate },
      note: `${count}, all sharing one receive function`,
    },
    {
      name: 'heap per idle process',
      value: ours.bytes,
      unit: 'bytes',
      baseline: { label: 'xstate per actor', value: theirs.bytes },
      target: { atMost: 400 },
      note: `${count}, each having handled one message; heapUsed delta / N between gc() calls (the bench's own array of pids is allocated before)`,
    },
  ];
}

const echo = {
  name: 'Echo',
  init: () => ({ ok: null }),
  handleCall: (request: number, _from: From, state: null) => ({ reply: request, state }),
} satisfies GenServerImpl<null, number, number>;

/** `n` sequential GenServer.call round trips from a client process; returns calls/s. */
async function genServerCalls(n: number, timeoutMs: number): Promise<number> {
  const server = await GenServer.start(echo, undefined);
  let elapsed = 0;
  await new Promise<void>((resolve, reject) => {
    const client = spawn(async () => {
      const start = performance.now();
      for (let i = 0; i < n; i++) {
        if ((await GenServer.call<number>(server, i, timeoutMs)) !== i) reject(new Error(`call ${i} got a wrong reply`));
      }
      elapsed = performance.now() - start;
      resolve();
    });
    send(client, 'go');
  });
  exit(server, 'kill');
  return perSecond(n, elapsed);
}

interface Request {
  readonly ref: Ref;
  readonly from: Pid;
  readonly n: number;
}

/** `n` sequential raw round trips: the request carries a ref and the caller's pid, the callee sends the reply back. */
async function rawRoundTrips(n: number): Promise<number> {
  const server = spawn((req: Request) => send(req.from, { ref: req.ref, n: req.n }));
  let elapsed = 0;
  await new Promise<void>((resolve, reject) => {
    let waiting: Ref | undefined;
    let done = 0;
    let start = 0;
    const ask = (): void => {
      waiting = makeRef();
      send(server, { ref: waiting, from: self(), n: done });
    };
    const client = spawn((msg: 'go' | { ref: Ref; n: number }) => {
      if (msg === 'go') {
        start = performance.now();
        ask();
        return;
      }
      if (msg.ref !== waiting || msg.n !== done) reject(new Error(`round trip ${done} got a wrong reply`));
      if (++done < n) ask();
      else {
        elapsed = performance.now() - start;
        resolve();
      }
    });
    send(client, 'go');
  });
  exit(server, 'kill');
  return perSecond(n, elapsed);
}

async function callRoundTrips(): Promise<BenchResult[]> {
  await genServerCalls(20_000, 5000);
  await genServerCalls(20_000, Infinity);
  await rawRoundTrips(20_000);
  collectGarbage();
  const calls = await genServerCalls(CALLS, 5000);
  collectGarbage();
  const untimed = await genServerCalls(CALLS, Infinity);
  collectGarbage();
  const raw = await rawRoundTrips(CALLS);
  const baseline = { label: 'raw send/reply', value: raw };
  return [
    {
      name: 'GenServer.call round trip',
      value: calls,
      unit: 'calls/s',
      baseline,
      note: `${CALLS.toLocaleString('en-US')} sequential calls from a client process to an echo server, default 5 s timeout; baseline: the same round trip between two core processes (request with a ref and the caller's pid, reply sent back)`,
    },
    {
      name: 'GenServer.call round trip, no timeout',
      value: untimed,
      unit: 'calls/s',
      baseline,
      note: 'as above with timeoutMs = Infinity, so no timer is set per call',
    },
  ];
}

/** Runs every runtime benchmark; see bench/report.ts for the result shape. */
export async function run(): Promise<BenchResult[]> {
  return [...(await mailboxThroughput()), ...(await idleProcesses()), ...(await callRoundTrips())];
}
