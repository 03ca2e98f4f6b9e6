import { afterEach, describe, expect, it } from 'vitest';
import { PubSub, Registry, exit, idle, processes, send, spawn, type Pid } from '../../src/runtime/index.js';
import { KEYS_SHOWN, MEMBERS_SHOWN, TABLES_SHOWN, sampleTables, type TableView } from '../../src/observer/registries.js';

const opened: { close(): void }[] = [];
function track<T extends { close(): void }>(t: T): T {
  opened.push(t);
  return t;
}

afterEach(async () => {
  for (const t of opened.splice(0)) t.close();
  for (const pid of processes()) exit(pid, 'kill');
  await idle();
});

/** Starts a process that runs `join` in its first message, and stays. */
async function member(join: () => void): Promise<Pid> {
  const pid = spawn(() => join());
  send(pid, 'join');
  await idle();
  return pid;
}

const byName = (name: string): TableView | undefined => sampleTables().shown.find((t) => t.name === name);

describe('sampleTables', () => {
  it('lists a registry with its keys, entry counts and members, busiest key first', async () => {
    const rooms = track(new Registry<string, { user: string }>({ keys: 'duplicate', name: 'rooms' }));
    const ada = await member(() => rooms.register('lobby', { user: 'ada' }));
    const bob = await member(() => {
      rooms.register('lobby', { user: 'bob' });
      rooms.register('games', { user: 'bob' });
    });
    const view = byName('rooms');
    expect(view).toMatchObject({ id: expect.stringMatching(/^registry:\d+$/), type: 'registry', keys: 'duplicate', keyCount: 2, entryCount: 3 });
    expect(view?.top).toEqual([
      { key: 'lobby', count: 2, members: expect.arrayContaining([String(ada), String(bob)]) },
      { key: 'games', count: 1, members: [String(bob)] },
    ]);
    // The same instance keeps its id.
    expect(byName('rooms')?.id).toBe(view?.id);
  });

  it("lists a PubSub with its topics and subscribers, and not its own registry beside it", async () => {
    const before = sampleTables().total;
    const news = track(new PubSub({ name: 'news' }));
    const reader = await member(() => {
      news.subscribe('sports');
      news.subscribe('weather');
      news.subscribe('weather');
    });
    expect(sampleTables().total).toBe(before + 1);
    const view = byName('news');
    expect(view).toMatchObject({ type: 'pubsub', keys: 'duplicate', keyCount: 2, entryCount: 3 });
    expect(view?.top).toEqual([
      { key: 'weather', count: 2, members: [String(reader), String(reader)] },
      { key: 'sports', count: 1, members: [String(reader)] },
    ]);
  });

  it('drops a member that exits and an instance that is closed', async () => {
    const sessions = new Registry<number, null>({ keys: 'unique', name: 'sessions' });
    const pid = await member(() => sessions.register(42, null));
    expect(byName('sessions')?.top).toEqual([{ key: '42', count: 1, members: [String(pid)] }]);
    exit(pid, 'kill');
    await idle();
    expect(byName('sessions')).toMatchObject({ keyCount: 0, entryCount: 0, top: [] });
    sessions.close();
    expect(byName('sessions')).toBeUndefined();
  });

  it('stays bounded: the largest instances, their busiest keys, their first members', async () => {
    const big = track(new Registry<string, null>({ keys: 'duplicate', name: 'big' }));
    await member(() => {
      for (let k = 0; k < KEYS_SHOWN + 5; k++) for (let n = 0; n <= k; n++) big.register(`key-${k}`, null);
    });
    for (let i = 0; i < TABLES_SHOWN + 3; i++) track(new Registry({ keys: 'unique' }));
    const { total, shown } = sampleTables();
    expect(total).toBeGreaterThanOrEqual(TABLES_SHOWN + 4);
    expect(shown).toHaveLength(TABLES_SHOWN);
    expect(shown[0]?.name).toBe('big');
    const top = shown[0]?.top ?? [];
    expect(top).toHaveLength(KEYS_SHOWN);
    expect(top[0]).toMatchObject({ key: `key-${KEYS_SHOWN + 4}`, count: KEYS_SHOWN + 5 });
    expect(top.every((k) => k.members.length === MEMBERS_SHOWN)).toBe(true);
  });

  it('prints keys that are not strings, and cuts long ones', async () => {
    const odd = track(new Registry<unknown, null>({ keys: 'duplicate', name: 'odd' }));
    await member(() => {
      odd.register({ room: 7 }, null);
      odd.register('k'.repeat(500), null);
    });
    const keys = byName('odd')?.top.map((k) => k.key);
    expect(keys).toContain('{"room":7}');
    expect(keys).toContain(`${'k'.repeat(120)}...`);
  });
});
