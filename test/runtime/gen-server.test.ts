import { describe, expect, it } from 'vitest';
import {
  CallError,
  From,
  GenServer,
  StartError,
  call,
  cast,
  reply,
  type GenServerImpl,
} from '../../src/runtime/gen-server.js';
import { exit, isAlive, link, processInfo, procOf, rootPid, self, send, spawn, whereis } from '../../src/runtime/process.js';
import { idle } from '../../src/runtime/scheduler.js';
import type { Pid } from '../../src/runtime/pid.js';
import type { ExitReason } from '../../src/runtime/reasons.js';
import { exitReasonOf } from '../support/exits.js';
import { captureReports } from '../support/reports.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runtime watchers on `pid` (pending calls hold one each); processInfo().monitoredBy lists only process monitors. */
function watcherCount(pid: Pid): number {
  return procOf(pid)?.monitoredBy?.size ?? 0;
}

/** Counts the timers created while `body` runs that neither fired nor were cleared. */
async function pendingTimersAfter(body: () => Promise<void>): Promise<number> {
  const live = new Set<unknown>();
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const handle = realSet(() => {
      live.delete(handle);
      fn(...args);
    }, ms);
    live.add(handle);
    return handle;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((handle: NodeJS.Timeout | undefined) => {
    live.delete(handle);
    realClear(handle);
  }) as typeof clearTimeout;
  try {
    await body();
  } finally {
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
  }
  return live.size;
}

type CounterCall = 'get' | 'crash' | 'park' | { set: number } | 'stopWithReply';
interface CounterState {
  n: number;
  parked: From[];
  log: string[];
}

const counter = {
  name: 'Counter',
  init: (n: number) => ({ ok: { n, parked: [] as From[], log: [] as string[] } }),
  handleCall(req: CounterCall, from: From, s: CounterState) {
    if (req === 'get') return { reply: s.n, state: s };
    if (req === 'crash') throw new Error('boom');
    if (req === 'park') return { noreply: true as const, state: { ...s, parked: [...s.parked, from] } };
    if (req === 'stopWithReply') return { stop: 'normal', reply: 'bye', state: s };
    return { reply: 'ok', state: { ...s, n: req.set } };
  },
  handleCast: (by: number, s: CounterState) => ({ noreply: true as const, state: { ...s, n: s.n + by } }),
  handleInfo(msg: unknown, s: CounterState) {
    if (msg === 'release') {
      for (const f of s.parked) reply(f, `released ${s.n}`);
      return { noreply: true as const, state: { ...s, parked: [] } };
    }
    if (typeof msg === 'object' && msg !== null && 'type' in msg) return { noreply: true as const, state: { ...s, log: [...s.log, String(msg.type)] } };
    return { noreply: true as const, state: { ...s, n: s.n + 100 } };
  },
} satisfies GenServerImpl<CounterState, CounterCall, unknown, number, unknown, number>;

const reports = captureReports();

