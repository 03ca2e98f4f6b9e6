import { describe, expect, it } from 'vitest';
import { Pid, type Ref } from '../../src/runtime/pid.js';
import { demonitor, exit, isAlive, monitor, processInfo, register, rootPid, send, spawn, unregister } from '../../src/runtime/process.js';
import { MAILBOX_BLOCK } from '../../src/runtime/proc.js';
import { idle } from '../../src/runtime/scheduler.js';
import { setLogger } from '../../src/runtime/logger.js';
import { isDown, isExit, type DownMessage } from '../../src/runtime/reasons.js';

type Command = { monitor: Pid | string } | { demonitor: Ref; flush?: boolean } | { kill: Pid } | { note: string };

/**
 * A process driven by commands: it monitors, demonitors and kills as told, records
 * what `demonitor` returned, and records every other message it handles.
 */
function observer(): { pid: Pid; inbox: unknown[]; refs: Ref[]; demonitored: boolean[] } {
  const inbox: unknown[] = [];
  const refs: Ref[] = [];
  const demonitored: boolean[] = [];
  const pid = spawn((msg: Command | DownMessage) => {
    if ('monitor' in msg) refs.push(monitor(msg.monitor));
    else if ('demonitor' in msg) demonitored.push(demonitor(msg.demonitor, { flush: msg.flush }));
    else if ('kill' in msg) exit(msg.kill, 'kill');
    else inbox.push(msg);
  });
  return { pid, inbox, refs, demonitored };
}

/** An observer that monitors one fresh process, the monitor in place. */
async function observing(): Promise<{ obs: ReturnType<typeof observer>; target: Pid; ref: Ref }> {
  const obs = observer();
  const target = spawn(() => {});
  send(obs.pid, { monitor: target });
  await idle();
  return { obs, target, ref: obs.refs[0] as Ref };
}

describe('monitor', () => {
  it('delivers one DOWN with the ref, the pid and the exit reason', async () => {
    const obs = observer();
    const target = spawn((reason: string) => exit(reason));
    send(obs.pid, { monitor: target });
    await idle();
    expect(processInfo(obs.pid)?.monitors).toEqual([target]);
    expect(processInfo(target)?.monitoredBy).toEqual([obs.pid]);
    send(target, 'finished');
    send(target, 'finished-again');
    await idle();
    expect(obs.inbox).toEqual([{ type: 'DOWN', ref: obs.refs[0], pid: target, reason: 'finished' }]);
    expect(isDown(obs.inbox[0])).toBe(true);
    expect(isExit(obs.inbox[0])).toBe(false);
    expect(processInfo(obs.pid)?.monitors).toEqual([]);
  });

  it('does not take the monitoring process down, unlike a link', async () => {
    const obs = observer();
    const target = spawn(() => {
      throw new Error('crash under a monitor');
    });
    send(obs.pid, { monitor: target });
    await idle();
    const restore = setLogger(() => {});
    send(target, 'go');
    await idle();
    setLogger(restore);
    expect(isAlive(obs.pid)).toBe(true);
    const down = obs.inbox[0] as DownMessage;
    expect(down.pid).toBe(target);
    expect((down.reason as { error: Error }).error.message).toBe('crash under a monitor');
  });

  it("reports 'killed' for a process ended with 'kill'", async () => {
    const obs = observer();
    const target = spawn(() => {}, { trapExit: true });
    send(obs.pid, { monitor: target });
    send(obs.pid, { kill: target });
    await idle();
    expect(obs.inbox).toEqual([{ type: 'DOWN', ref: obs.refs[0], pid: target, reason: 'killed' }]);
  });

  it("of a dead process delivers DOWN 'noproc' at once", async () => {
    const dead = spawn(() => {});
    exit(dead, 'kill');
    const remote = Pid.from({ node: 'far@away', serial: 77 });
    const obs = observer();
    send(obs.pid, { monitor: dead });
    send(obs.pid, { monitor: remote });
    await idle();
    expect(obs.inbox).toEqual([
      { type: 'DOWN', ref: obs.refs[0], pid: dead, reason: 'noproc' },
      { type: 'DOWN', ref: obs.refs[1], pid: remote, reason: 'noproc' },
    ]);
    expect(processInfo(obs.pid)?.monitors).toEqual([]);
  });

  it('twice gives two refs and two DOWNs', async () => {
    const obs = observer();
    const target = spawn(() => {});
    send(obs.pid, { monitor: target });
    send(obs.pid, { monitor: target });
    await idle();
    expect(obs.refs[0]).not.toBe(obs.refs[1]);
    exit(target, 'shutdown');
    await idle();
    const refs = (obs.inbox as DownMessage[]).map((d) => d.ref);
    expect(refs).toHaveLength(2);
    expect(new Set(refs)).toEqual(new Set(obs.refs));
  });

  it('is removed from the target when the monitoring process dies', async () => {
    const { obs, target } = await observing();
    exit(obs.pid, 'kill');
    expect(processInfo(target)?.monitoredBy).toEqual([]);
  });

  it('needs a calling process', () => {
    const pid = spawn(() => {});
    expect(() => monitor(pid)).toThrow('monitor() must be called inside a process');
  });

  it('takes only a Pid, with a TypeError naming what it got', () => {
    expect(() => monitor(42 as unknown as Pid)).toThrow(new TypeError('monitor(pid) expects a Pid or a registered name, got 42'));
    expect(() => monitor(undefined as unknown as Pid)).toThrow(TypeError);
  });
});

