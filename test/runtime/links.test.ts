import { describe, expect, it } from 'vitest';
import type { Pid } from '../../src/runtime/pid.js';
import {
  exit,
  flag,
  isAlive,
  link,
  processCount,
  processInfo,
  self,
  send,
  spawn,
  spawnLink,
  trapExit,
  unlink,
} from '../../src/runtime/process.js';
import { idle } from '../../src/runtime/scheduler.js';
import { isExit, type ExitMessage, type ExitReason } from '../../src/runtime/reasons.js';
import { captureReports } from '../support/reports.js';
import { exitReasonOf } from '../support/exits.js';

/**
 * A parent that spawns one linked child on 'spawn' (the child ends with the reason
 * it is sent) and records every other message it gets.
 */
function parentWithChild(opts: { trap: boolean }): { parent: Pid; inbox: unknown[]; child: () => Pid } {
  const inbox: unknown[] = [];
  let child: Pid | undefined;
  const parent = spawn(
    (msg: unknown) => {
      if (msg === 'spawn') child = spawnLink((reason: ExitReason) => exit(reason));
      else inbox.push(msg);
    },
    { trapExit: opts.trap },
  );
  send(parent, 'spawn');
  return {
    parent,
    inbox,
    child: () => {
      if (child === undefined) throw new Error('child not spawned yet');
      return child;
    },
  };
}

const reports = captureReports();

