import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { Pid } from '../../src/runtime/pid.js';
import {
  exit,
  isAlive,
  link,
  monitor,
  processCount,
  processInfo,
  processes,
  register,
  registered,
  rootPid,
  self,
  send,
  spawn,
  spawnLink,
  spawnMonitor,
  trapExit,
  unregister,
  whereis,
  type SpawnOptions,
} from '../../src/runtime/process.js';
import { idle } from '../../src/runtime/scheduler.js';
import type { DownMessage, ExitMessage, ExitReason } from '../../src/runtime/reasons.js';
import { captureReports } from '../support/reports.js';
import { exitReasonOf } from '../support/exits.js';

const reports = captureReports();

describe('spawn', () => {
  it('runs receive once per message, in order', async () => {
    const got: unknown[] = [];
    const pid = spawn((msg: number) => {
      got.push(msg);
    });
    send(pid, 1);
    send(pid, 2);
    send(pid, 3);
    await idle();
    expect(got).toEqual([1, 2, 3]);
    expect(isAlive(pid)).toBe(true);
  });

  it('runs init inside the new process before its first message', async () => {
    const events: string[] = [];
    const pid = spawn((msg: string) => events.push(msg), { init: () => events.push('init') });
    send(pid, 'first');
    expect(events).toEqual([]);
    await idle();
    expect(events).toEqual(['init', 'first']);
  });

  it('spawnLink links the child to the caller both ways and records the parent', async () => {
    let child: Pid | undefined;
    const parent = spawn(() => {
      child = spawnLink(() => {});
    });
    send(parent, 'go');
    await idle();
    if (child === undefined) throw new Error('child was not spawned');
    expect(processInfo(parent)?.links).toEqual([child]);
    expect(processInfo(child)?.links).toEqual([parent]);
    expect(processInfo(child)?.parent).toBe(parent);
  });

  it('spawnMonitor returns a pid and a ref whose DOWN arrives when the child ends', async () => {
    const downs: DownMessage[] = [];
    let spawned: { pid: Pid; ref: unknown } | undefined;
    const owner = spawn((msg: unknown) => {
      if (msg === 'go') spawned = spawnMonitor((m: string) => exit(m));
      else downs.push(msg as DownMessage);
    });
    send(owner, 'go');
    await idle();
    if (spawned === undefined) throw new Error('child was not spawned');
    expect(processInfo(owner)?.monitors).toEqual([spawned.pid]);
    expect(processInfo(owner)?.links).toEqual([]);
    send(spawned.pid, 'done');
    await idle();
    expect(downs).toHaveLength(1);
    expect(downs[0]).toEqual({ type: 'DOWN', ref: spawned.ref, pid: spawned.pid, reason: 'done' });
  });

  it('spawnLink and spawnMonitor need a calling process', () => {
    expect(() => spawnLink(() => {})).toThrow('spawnLink() must be called inside a process');
    expect(() => spawnMonitor(() => {})).toThrow('spawnMonitor() must be called inside a process');
  });

  it.each<[string, unknown, RegExp]>([
    ['an unknown option', { nmae: 'x' }, /unknown option 'nmae' in spawn options \(did you mean 'name'\?\)/],
    ['an empty name', { name: '' }, /'name' must be a non-empty string/],
    ['a non-string name', { name: 7 }, /'name' must be a non-empty string, got 7/],
    ['a non-boolean trapExit', { trapExit: 'yes' }, /'trapExit' must be a boolean, got yes/],
    ['a non-function init', { init: 'start' }, /'init' must be a function/],
    ['a non-string kind', { kind: 3 }, /'kind' must be a string/],
    ['a negative maxHeapSize', { maxHeapSize: -1 }, /'maxHeapSize'.*-1/],
    ['a fractional fullsweepAfter', { fullsweepAfter: 1.5 }, /'fullsweepAfter' must be a non-negative integer, got 1.5/],
  ])('refuses %s, naming the option', (_what, opts, message) => {
    const before = processCount();
    expect(() => spawn(() => {}, opts as SpawnOptions)).toThrow(TypeError);
    expect(() => spawn(() => {}, opts as SpawnOptions)).toThrow(message);
    expect(processCount()).toBe(before);
  });

  it('refuses something that is not a function', () => {
    expect(() => spawn('nope' as unknown as () => void)).toThrow('spawn expects a function');
  });

  it('refuses a name that is already registered, and starts nothing', () => {
    const holder = spawn(() => {}, { name: 'taken-name' });
    const before = processCount();
    expect(() => spawn(() => {}, { name: 'taken-name' })).toThrow(`name 'taken-name' is already registered to ${String(holder)}`);
    expect(processCount()).toBe(before);
    exit(holder, 'kill');
  });
});

