import { afterEach, describe, expect, it } from 'vitest';
import type { Pid } from '../../src/runtime/pid.js';
import { ExitSignal, exit, isAlive, monitor, procOf, register as registerName, send, spawn, spawnLink } from '../../src/runtime/process.js';
import { idle } from '../../src/runtime/scheduler.js';
import { isDown } from '../../src/runtime/reasons.js';
import { Registry, type RegistryEntry, type RegistryEvent } from '../../src/runtime/registry.js';
import { captureReports } from '../support/reports.js';

type Job = { fn: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void } | 'crash';

/** A process that runs the functions it is sent, as itself, and crashes on 'crash'. */
function actor(): { pid: Pid; run<T>(fn: () => T): Promise<T> } {
  const pid = spawn((job: Job) => {
    if (job === 'crash') throw new Error('boom');
    try {
      job.resolve(job.fn());
    } catch (err) {
      job.reject(err);
      if (err instanceof ExitSignal) throw err;
    }
  });
  return {
    pid,
    run: <T>(fn: () => T) => new Promise<T>((resolve, reject) => send(pid, { fn, resolve, reject })),
  };
}

/** A process that keeps every message it receives. */
function recorder(): { pid: Pid; got: unknown[] } {
  const got: unknown[] = [];
  return { pid: spawn((msg) => void got.push(msg)), got };
}

const registries: Registry<unknown, unknown>[] = [];
function registry<K, V>(keys: 'unique' | 'duplicate', opts: { listeners?: (Pid | string)[]; name?: string; meta?: Record<string, unknown> } = {}): Registry<K, V> {
  const r = new Registry<K, V>({ keys, ...opts });
  registries.push(r as Registry<unknown, unknown>);
  return r;
}

/** A duplicate registry where `a` holds room=1, room=2, other=3 and `b` holds room=4. */
async function sharedRoom(): Promise<{ r: Registry<string, number>; a: ReturnType<typeof actor>; b: ReturnType<typeof actor> }> {
  const r = registry<string, number>('duplicate');
  const a = actor();
  const b = actor();
  await a.run(() => {
    r.register('room', 1);
    r.register('room', 2);
    r.register('other', 3);
  });
  await b.run(() => r.register('room', 4));
  return { r, a, b };
}

const reports = captureReports();
afterEach(() => {
  for (const r of registries.splice(0)) r.close();
});

describe('options', () => {
  it('rejects bad options with a TypeError naming the option', () => {
    expect(() => new Registry({ keys: 'many' as 'unique' })).toThrow(/'keys' must be 'unique' or 'duplicate', got "many"/);
    expect(() => new Registry({} as { keys: 'unique' })).toThrow(/'keys'/);
    expect(() => new Registry({ keys: 'unique', partitions: 4 } as { keys: 'unique' })).toThrow(/unknown option 'partitions' in Registry options \(known: keys, name, listeners, meta\)/);
    expect(() => new Registry({ keys: 'unique', name: '' })).toThrow(/'name' must be a non-empty string/);
    expect(() => new Registry({ keys: 'unique', listeners: [42 as unknown as string] })).toThrow(/'listeners'.*got 42/);
    expect(() => new Registry({ keys: 'unique', listeners: [42 as unknown as string] })).toThrow(TypeError);
  });

  it('finds a registry by name until it is closed, and refuses a taken name', () => {
    const r = new Registry<string, number>({ keys: 'unique', name: 'sessions' });
    expect(Registry.lookupByName<string, number>('sessions')).toBe(r);
    expect(r.kind).toBe('unique');
    expect(() => new Registry({ keys: 'duplicate', name: 'sessions' })).toThrow(/a registry named 'sessions' already exists/);
    r.close();
    expect(Registry.lookupByName('sessions')).toBeUndefined();
    new Registry({ keys: 'duplicate', name: 'sessions' }).close();
  });
});