describe('links', () => {
  it('a crashing child takes its non-trapping parent down with the same reason', async () => {
    const fam = parentWithChild({ trap: false });
    await idle();
    const parentReason = exitReasonOf(fam.parent);
    const crash = { error: new Error('child broke') };
    send(fam.child(), crash);
    expect(await parentReason).toBe(crash);
    expect(isAlive(fam.child())).toBe(false);
  });

  it('a trapping parent gets an EXIT message instead and lives on', async () => {
    const fam = parentWithChild({ trap: true });
    await idle();
    send(fam.child(), 'boom');
    await idle();
    expect(isAlive(fam.parent)).toBe(true);
    expect(fam.inbox).toEqual([{ type: 'EXIT', from: fam.child(), reason: 'boom' }]);
    expect(isExit(fam.inbox[0])).toBe(true);
    expect(processInfo(fam.parent)?.links).toEqual([]);
  });

  it("a 'normal' exit does not take a linked process down; a trapping one hears of it", async () => {
    const plain = parentWithChild({ trap: false });
    const trapping = parentWithChild({ trap: true });
    await idle();
    send(plain.child(), 'normal');
    send(trapping.child(), 'normal');
    await idle();
    expect(isAlive(plain.parent)).toBe(true);
    expect(plain.inbox).toEqual([]);
    expect(processInfo(plain.parent)?.links).toEqual([]);
    expect(trapping.inbox).toEqual([{ type: 'EXIT', from: trapping.child(), reason: 'normal' }]);
  });

  it.each<[string, ExitReason]>([
    ['shutdown', 'shutdown'],
    ['{ shutdown: term }', { shutdown: { code: 1012 } }],
  ])('%s propagates through a link like any abnormal reason', async (_what, reason) => {
    const fam = parentWithChild({ trap: false });
    await idle();
    const parentReason = exitReasonOf(fam.parent);
    send(fam.child(), reason);
    expect(await parentReason).toBe(reason);
    expect(reports).toEqual([]);
  });

  it("'kill' reaches a linked non-trapping process as 'killed', and a trapping one as EXIT 'killed'", async () => {
    const plain = parentWithChild({ trap: false });
    const trapping = parentWithChild({ trap: true });
    await idle();
    const plainReason = exitReasonOf(plain.parent);
    exit(plain.child(), 'kill');
    exit(trapping.child(), 'kill');
    expect(await plainReason).toBe('killed');
    await idle();
    expect(trapping.inbox).toEqual([{ type: 'EXIT', from: trapping.child(), reason: 'killed' }]);
    expect(isAlive(trapping.parent)).toBe(true);
  });

  it('works both ways: a dying parent takes the child down', async () => {
    const fam = parentWithChild({ trap: false });
    await idle();
    const childReason = exitReasonOf(fam.child());
    exit(fam.parent, 'parent-gone');
    expect(await childReason).toBe('parent-gone');
  });

  it('a chain of 20,000 linked processes dies without overflowing the stack', async () => {
    const before = processCount();
    const inbox: ExitMessage[] = [];
    const chain: Pid[] = [];
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const prev = chain[i - 1];
      const last = i === n - 1;
      chain.push(
        spawn((msg: ExitMessage) => inbox.push(msg), {
          trapExit: last,
          init: prev === undefined ? undefined : () => link(prev),
        }),
      );
    }
    await idle();
    expect(processInfo(chain[n - 2] as Pid)?.links).toHaveLength(2);
    const secondToLast = exitReasonOf(chain[n - 2] as Pid);
    exit(chain[0] as Pid, 'chain-break');
    expect(await secondToLast).toBe('chain-break');
    await idle();
    expect(chain.slice(0, n - 1).filter(isAlive)).toEqual([]);
    expect(inbox).toEqual([{ type: 'EXIT', from: chain[n - 2], reason: 'chain-break' }]);
    exit(chain[n - 1] as Pid, 'kill');
    expect(processCount()).toBe(before);
  });

  it("linking to a dead process ends a non-trapping caller with 'noproc', quietly", async () => {
    const dead = spawn(() => {});
    exit(dead, 'kill');
    const after: string[] = [];
    const caller = spawn(() => {
      link(dead);
      after.push('ran on');
    });
    const reason = exitReasonOf(caller);
    send(caller, 'go');
    expect(await reason).toBe('noproc');
    expect(after).toEqual([]);
    expect(reports).toEqual([]);
  });

  it("linking to a dead process gives a trapping caller an EXIT 'noproc'", async () => {
    const dead = spawn(() => {});
    exit(dead, 'kill');
    const inbox: unknown[] = [];
    const caller = spawn(
      (msg: unknown) => {
        if (msg === 'go') link(dead);
        else inbox.push(msg);
      },
      { trapExit: true },
    );
    send(caller, 'go');
    await idle();
    expect(isAlive(caller)).toBe(true);
    expect(inbox).toEqual([{ type: 'EXIT', from: dead, reason: 'noproc' }]);
    expect(processInfo(caller)?.links).toEqual([]);
  });

  it('unlink removes the link on both sides, so a crash no longer propagates', async () => {
    let target: Pid | undefined;
    const caller = spawn((msg: string) => {
      if (msg === 'link') link(target as Pid);
      if (msg === 'unlink') unlink(target as Pid);
    });
    target = spawn((reason: ExitReason) => exit(reason));
    send(caller, 'link');
    await idle();
    expect(processInfo(target)?.links).toEqual([caller]);
    send(caller, 'unlink');
    await idle();
    expect(processInfo(caller)?.links).toEqual([]);
    expect(processInfo(target)?.links).toEqual([]);
    send(target, 'boom');
    await idle();
    expect(isAlive(target)).toBe(false);
    expect(isAlive(caller)).toBe(true);
  });

  it('unlink of a process that is not linked, or dead, is harmless', async () => {
    const dead = spawn(() => {});
    exit(dead, 'kill');
    const other = spawn(() => {});
    const caller = spawn(() => {
      unlink(dead);
      unlink(other);
      unlink(self());
    });
    send(caller, 'go');
    await idle();
    expect(isAlive(caller)).toBe(true);
  });

  it('linking twice makes one link, and linking to itself makes none', async () => {
    const target = spawn(() => {});
    const caller = spawn(() => {
      link(target);
      link(target);
      link(self());
    });
    send(caller, 'go');
    await idle();
    expect(processInfo(caller)?.links).toEqual([target]);
    expect(processInfo(target)?.links).toEqual([caller]);
  });

  it('link, unlink and exit take only a Pid, with a TypeError naming what they got', async () => {
    const caught: string[] = [];
    const pid = spawn((bad: unknown) => {
      for (const f of [() => link(bad as Pid), () => unlink(bad as Pid), () => exit(bad as Pid, 'kill')]) {
        try {
          f();
        } catch (err) {
          caught.push(`${(err as Error).name}: ${(err as Error).message}`);
        }
      }
    });
    send(pid, 'worker');
    await idle();
    expect(caught).toEqual([
      "TypeError: link(pid) expects a Pid, got 'worker'",
      "TypeError: unlink(pid) expects a Pid, got 'worker'",
      "TypeError: exit(pid, reason) expects a Pid, got 'worker'",
    ]);
    expect(isAlive(pid)).toBe(true);
    exit(pid, 'kill');
  });

  it('link and unlink need a calling process', () => {
    const pid = spawn(() => {});
    expect(() => link(pid)).toThrow('link() must be called inside a process');
    expect(() => unlink(pid)).toThrow('unlink() must be called inside a process');
  });
});

describe('trapExit', () => {
  it('returns the previous value, and flag("trapExit") does the same', async () => {
    const seen: boolean[] = [];
    const pid = spawn(() => {
      seen.push(trapExit(true));
      seen.push(trapExit(true));
      seen.push(flag('trapExit', false));
      seen.push(flag('trapExit', false));
    });
    send(pid, 'go');
    await idle();
    expect(seen).toEqual([false, true, true, false]);
    expect(processInfo(pid)?.trapExit).toBe(false);
  });

  it('turned off again, the process dies from its links once more', async () => {
    const inbox: unknown[] = [];
    let child: Pid | undefined;
    const parent = spawn((msg: unknown) => {
      if (msg === 'start') {
        trapExit(true);
        child = spawnLink((m: string) => exit(m));
      } else if (msg === 'stop-trapping') {
        trapExit(false);
      } else {
        inbox.push(msg);
      }
    });
    send(parent, 'start');
    send(parent, 'stop-trapping');
    await idle();
    const reason = exitReasonOf(parent);
    send(child as Pid, 'late-crash');
    expect(await reason).toBe('late-crash');
    expect(inbox).toEqual([]);
  });

  it('needs a calling process', () => {
    expect(() => trapExit(true)).toThrow('trapExit() must be called inside a process');
  });
});