describe('self()', () => {
  it('is the running process inside receive and inside init', async () => {
    const seen: Pid[] = [];
    const pid = spawn(() => seen.push(self()), { init: () => seen.push(self()) });
    send(pid, 'x');
    await idle();
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(pid);
    expect(seen[1]).toBe(pid);
  });

  it('stays each process\'s own after awaits, while many processes interleave their awaits', async () => {
    const mismatches: string[] = [];
    let finished = 0;
    const body = async (expected: Pid): Promise<void> => {
      for (let step = 0; step < 5; step++) {
        if (step % 2 === 0) await sleep((expected.serial * 7 + step) % 5);
        else await Promise.resolve();
        if (self() !== expected) mismatches.push(`${String(expected)} saw ${String(self())} at step ${step}`);
      }
      finished++;
    };
    const pids: Pid[] = [];
    for (let i = 0; i < 30; i++) pids.push(spawn(body, { init: async () => body(self()) }));
    for (const pid of pids) send(pid, pid);
    await vi.waitFor(() => expect(finished).toBe(60), { timeout: 10_000, interval: 5 });
    expect(mismatches).toEqual([]);
  });

  it('throws outside a process, saying so', async () => {
    expect(() => self()).toThrow('self() called outside a process');
    const pid = spawn(() => {});
    send(pid, 'x');
    await idle();
    expect(() => self()).toThrow('self() called outside a process');
  });
});

describe('send', () => {
  it('never throws for a pid: dead, remote-looking, never used', async () => {
    const dead = spawn(() => {});
    exit(dead, 'kill');
    await idle();
    const remote = Pid.from({ node: 'elsewhere@10.1.1.1', serial: 3 });
    expect(() => send(dead, 'x')).not.toThrow();
    expect(() => send(remote, 'x')).not.toThrow();
    expect(() => send(Pid.from({ node: dead.node, serial: 987_654_321 }), 'x')).not.toThrow();
  });

  it('throws for a name nobody holds (badarg) and a TypeError for what is neither pid nor name', () => {
    expect(() => send('no-such-name', 'x')).toThrow("send: no process is registered under 'no-such-name' (badarg)");
    expect(() => send(undefined as unknown as Pid, 'x')).toThrow(new TypeError('send: the destination must be a Pid or a registered name, got undefined'));
    expect(() => send({ pid: 1 } as unknown as Pid, 'x')).toThrow(TypeError);
  });

  it('drops messages to a dead process, including the ones it had queued', async () => {
    const got: unknown[] = [];
    const pid = spawn((msg: unknown) => got.push(msg));
    send(pid, 'queued-1');
    send(pid, 'queued-2');
    exit(pid, 'kill');
    send(pid, 'late');
    await idle();
    expect(got).toEqual([]);
    expect(isAlive(pid)).toBe(false);
  });

  it('delivers by registered name', async () => {
    const got: unknown[] = [];
    const pid = spawn((msg: unknown) => got.push(msg), { name: 'by-name' });
    expect(whereis('by-name')).toBe(pid);
    send('by-name', 'hello');
    await idle();
    expect(got).toEqual(['hello']);
    exit(pid, 'kill');
  });
});

describe('names', () => {
  it('register, whereis, registered and unregister agree, and a dead process loses its name', async () => {
    const pid = spawn(() => {});
    register('svc-a', pid);
    expect(whereis('svc-a')).toBe(pid);
    expect(registered()).toContain('svc-a');
    expect(processInfo(pid)?.registeredName).toBe('svc-a');
    expect(() => register('svc-b', pid)).toThrow("already registered as 'svc-a'");
    expect(unregister('svc-a')).toBe(true);
    expect(unregister('svc-a')).toBe(false);
    expect(whereis('svc-a')).toBeUndefined();
    register('svc-a', pid);
    exit(pid, 'kill');
    await idle();
    expect(whereis('svc-a')).toBeUndefined();
    expect(registered()).not.toContain('svc-a');
    expect(() => register('svc-c', pid)).toThrow('noproc');
  });

  it('refuses a taken name and an empty one', () => {
    const a = spawn(() => {});
    const b = spawn(() => {});
    register('svc-taken', a);
    expect(() => register('svc-taken', b)).toThrow(`name is already registered to ${String(a)}`);
    expect(() => register('', b)).toThrow(TypeError);
    exit(a, 'kill');
    exit(b, 'kill');
  });
});