describe('GenServer basics', () => {
  it('cast to a name nobody holds is dropped without an error, as in Elixir (send would throw)', () => {
    expect(() => cast('nobody-here', 1)).not.toThrow();
    expect(() => cast(undefined as unknown as Pid, 1)).toThrow(TypeError);
  });

  it('answers calls, applies casts and plain messages in mailbox order', async () => {
    const pid = await GenServer.start(counter, 1);
    expect(await call(pid, 'get')).toBe(1);
    cast(pid, 2);
    send(pid, 'anything');
    expect(await call(pid, 'get')).toBe(103);
    expect(await call(pid, { set: 7 })).toBe('ok');
    expect(await call(pid, 'get')).toBe(7);
  });

  it('finds a server by its registered name', async () => {
    const pid = await GenServer.start(counter, 5, { name: 'named-counter' });
    expect(whereis('named-counter')).toBe(pid);
    expect(await call('named-counter', 'get')).toBe(5);
    await GenServer.stop('named-counter');
    expect(whereis('named-counter')).toBeUndefined();
  });

  it('lets handleCall return noreply and answer later with reply(from, value)', async () => {
    const pid = await GenServer.start(counter, 3);
    const a = call(pid, 'park');
    const b = call(pid, 'park');
    cast(pid, 1);
    await idle();
    send(pid, 'release');
    expect(await Promise.all([a, b])).toEqual(['released 4', 'released 4']);
  });

  it('ignores a second reply and a reply after the caller timed out', async () => {
    let saved: From | undefined;
    const impl = {
      init: () => ({ ok: 0 }),
      handleCall: (_req: unknown, from: From, s: number) => {
        saved = from;
        return { noreply: true as const, state: s };
      },
    } satisfies GenServerImpl<number, unknown>;
    const pid = await GenServer.start(impl, undefined);
    const late = call(pid, 'x', 20);
    await expect(late).rejects.toMatchObject({ reason: 'timeout' });
    // On a loaded machine the 20 ms may pass before the server has taken the request.
    await idle();
    expect(saved).toBeDefined();
    expect(() => reply(saved as From, 'too late')).not.toThrow();
    const answered = call(pid, 'y');
    await idle();
    reply(saved as From, 1);
    reply(saved as From, 2);
    expect(await answered).toBe(1);
  });

  it('stop runs terminate with the reason and resolves once the server has exited', async () => {
    const seen: unknown[] = [];
    const impl = { ...counter, terminate: (reason: ExitReason, s: CounterState) => void seen.push(reason, s.n) };
    const pid = await GenServer.start(impl, 9);
    const exited = exitReasonOf(pid);
    await GenServer.stop(pid, { shutdown: 'bye' });
    expect(isAlive(pid)).toBe(false);
    expect(seen).toEqual([{ shutdown: 'bye' }, 9]);
    expect(await exited).toEqual({ shutdown: 'bye' });
  });

  it('stop of a dead server rejects with noproc; a stop that times out kills the server', async () => {
    const dead = spawn(() => undefined);
    exit(dead, 'kill');
    await expect(GenServer.stop(dead)).rejects.toMatchObject({ reason: 'noproc' });
    const stubborn = {
      init: () => ({ ok: 0 }),
      terminate: () => sleep(10_000),
    } satisfies GenServerImpl<number>;
    const pid = await GenServer.start(stubborn, undefined);
    const exited = exitReasonOf(pid);
    await expect(GenServer.stop(pid, 'normal', 30)).rejects.toThrow(/stop of #PID<0\.\d+> timed out after 30 ms; the process was killed/);
    expect(await exited).toBe('killed');
  });

  it('a stop result with a reply answers after terminate and exits with the reason', async () => {
    const order: string[] = [];
    const impl = { ...counter, terminate: () => void order.push('terminate') };
    const pid = await GenServer.start(impl, 0);
    const exited = exitReasonOf(pid);
    const answer = call(pid, 'stopWithReply').then((v) => order.push(`reply ${String(v)}`));
    await answer;
    expect(order).toEqual(['terminate', 'reply bye']);
    expect(await exited).toBe('normal');
  });

  it('shows its module name through processInfo and runs in a gen_server process', async () => {
    const pid = await GenServer.start({ ...counter, describe: (s: CounterState) => ({ n: s.n }) }, 4);
    const info = processInfo(pid);
    expect(info?.kind).toBe('gen_server');
    expect(info?.details).toEqual({ module: 'Counter', n: 4 });
  });

  it('runs every callback with the impl as this, so a class instance works as an impl', async () => {
    class Scaled implements GenServerImpl<number, 'get', number, never, unknown, number> {
      readonly name = 'Scaled';
      constructor(readonly factor: number) {}
      init(n: number): { ok: number } {
        return { ok: n * this.factor };
      }
      handleCall(_req: 'get', _from: From, s: number): { reply: number; state: number } {
        return { reply: s * this.factor, state: s };
      }
    }
    const pid = await GenServer.start(new Scaled(10), 2);
    expect(await call(pid, 'get')).toBe(200);
  });

  it('hibernates when a result asks for it', async () => {
    const impl = {
      init: () => ({ ok: 0 }),
      handleCast: (_m: unknown, s: number) => ({ noreply: true as const, state: s, hibernate: true }),
    } satisfies GenServerImpl<number, never, unknown, unknown>;
    const pid = await GenServer.start(impl, undefined);
    cast(pid, 'sleep');
    await idle();
    expect(processInfo(pid)?.status).toBe('hibernated');
  });
});

describe('GenServer.call failures', () => {
  it('rejects with a timeout CallError naming the pid and the time', async () => {
    const pid = await GenServer.start(counter, 0);
    const err = await call(pid, 'park', 40).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CallError);
    expect((err as CallError).reason).toBe('timeout');
    expect((err as CallError).message).toBe(`call to ${String(pid)} timed out after 40 ms`);
  });

  it('rejects at once with noproc for a dead pid or an unregistered name', async () => {
    const pid = await GenServer.start(counter, 0);
    await GenServer.stop(pid);
    const err = await call(pid, 'get').catch((e: unknown) => e);
    expect((err as CallError).reason).toBe('noproc');
    expect((err as CallError).message).toBe(`call to ${String(pid)} failed: noproc (the process is not alive)`);
    await expect(call('nobody-here', 'get')).rejects.toThrow("call to 'nobody-here' failed: noproc (no process is registered under that name)");
  });

  it('rejects with the callee exit reason when it exits mid-call', async () => {
    const pid = await GenServer.start(counter, 0);
    const pending = call(pid, 'park');
    await idle();
    exit(pid, { shutdown: 'gone' });
    const err = (await pending.catch((e: unknown) => e)) as CallError;
    expect(err.reason).toEqual({ shutdown: 'gone' });
    expect(err.message).toBe(`call to ${String(pid)} failed: the process exited with {shutdown, gone}`);
  });

  it('rejects with {error, ...} when the callee crashes handling the call', async () => {
    const pid = await GenServer.start(counter, 0);
    const err = (await call(pid, 'crash').catch((e: unknown) => e)) as CallError;
    expect(err.message).toBe(`call to ${String(pid)} failed: the process exited with {error, Error: boom}`);
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('crashes a server without handleCall or handleCast with an error that says so', async () => {
    const bare = { name: 'Bare', init: () => ({ ok: 0 }) } satisfies GenServerImpl<number>;
    const a = await GenServer.start(bare, undefined);
    await expect(call(a, 'hi')).rejects.toThrow(/Bare received a call \(hi\) but does not implement handleCall/);
    const b = await GenServer.start(bare, undefined);
    const exited = exitReasonOf(b);
    cast(b, 'hi');
    expect(String((((await exited) as { error: Error }).error).message)).toMatch(/Bare received a cast \(hi\) but does not implement handleCast/);
  });

  it('a server without handleInfo ignores plain messages', async () => {
    const impl = { init: () => ({ ok: 1 }), handleCall: (_r: unknown, _f: From, s: number) => ({ reply: s, state: s }) } satisfies GenServerImpl<number, unknown>;
    const pid = await GenServer.start(impl, undefined);
    send(pid, 'stray');
    expect(await call(pid, 'get')).toBe(1);
  });

  it('rejects a call a server makes to itself instead of deadlocking', async () => {
    const impl = {
      init: () => ({ ok: 0 }),
      handleCast: async (_m: unknown, s: number) => {
        const err = await call(self(), 'x').catch((e: unknown) => e);
        send('gs-self-probe', (err as CallError).reason);
        return { noreply: true as const, state: s };
      },
    } satisfies GenServerImpl<number, never, unknown, unknown>;
    const got: unknown[] = [];
    spawn((m) => void got.push(m), { name: 'gs-self-probe' });
    const pid = await GenServer.start(impl, undefined);
    cast(pid, 'go');
    await idle();
    expect(got).toEqual(['calling_self']);
  });

  it('throws TypeError for a bad timeout', () => {
    expect(() => call(rootPid(), 'x', -1)).toThrow(TypeError);
  });
});

describe('GenServer.call from inside and outside processes', () => {
  it('works from plain code, with the root pid as the caller', async () => {
    let caller: Pid | undefined;
    const impl = {
      init: () => ({ ok: 0 }),
      handleCall: (_r: unknown, from: From, s: number) => {
        caller = from.pid;
        return { reply: 'hi', state: s };
      },
    } satisfies GenServerImpl<number, unknown>;
    const pid = await GenServer.start(impl, undefined);
    expect(await call(pid, 'x')).toBe('hi');
    expect(caller).toBe(rootPid());
  });

  it('works from inside a process, whose later messages wait and whose self() survives the await', async () => {
    const pid = await GenServer.start(counter, 42);
    const got: unknown[] = [];
    const client = spawn(async (msg: unknown) => {
      if (msg === 'ask') {
        const n = await call(pid, 'get');
        got.push(['answer', n, self()]);
      } else {
        got.push(msg);
      }
    });
    send(client, 'ask');
    send(client, 'second');
    await idle();
    expect(got).toEqual([['answer', 42, client], 'second']);
  });
});

describe('GenServer start', () => {
  it('resolves after an async init, with the state init produced', async () => {
    const impl = {
      init: async (n: number) => {
        await sleep(20);
        return { ok: n * 2 };
      },
      handleCall: (_r: 'get', _f: From, s: number) => ({ reply: s, state: s }),
    } satisfies GenServerImpl<number, 'get', number, never, unknown, number>;
    const pid = await GenServer.start(impl, 21);
    expect(await call(pid, 'get')).toBe(42);
  });

  it('rejects when init returns stop, and the process exits with that reason', async () => {
    const impl = { name: 'Refuser', init: (): { stop: ExitReason } => ({ stop: { shutdown: 'no thanks' } }) };
    const err = (await GenServer.start(impl, undefined).catch((e: unknown) => e)) as StartError;
    expect(err).toBeInstanceOf(StartError);
    expect(err.reason).toEqual({ shutdown: 'no thanks' });
    expect(err.message).toMatch(/^Refuser #PID<0\.\d+> failed to start: \{shutdown, no thanks\}$/);
    expect(reports.filter((r) => r.kind === 'crash')).toHaveLength(0);
  });

  it('rejects when init throws, with one crash report', async () => {
    const impl = {
      init: (): { ok: number } => {
        throw new Error('bad config');
      },
    };
    const err = (await GenServer.start(impl, undefined).catch((e: unknown) => e)) as StartError;
    expect(err.message).toMatch(/failed to start: \{error, Error: bad config\}/);
    expect((err.cause as Error).message).toBe('bad config');
    expect(reports.filter((r) => r.kind === 'crash')).toHaveLength(1);
  });

  it('resolves to undefined when init ignores, and the process exits normally', async () => {
    const impl = { init: () => ({ ignore: true as const }) };
    expect(await GenServer.start(impl, undefined)).toBeUndefined();
  });

  it('kills a server whose init outlasts the timeout and rejects', async () => {
    const impl = { init: async () => sleep(5_000).then(() => ({ ok: 0 })) };
    const err = (await GenServer.start(impl, undefined, { timeout: 30 }).catch((e: unknown) => e)) as StartError;
    expect(err.reason).toBe('timeout');
    expect(err.message).toMatch(/init did not finish within 30 ms/);
  });

  it('rejects when the name is already registered', async () => {
    const first = await GenServer.start(counter, 0, { name: 'taken-name' });
    const err = (await GenServer.start(counter, 0, { name: 'taken-name' }).catch((e: unknown) => e)) as StartError;
    expect(err.reason).toEqual({ alreadyStarted: first });
  });

  it('throws TypeError naming a bad option', () => {
    expect(() => GenServer.start(counter, 0, { colour: 'red' } as never)).toThrow(/unknown option 'colour' in GenServer.start options/);
    expect(() => GenServer.start(counter, 0, { timeout: -5 })).toThrow(/option 'timeout'/);
    expect(() => GenServer.start(counter, 0, { trapExit: 'yes' as never })).toThrow(/'trapExit'/);
  });

  it('startLink needs a calling process and links the server to it', async () => {
    expect(() => GenServer.startLink(counter, 0)).toThrow(/inside a process/);
    const result: Pid[] = [];
    const parent = spawn(async () => {
      result.push((await GenServer.startLink(counter, 0)) as Pid);
    });
    send(parent, 'go');
    await idle();
    expect(processInfo(result[0] as Pid)?.links).toEqual([parent]);
    expect(processInfo(result[0] as Pid)?.parent).toBe(parent);
  });
});

describe('GenServer terminate', () => {
  it('runs on a stop result from handleCast with the state it returned', async () => {
    const seen: unknown[] = [];
    const impl = {
      init: () => ({ ok: 1 }),
      handleCast: (_m: unknown, s: number) => ({ stop: 'normal', state: s + 1 }),
      terminate: (reason: ExitReason, s: number) => void seen.push(reason, s),
    } satisfies GenServerImpl<number, never, unknown, unknown>;
    const pid = await GenServer.start(impl, undefined);
    const exited = exitReasonOf(pid);
    cast(pid, 'stop');
    expect(await exited).toBe('normal');
    expect(seen).toEqual(['normal', 2]);
  });

  it('runs when a callback throws, then the crash is reported once and the reason is {error}', async () => {
    const seen: unknown[] = [];
    const impl = { ...counter, terminate: async (reason: ExitReason) => void seen.push(reason) };
    const pid = await GenServer.start(impl, 0);
    const exited = exitReasonOf(pid);
    await call(pid, 'crash').catch(() => undefined);
    const reason = (await exited) as { error: Error };
    expect(reason.error.message).toBe('boom');
    expect(seen).toEqual([{ error: reason.error }]);
    const crashes = reports.filter((r) => r.kind === 'crash');
    expect(crashes).toHaveLength(1);
    expect(crashes[0]).toMatchObject({ pid, reason: { error: reason.error } });
  });

  it('runs on an EXIT from the parent when trapping exits, and exits with the parent reason', async () => {
    const seen: unknown[] = [];
    const impl = { ...counter, terminate: (reason: ExitReason) => void seen.push(reason) };
    let server: Pid | undefined;
    const parent = spawn(async () => {
      server = (await GenServer.startLink(impl, 0, { trapExit: true })) as Pid;
    });
    send(parent, 'go');
    await idle();
    const exited = exitReasonOf(server as Pid);
    exit(parent, 'shutdown');
    expect(await exited).toBe('shutdown');
    expect(seen).toEqual(['shutdown']);
  });

  it('is its own parent when started with start: a trapping one gets exit(pid, reason) from plain code as an EXIT message, as in OTP', async () => {
    const seen: unknown[] = [];
    const impl = { ...counter, terminate: (reason: ExitReason) => void seen.push(reason), describe: (s: CounterState) => ({ log: s.log }) };
    const pid = await GenServer.start(impl, 0, { trapExit: true });
    exit(pid, 'shutdown');
    await idle();
    expect(isAlive(pid)).toBe(true);
    expect(seen).toEqual([]);
    expect(processInfo(pid)?.details.log).toEqual(['EXIT']);
    const exited = exitReasonOf(pid);
    await GenServer.stop(pid, 'shutdown');
    expect(await exited).toBe('shutdown');
    expect(seen).toEqual(['shutdown']);
  });

  it('is its own parent when started with start: one that does not trap exits dies of exit(pid, reason) without terminate', async () => {
    const seen: unknown[] = [];
    const pid = await GenServer.start({ ...counter, terminate: (reason: ExitReason) => void seen.push(reason) }, 0);
    const exited = exitReasonOf(pid);
    exit(pid, 'shutdown');
    expect(await exited).toBe('shutdown');
    expect(seen).toEqual([]);
  });

  it('hands an EXIT from a linked process other than the parent to handleInfo', async () => {
    const impl = { ...counter, describe: (s: CounterState) => ({ log: s.log }) };
    const pid = await GenServer.start(impl, 0, { trapExit: true });
    const neighbour = spawn(
      () => {
        throw new Error('neighbour died');
      },
      { init: () => link(pid) },
    );
    send(neighbour, 'die');
    await idle();
    expect(isAlive(pid)).toBe(true);
    expect(processInfo(pid)?.details.log).toEqual(['EXIT']);
  });
});

describe('GenServer leaves nothing behind', () => {
  it('clears the timer and the watcher of every call, whatever the outcome', async () => {
    const pid = await GenServer.start(counter, 0);
    const pending = await pendingTimersAfter(async () => {
      await call(pid, 'get');
      await call(pid, 'park', 20).catch(() => undefined);
      const parked = call(pid, 'park', 10_000);
      await idle();
      expect(watcherCount(pid)).toBe(1);
      send(pid, 'release');
      await parked;
      expect(watcherCount(pid)).toBe(0);
      const dying = call(pid, 'park', 10_000);
      await idle();
      exit(pid, 'kill');
      await dying.catch(() => undefined);
      await call(pid, 'get').catch(() => undefined);
    });
    expect(pending).toBe(0);
  });

  it('drops a pending call, its timer and its watcher when the caller exits', async () => {
    const pid = await GenServer.start(counter, 0);
    let resumed = false;
    const pending = await pendingTimersAfter(async () => {
      const client = spawn(async () => {
        await call(pid, 'park', 10_000);
        resumed = true;
      });
      send(client, 'go');
      await idle({ waitForCallbacks: false });
      expect(watcherCount(pid)).toBe(1);
      exit(client, 'kill');
      expect(watcherCount(pid)).toBe(0);
    });
    expect(pending).toBe(0);
    send(pid, 'release');
    await sleep(10);
    expect(resumed).toBe(false);
  });

  it('a started server keeps no start watcher or init timer', async () => {
    let pid: Pid | undefined;
    const pending = await pendingTimersAfter(async () => {
      pid = await GenServer.start(counter, 0, { timeout: 10_000 });
    });
    expect(pending).toBe(0);
    expect(watcherCount(pid as Pid)).toBe(0);
  });
});