describe('register', () => {
  it('throws outside a process', () => {
    const r = registry<string, number>('unique');
    expect(() => r.register('k', 1)).toThrow(/must be called inside a process/);
  });

  it('a taken unique key gives already_registered with the holder, even for the holder itself', async () => {
    const r = registry<string, string>('unique');
    const a = actor();
    const b = actor();
    expect(await a.run(() => r.register('user:1', 'a'))).toEqual({ ok: true });
    expect(await b.run(() => r.register('user:1', 'b'))).toEqual({ ok: false, error: 'already_registered', pid: a.pid });
    expect(await a.run(() => r.register('user:1', 'again'))).toEqual({ ok: false, error: 'already_registered', pid: a.pid });
    expect(r.lookup('user:1')).toEqual([[a.pid, 'a']]);
    expect(r.count()).toBe(1);
  });

  it('a duplicate key takes many entries, also several from one process', async () => {
    const { r, a, b } = await sharedRoom();
    expect(r.lookup('room')).toHaveLength(3);
    expect(new Set(r.lookup('room').map(([pid, v]) => `${String(pid)}=${v}`))).toEqual(
      new Set([`${String(a.pid)}=1`, `${String(a.pid)}=2`, `${String(b.pid)}=4`]),
    );
    expect(r.keys(a.pid)).toEqual(['room', 'room', 'other']);
    expect(r.values('room', a.pid)).toEqual([1, 2]);
    expect(r.values('room', b.pid)).toEqual([4]);
    expect(r.values('other', b.pid)).toEqual([]);
    expect(r.count()).toBe(4);
  });

  it('lookup of an unknown key is empty, and lookup returns a copy', async () => {
    const r = registry<string, number>('duplicate');
    const a = actor();
    await a.run(() => r.register('k', 1));
    expect(r.lookup('nope')).toEqual([]);
    const got = r.lookup('k');
    got.pop();
    expect(r.lookup('k')).toHaveLength(1);
  });
});

describe('unregister', () => {
  it('removes all of the caller’s entries under a key and nobody else’s', async () => {
    const { r, a, b } = await sharedRoom();
    await a.run(() => r.unregister('room'));
    expect(r.lookup('room')).toEqual([[b.pid, 4]]);
    expect(r.keys(a.pid)).toEqual(['other']);
    expect(r.count()).toBe(2);
  });

  it('frees a unique key for another process', async () => {
    const r = registry<string, string>('unique');
    const a = actor();
    const b = actor();
    await a.run(() => r.register('k', 'a'));
    await a.run(() => r.unregister('k'));
    expect(await b.run(() => r.register('k', 'b'))).toEqual({ ok: true });
    expect(r.keys(a.pid)).toEqual([]);
  });

  it('unregisterMatch removes only the caller’s entries whose value matches', async () => {
    const r = registry<string, { tab: number }>('duplicate');
    const a = actor();
    const b = actor();
    await a.run(() => {
      r.register('room', { tab: 1 });
      r.register('room', { tab: 2 });
    });
    await b.run(() => r.register('room', { tab: 1 }));
    await a.run(() => r.unregisterMatch('room', (v) => v.tab === 1));
    expect(r.values('room', a.pid)).toEqual([{ tab: 2 }]);
    expect(r.values('room', b.pid)).toEqual([{ tab: 1 }]);
  });

  it('unregister throws outside a process', () => {
    const r = registry<string, number>('duplicate');
    expect(() => r.unregister('k')).toThrow(/must be called inside a process/);
  });
});

describe('queries', () => {
  it('match, countMatch, select and countSelect filter with predicates', async () => {
    const r = registry<string, { admin: boolean }>('duplicate');
    const a = actor();
    const b = actor();
    await a.run(() => {
      r.register('room:1', { admin: true });
      r.register('room:2', { admin: false });
    });
    await b.run(() => r.register('room:1', { admin: false }));
    expect(r.match('room:1', (v) => v.admin)).toEqual([[a.pid, { admin: true }]]);
    expect(r.match('room:9', () => true)).toEqual([]);
    expect(r.countMatch('room:1', () => true)).toBe(2);
    expect(r.countMatch('room:1', (v) => !v.admin)).toBe(1);
    expect(r.select((key, pid) => key === 'room:2' || pid === b.pid)).toEqual(
      expect.arrayContaining([
        ['room:2', a.pid, { admin: false }],
        ['room:1', b.pid, { admin: false }],
      ]),
    );
    expect(r.countSelect((key, pid) => key === 'room:2' || pid === b.pid)).toBe(2);
    expect(r.countSelect(() => true)).toBe(r.count());
  });

  it('updateValue changes the caller’s own value and returns new and old', async () => {
    const r = registry<string, number>('unique');
    const a = actor();
    const b = actor();
    await a.run(() => r.register('counter', 1));
    expect(await a.run(() => r.updateValue('counter', (n) => n + 1))).toEqual({ new: 2, old: 1 });
    expect(r.lookup('counter')).toEqual([[a.pid, 2]]);
    expect(r.values('counter', a.pid)).toEqual([2]);
    expect(await b.run(() => r.updateValue('counter', (n) => n * 10))).toBeUndefined();
    expect(await a.run(() => r.updateValue('missing', (n) => n))).toBeUndefined();
    expect(r.lookup('counter')).toEqual([[a.pid, 2]]);
  });

  it('updateValue throws on a duplicate registry', async () => {
    const r = registry<string, number>('duplicate');
    const a = actor();
    await expect(a.run(() => r.updateValue('k', (n) => n))).rejects.toThrow(/needs a registry with unique keys/);
  });
});