describe('exit(pid, reason)', () => {
  it("'normal' is ignored by a process that does not trap exits", async () => {
    const pid = spawn(() => {});
    exit(pid, 'normal');
    await idle();
    expect(isAlive(pid)).toBe(true);
    exit(pid, 'kill');
  });

  it("'normal' reaches a trapping process as an EXIT message from the sender", async () => {
    const got: unknown[] = [];
    const target = spawn((msg: unknown) => got.push(msg), { trapExit: true });
    exit(target, 'normal');
    const sender = spawn(() => exit(target, 'normal'));
    send(sender, 'go');
    await idle();
    expect(got).toEqual([
      { type: 'EXIT', from: rootPid(), reason: 'normal' },
      { type: 'EXIT', from: sender, reason: 'normal' },
    ]);
    expect(isAlive(target)).toBe(true);
  });

  it.each<[ExitReason, ExitReason]>([
    ['normal', 'normal'],
    ['kill', 'killed'],
  ])("'%s' sent to itself ends a non-trapping caller at once with '%s', quietly", async (sent, expected) => {
    const after: string[] = [];
    const pid = spawn(() => {
      exit(self(), sent);
      after.push('ran on');
    });
    const reason = exitReasonOf(pid);
    send(pid, 'go');
    expect(await reason).toBe(expected);
    expect(after).toEqual([]);
    expect(reports).toEqual([]);
  });

  it("'normal' sent to itself by a trapping process arrives as an EXIT message", async () => {
    const got: unknown[] = [];
    const pid = spawn(
      (msg: unknown) => {
        if (msg === 'go') exit(self(), 'normal');
        else got.push(msg);
      },
      { trapExit: true },
    );
    send(pid, 'go');
    await idle();
    expect(isAlive(pid)).toBe(true);
    expect(got).toEqual([{ type: 'EXIT', from: pid, reason: 'normal' }]);
  });

  it.each<[string, ExitReason]>([
    ['shutdown', 'shutdown'],
    ['{ shutdown: term }', { shutdown: 'restart' }],
    ['a custom reason', 'boom'],
    ['{ error: term }', { error: new Error('bad') }],
  ])('%s ends a non-trapping process with that reason and reaches a trapping one as EXIT', async (_what, reason) => {
    const plain = spawn(() => {});
    const plainReason = exitReasonOf(plain);
    exit(plain, reason);
    expect(await plainReason).toBe(reason);
    expect(isAlive(plain)).toBe(false);

    const got: ExitMessage[] = [];
    const trapping = spawn((msg: ExitMessage) => got.push(msg), { trapExit: true });
    exit(trapping, reason);
    await idle();
    expect(isAlive(trapping)).toBe(true);
    expect(got).toHaveLength(1);
    expect(got[0]?.from).toBe(rootPid());
    expect(got[0]?.reason).toBe(reason);
    expect(reports).toEqual([]);
  });

  it("'kill' cannot be trapped; monitors see 'killed'", async () => {
    const got: unknown[] = [];
    const trapping = spawn((msg: unknown) => got.push(msg), { trapExit: true });
    const reason = exitReasonOf(trapping);
    exit(trapping, 'kill');
    expect(isAlive(trapping)).toBe(false);
    expect(await reason).toBe('killed');
    await idle();
    expect(got).toEqual([]);
  });

  it('needs a pid', () => {
    expect(() => exit('not a pid' as unknown as Pid, 'kill')).toThrow("exit(pid, reason) expects a Pid, got 'not a pid'");
  });

  it('to a dead or remote pid does nothing', async () => {
    const dead = spawn(() => {});
    exit(dead, 'kill');
    expect(() => exit(dead, 'kill')).not.toThrow();
    expect(() => exit(Pid.from({ node: 'far@away', serial: 1 }), 'shutdown')).not.toThrow();
    await idle();
  });
});

describe('exit(reason)', () => {
  it('ends the calling process with that reason and is not reported as a crash', async () => {
    const after: string[] = [];
    const pid = spawn(() => {
      exit({ shutdown: 'done' });
      after.push('ran on');
    });
    const reason = exitReasonOf(pid);
    send(pid, 'go');
    expect(await reason).toEqual({ shutdown: 'done' });
    expect(after).toEqual([]);
    expect(reports).toEqual([]);
    expect(isAlive(pid)).toBe(false);
  });

  it('works after an await and inside init', async () => {
    const fromAsync = spawn(async () => {
      await sleep(1);
      exit('async-done');
    });
    const fromInit = spawn(() => {}, { init: () => exit('init-done') });
    const r1 = exitReasonOf(fromAsync);
    const r2 = exitReasonOf(fromInit);
    send(fromAsync, 'go');
    expect(await r1).toBe('async-done');
    expect(await r2).toBe('init-done');
    expect(reports).toEqual([]);
  });

  it('throws outside a process', () => {
    expect(() => exit('shutdown')).toThrow('exit() must be called inside a process');
  });
});