describe('monitor(name)', () => {
  it('monitors the process holding the name; its DOWN carries the pid and the name', async () => {
    const obs = observer();
    const target = spawn(() => undefined);
    register('monitored-by-name', target);
    send(obs.pid, { monitor: 'monitored-by-name' });
    await idle();
    expect(processInfo(target)?.monitoredBy).toEqual([obs.pid]);
    exit(target, 'shutdown');
    await idle();
    expect(obs.inbox).toEqual([{ type: 'DOWN', ref: obs.refs[0], pid: target, reason: 'shutdown', name: 'monitored-by-name' }]);
    exit(obs.pid, 'kill');
  });

  it('follows the process, not the name: a new holder of the name is not monitored', async () => {
    const obs = observer();
    const first = spawn(() => undefined);
    register('moving-name', first);
    send(obs.pid, { monitor: 'moving-name' });
    await idle();
    unregister('moving-name');
    const second = spawn(() => undefined);
    register('moving-name', second);
    exit(second, 'kill');
    await idle();
    expect(obs.inbox).toEqual([]);
    exit(first, 'kill');
    await idle();
    expect(obs.inbox).toEqual([{ type: 'DOWN', ref: obs.refs[0], pid: first, reason: 'killed', name: 'moving-name' }]);
    exit(obs.pid, 'kill');
  });

  it("gives a name nobody holds a DOWN 'noproc' at once, naming it, with rootPid() as the pid", async () => {
    const obs = observer();
    send(obs.pid, { monitor: 'nobody-holds-this' });
    await idle();
    expect(obs.inbox).toEqual([{ type: 'DOWN', ref: obs.refs[0], pid: rootPid(), reason: 'noproc', name: 'nobody-holds-this' }]);
    exit(obs.pid, 'kill');
  });

  it('is removed by demonitor like any monitor', async () => {
    const obs = observer();
    const target = spawn(() => undefined);
    register('demonitored-name', target);
    send(obs.pid, { monitor: 'demonitored-name' });
    await idle();
    send(obs.pid, { demonitor: obs.refs[0] as Ref });
    await idle();
    exit(target, 'kill');
    await idle();
    expect(obs.demonitored).toEqual([true]);
    expect(obs.inbox).toEqual([]);
    expect(processInfo(obs.pid)?.monitors).toEqual([]);
    exit(obs.pid, 'kill');
  });
});