describe('dispatch', () => {
  it('runs the function once with every entry of the key, and not at all for an unknown key', async () => {
    const r = registry<string, string>('duplicate');
    const a = actor();
    const b = actor();
    await a.run(() => r.register('room', 'a'));
    await b.run(() => r.register('room', 'b'));
    const calls: (readonly RegistryEntry<string>[])[] = [];
    r.dispatch('room', (entries) => void calls.push([...entries]));
    expect(calls).toHaveLength(1);
    expect([...(calls[0] ?? [])].sort((x, y) => x[1].localeCompare(y[1]))).toEqual([
      [a.pid, 'a'],
      [b.pid, 'b'],
    ]);
    r.dispatch('nobody', () => calls.push([]));
    expect(calls).toHaveLength(1);
  });

  it('the function keeps seeing the entries as they were, even if it kills a subscriber', async () => {
    const r = registry<string, number>('duplicate');
    const procs = Array.from({ length: 40 }, () => actor());
    for (const [i, p] of procs.entries()) await p.run(() => r.register('big', i));
    const seen: number[] = [];
    r.dispatch('big', (entries) => {
      for (const [pid, value] of entries) {
        seen.push(value);
        if (value % 2 === 0) exit(pid, 'kill');
      }
    });
    expect(seen.sort((x, y) => x - y)).toEqual(procs.map((_, i) => i));
    expect(r.lookup('big').map(([, v]) => v).sort((x, y) => x - y)).toEqual(procs.map((_, i) => i).filter((i) => i % 2 === 1));
    expect(r.count()).toBe(20);
  });

  it('delivers through send in the function, reaching each registered process', async () => {
    const r = registry<string, null>('duplicate');
    const subs = Array.from({ length: 3 }, () => {
      const got: unknown[] = [];
      const pid = spawn((msg) => void got.push(msg), { init: () => r.register('news', null) });
      return { pid, got };
    });
    await idle();
    r.dispatch('news', (entries) => {
      for (const [pid] of entries) send(pid, 'extra');
    });
    await idle();
    for (const s of subs) expect(s.got).toEqual(['extra']);
  });
});

describe('listeners', () => {
  it('hear explicit register and unregister, by pid or name, but not exits', async () => {
    const byPid = recorder();
    const byName = recorder();
    registerName('registry-listener', byName.pid);
    const r = registry<string, number>('duplicate', { listeners: [byPid.pid, 'registry-listener'] });
    const a = actor();
    await a.run(() => {
      r.register('room', 1);
      r.unregister('room');
      r.unregister('never-registered');
      r.register('room', 2);
    });
    exit(a.pid, 'kill');
    await idle();
    const expected: RegistryEvent<string, number>[] = [
      { type: 'register', registry: r, key: 'room', pid: a.pid, value: 1 },
      { type: 'unregister', registry: r, key: 'room', pid: a.pid },
      { type: 'register', registry: r, key: 'room', pid: a.pid, value: 2 },
    ];
    expect(byPid.got).toEqual(expected);
    expect(byName.got).toEqual(expected);
  });

  it('a listener name nobody holds misses the event; the register still succeeds', async () => {
    const l = recorder();
    const r = registry<string, number>('duplicate', { listeners: ['registry-listener-gone', l.pid] });
    const a = actor();
    await a.run(() => r.register('room', 1));
    await idle();
    expect(r.lookup('room')).toEqual([[a.pid, 1]]);
    expect(l.got).toEqual([{ type: 'register', registry: r, key: 'room', pid: a.pid, value: 1 }]);
    exit(a.pid, 'kill');
  });

  it('hear unregisterMatch only once no entry of the caller remains under the key', async () => {
    const l = recorder();
    const r = registry<string, number>('duplicate', { listeners: [l.pid] });
    const a = actor();
    await a.run(() => {
      r.register('room', 1);
      r.register('room', 2);
      r.unregisterMatch('room', (v) => v === 1);
    });
    await idle();
    expect(l.got.filter((e) => (e as { type: string }).type === 'unregister')).toEqual([]);
    await a.run(() => r.unregisterMatch('room', (v) => v === 2));
    await idle();
    expect(l.got.at(-1)).toEqual({ type: 'unregister', registry: r, key: 'room', pid: a.pid });
  });
});