describe('isAlive, processes, processCount', () => {
  it('track processes from spawn to exit', async () => {
    const before = processCount();
    const pids = [spawn(() => {}), spawn(() => {}), spawn(() => {})];
    expect(processCount()).toBe(before + 3);
    const all = processes();
    expect(all.slice(-3)).toEqual(pids);
    for (const pid of pids) expect(isAlive(pid)).toBe(true);
    exit(pids[1] as Pid, 'kill');
    expect(isAlive(pids[1] as Pid)).toBe(false);
    expect(processCount()).toBe(before + 2);
    expect(processes()).not.toContain(pids[1]);
    exit(pids[0] as Pid, 'kill');
    exit(pids[2] as Pid, 'kill');
    expect(processCount()).toBe(before);
    expect(isAlive(Pid.from({ node: 'far@away', serial: 2 }))).toBe(false);
  });
});

describe('processInfo', () => {
  it('describes a fresh idle process', async () => {
    const pid = spawn(() => {});
    await idle();
    expect(processInfo(pid)).toEqual({
      pid,
      status: 'waiting',
      kind: 'worker',
      registeredName: undefined,
      messageQueueLen: 0,
      links: [],
      monitors: [],
      monitoredBy: [],
      trapExit: false,
      heapSize: 0,
      maxHeapSize: { size: 0, kill: true, errorLogger: true },
      fullsweepAfter: undefined,
      counters: { messagesIn: 0, messagesOut: 0 },
      parent: undefined,
      details: {},
    });
  });

  it('shows queued messages as runnable, with their heap size, until they are handled', async () => {
    const pid = spawn(() => {}, { kind: 'probe', name: 'info-queued', trapExit: true });
    send(pid, 'a');
    send(pid, 'b');
    send(pid, 'c');
    const info = processInfo(pid);
    expect(info?.status).toBe('runnable');
    expect(info?.messageQueueLen).toBe(3);
    expect(info?.heapSize).toBe(3 * 64);
    expect(info?.kind).toBe('probe');
    expect(info?.registeredName).toBe('info-queued');
    expect(info?.trapExit).toBe(true);
    await idle();
    expect(processInfo(pid)?.messageQueueLen).toBe(0);
    expect(processInfo(pid)?.counters.messagesIn).toBe(3);
    exit(pid, 'kill');
  });

  it('is running from inside the process and while it awaits a callback', async () => {
    let inside: string | undefined;
    let release: () => void = () => {};
    const pid = spawn(async () => {
      inside = processInfo(self())?.status;
      await new Promise<void>((resolve) => (release = resolve));
    });
    send(pid, 'go');
    await idle({ waitForCallbacks: false });
    expect(inside).toBe('running');
    expect(processInfo(pid)?.status).toBe('running');
    send(pid, 'next');
    expect(processInfo(pid)?.messageQueueLen).toBe(1);
    release();
    await idle({ waitForCallbacks: false });
    expect(processInfo(pid)?.messageQueueLen).toBe(0);
    exit(pid, 'kill');
  });

  it('lists links, monitors, monitoredBy and trapExit', async () => {
    const target = spawn(() => {});
    let ref: unknown;
    const owner = spawn(() => {
      trapExit(true);
      link(target);
      ref = monitor(target);
    });
    send(owner, 'go');
    await idle();
    expect(ref).toBeDefined();
    expect(processInfo(owner)).toMatchObject({ links: [target], monitors: [target], monitoredBy: [], trapExit: true });
    expect(processInfo(target)).toMatchObject({ links: [owner], monitors: [], monitoredBy: [owner], trapExit: false });
  });

  it('counts messages handled and messages sent', async () => {
    const sink = spawn(() => {});
    const pid = spawn((n: number) => {
      for (let i = 0; i < n; i++) send(sink, i);
    });
    send(pid, 2);
    send(pid, 3);
    await idle();
    expect(processInfo(pid)?.counters).toEqual({ messagesIn: 2, messagesOut: 5 });
    expect(processInfo(sink)?.counters).toEqual({ messagesIn: 5, messagesOut: 0 });
  });

  it('counts messages sent after an await', async () => {
    const sink = spawn(() => {});
    const pid = spawn(async () => {
      await sleep(1);
      send(sink, 'late');
    });
    send(pid, 'go');
    await idle();
    expect(processInfo(sink)?.counters.messagesIn).toBe(1);
    expect(processInfo(pid)?.counters).toEqual({ messagesIn: 1, messagesOut: 1 });
  });

  it('does not count the start of init as a message', async () => {
    const pid = spawn(() => {}, { init: () => {} });
    send(pid, 'one');
    expect(processInfo(pid)?.messageQueueLen).toBe(1);
    await idle();
    expect(processInfo(pid)?.counters.messagesIn).toBe(1);
  });

  it('is undefined for a dead process', async () => {
    const pid = spawn(() => {});
    exit(pid, 'shutdown');
    await idle();
    expect(processInfo(pid)).toBeUndefined();
    expect(processInfo(Pid.from({ node: 'far@away', serial: 9 }))).toBeUndefined();
  });
});