describe('demonitor', () => {
  it('before the target ends: returns true and no DOWN ever arrives', async () => {
    const { obs, target, ref } = await observing();
    send(obs.pid, { demonitor: ref });
    await idle();
    expect(obs.demonitored).toEqual([true]);
    expect(processInfo(target)?.monitoredBy).toEqual([]);
    expect(processInfo(obs.pid)?.monitors).toEqual([]);
    exit(target, 'boom');
    await idle();
    expect(obs.inbox).toEqual([]);
  });

  it('without flush, after the DOWN was queued: returns false and the DOWN is still handled', async () => {
    const { obs, target, ref } = await observing();
    send(obs.pid, { kill: target });
    send(obs.pid, { demonitor: ref });
    await idle();
    expect(obs.demonitored).toEqual([false]);
    expect(obs.inbox).toEqual([{ type: 'DOWN', ref, pid: target, reason: 'killed' }]);
  });

  it('with flush, removes a DOWN that arrived but was not handled yet, and keeps everything else in order', async () => {
    const obs = observer();
    const target = spawn(() => {});
    const bystander = spawn(() => {});
    send(obs.pid, { monitor: target });
    send(obs.pid, { monitor: bystander });
    await idle();
    const [ref, otherRef] = obs.refs as [Ref, Ref];
    // Queued in this order: demonitor runs while the two DOWNs wait behind it.
    send(obs.pid, { note: 'before' });
    send(obs.pid, { demonitor: ref, flush: true });
    exit(target, 'gone');
    send(obs.pid, { note: 'between' });
    exit(bystander, 'also-gone');
    send(obs.pid, { note: 'after' });
    expect(processInfo(obs.pid)?.messageQueueLen).toBe(6);
    await idle();
    expect(obs.demonitored).toEqual([false]);
    expect(obs.inbox).toEqual([
      { note: 'before' },
      { note: 'between' },
      { type: 'DOWN', ref: otherRef, pid: bystander, reason: 'also-gone' },
      { note: 'after' },
    ]);
  });

  it('with flush, removes a DOWN queued behind a backlog many blocks long, and keeps the backlog in order', async () => {
    const { obs, target, ref } = await observing();
    const n = 2 * MAILBOX_BLOCK + 3;
    send(obs.pid, { demonitor: ref, flush: true });
    for (let i = 0; i < n; i++) send(obs.pid, { note: `a${i}` });
    exit(target, 'gone');
    for (let i = 0; i < n; i++) send(obs.pid, { note: `b${i}` });
    expect(processInfo(obs.pid)?.messageQueueLen).toBe(2 * n + 2);
    await idle();
    expect(obs.demonitored).toEqual([false]);
    const notes = (tag: string): { note: string }[] => Array.from({ length: n }, (_, i) => ({ note: `${tag}${i}` }));
    expect(obs.inbox).toEqual([...notes('a'), ...notes('b')]);
  });

  it('with flush, also removes a DOWN queued by its own callback', async () => {
    const inbox: unknown[] = [];
    const target = spawn(() => {});
    const owner = spawn((msg: string | DownMessage) => {
      if (msg === 'go') {
        const ref = monitor(target);
        exit(target, 'kill');
        inbox.push(processInfo(target) === undefined ? 'target dead' : 'target alive');
        inbox.push(demonitor(ref, { flush: true }));
      } else {
        inbox.push(msg);
      }
    });
    send(owner, 'go');
    await idle();
    expect(inbox).toEqual(['target dead', false]);
  });

  it('of an unknown ref returns false', async () => {
    const obs = observer();
    const foreign = observer();
    const target = spawn(() => {});
    send(foreign.pid, { monitor: target });
    await idle();
    send(obs.pid, { demonitor: foreign.refs[0] as Ref, flush: true });
    await idle();
    expect(obs.demonitored).toEqual([false]);
    expect(processInfo(target)?.monitoredBy).toEqual([foreign.pid]);
  });

  it('needs a calling process', () => {
    expect(() => demonitor({} as Ref)).toThrow('demonitor() must be called inside a process');
  });
});