describe('cleanup on exit', () => {
  it.each([
    ['a normal exit', (p: ReturnType<typeof actor>) => void p.run(() => exit('normal')).catch(() => undefined)],
    ['a crash', (p: ReturnType<typeof actor>) => send(p.pid, 'crash')],
    ['a kill', (p: ReturnType<typeof actor>) => exit(p.pid, 'kill')],
    ['a shutdown', (p: ReturnType<typeof actor>) => exit(p.pid, { shutdown: 'bye' })],
  ])('a dead process’s entries vanish from the registry after %s', async (_label, end) => {
    const unique = registry<string, string>('unique');
    const dup = registry<string, string>('duplicate');
    const a = actor();
    const b = actor();
    await a.run(() => {
      unique.register('a-key', 'a');
      dup.register('room', 'a1');
      dup.register('room', 'a2');
    });
    await b.run(() => dup.register('room', 'b'));
    end(a);
    await idle();
    expect(isAlive(a.pid)).toBe(false);
    expect(unique.lookup('a-key')).toEqual([]);
    expect(unique.keys(a.pid)).toEqual([]);
    expect(dup.lookup('room')).toEqual([[b.pid, 'b']]);
    expect(dup.count()).toBe(1);
    expect(await b.run(() => unique.register('a-key', 'b'))).toEqual({ ok: true });
  });

  it('a process holds one exit hook per registry however many keys it has, and none once it has no key', async () => {
    const unique = registry<string, number>('unique');
    const dup = registry<string, number>('duplicate');
    const a = actor();
    const hooks = (): number => procOf(a.pid)?.exitHooks?.length ?? 0;
    await a.run(() => {
      for (let i = 0; i < 50; i++) {
        unique.register(`k${i}`, i);
        dup.register('room', i);
      }
    });
    expect(hooks()).toBe(2);
    await a.run(() => {
      for (let i = 0; i < 50; i++) unique.unregister(`k${i}`);
    });
    expect(hooks()).toBe(1);
    await a.run(() => dup.unregisterMatch('room', () => true));
    expect(hooks()).toBe(0);
    expect(dup.count() + unique.count()).toBe(0);
  });

  it('entries of processes taken down by a link vanish too', async () => {
    const r = registry<string, number>('duplicate');
    const parent = actor();
    const children: Pid[] = [];
    await parent.run(() => {
      r.register('tree', 0);
      for (let i = 1; i <= 3; i++) children.push(spawnLink(() => undefined, { init: () => r.register('tree', i) }));
    });
    await idle();
    expect(r.count()).toBe(4);
    exit(parent.pid, 'boom');
    await idle();
    expect(children.some(isAlive)).toBe(false);
    expect(r.count()).toBe(0);
    expect(r.lookup('tree')).toEqual([]);
  });

  it('entries are gone before a monitor’s DOWN message arrives', async () => {
    const r = registry<string, number>('unique');
    const a = actor();
    await a.run(() => r.register('k', 1));
    const seenAtDown: unknown[] = [];
    spawn(
      (msg) => {
        if (isDown(msg)) seenAtDown.push(r.lookup('k'));
      },
      { init: () => void monitor(a.pid) },
    );
    await idle();
    exit(a.pid, 'kill');
    await idle();
    expect(seenAtDown).toEqual([[]]);
  });

  it('a process killed while its callback awaits cannot register when the callback resumes', async () => {
    const r = registry<string, number>('duplicate');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let threw = false;
    const pid = spawn(async () => {
      await gate;
      try {
        r.register('late', 1);
      } catch {
        threw = true;
      }
    });
    send(pid, 'go');
    await idle({ waitForCallbacks: false });
    exit(pid, 'kill');
    release();
    await gate;
    await idle();
    expect(threw).toBe(true);
    expect(r.count()).toBe(0);
    expect(r.lookup('late')).toEqual([]);
  });
});

describe('many processes', () => {
  it('keeps lookups right while hundreds of processes register and die in any order', async () => {
    const dup = registry<string, number>('duplicate');
    const unique = registry<string, number>('unique');
    const n = 300;
    const pids: Pid[] = [];
    for (let i = 0; i < n; i++) {
      pids.push(
        spawn(() => undefined, {
          init: () => {
            dup.register('all', i);
            dup.register(i % 2 === 0 ? 'even' : 'odd', i);
            unique.register(`user:${i}`, i);
          },
        }),
      );
    }
    await idle();
    expect(dup.count()).toBe(2 * n);
    expect(unique.count()).toBe(n);
    // Kill a pseudo-random two thirds, so removals hit the middle of big keys.
    const dead = new Set<number>();
    for (let k = 0, i = 7; k < 200; k++, i = (i * 31 + 17) % n) {
      if (!dead.has(i)) {
        dead.add(i);
        exit(pids[i] as Pid, k % 3 === 0 ? 'kill' : 'shutdown');
      }
    }
    await idle();
    const alive = pids.map((_, i) => i).filter((i) => !dead.has(i));
    const values = (key: string): number[] => dup.lookup(key).map(([, v]) => v).sort((x, y) => x - y);
    expect(values('all')).toEqual(alive);
    expect(values('even')).toEqual(alive.filter((i) => i % 2 === 0));
    expect(values('odd')).toEqual(alive.filter((i) => i % 2 === 1));
    for (const [pid, v] of dup.lookup('all')) expect(pid).toBe(pids[v]);
    expect(unique.count()).toBe(alive.length);
    for (const i of dead) expect(unique.lookup(`user:${i}`)).toEqual([]);
    let dispatched = 0;
    dup.dispatch('all', (entries) => (dispatched = entries.length));
    expect(dispatched).toBe(alive.length);
  });
});

describe('metadata', () => {
  it('putMeta, meta and deleteMeta, as Elixir\'s put_meta/3, meta/2 and delete_meta/2, from anywhere', async () => {
    const r = registry<string, number>('duplicate', { meta: { pubsub: 'local' } });
    expect(r.meta('pubsub')).toBe('local');
    expect(r.meta('missing')).toBeUndefined();
    r.putMeta('topic', { text: 'general' });
    expect(r.meta<{ text: string }>('topic')?.text).toBe('general');
    const a = actor();
    await a.run(() => r.putMeta('topic', 'set inside a process'));
    exit(a.pid, 'kill');
    await idle();
    expect(r.meta('topic')).toBe('set inside a process');
    r.deleteMeta('topic');
    expect(r.meta('topic')).toBeUndefined();
  });

  it('refuses a key that is not a non-empty string, a bad meta option, and putMeta once closed', () => {
    const r = registry<string, number>('unique');
    expect(() => r.putMeta('' as string, 1)).toThrow(new TypeError('Registry#putMeta: the metadata key must be a non-empty string, got '));
    expect(() => r.meta(42 as unknown as string)).toThrow(TypeError);
    expect(() => new Registry({ keys: 'unique', meta: [1] as never })).toThrow(/Registry option 'meta' must be an object/);
    r.putMeta('k', 1);
    r.close();
    expect(r.meta('k')).toBeUndefined();
    expect(() => r.putMeta('k', 2)).toThrow(/Registry#putMeta: this registry is closed/);
  });
});

describe('close', () => {
  it('drops every entry, then refuses registrations; later exits are harmless', async () => {
    const r = registry<string, number>('duplicate', { name: 'closing' });
    const a = actor();
    await a.run(() => r.register('k', 1));
    r.close();
    expect(r.count()).toBe(0);
    expect(r.lookup('k')).toEqual([]);
    await expect(a.run(() => r.register('k', 2))).rejects.toThrow(/registry 'closing' is closed/);
    exit(a.pid, 'kill');
    await idle();
    expect(reports).toEqual([]);
  });
});
