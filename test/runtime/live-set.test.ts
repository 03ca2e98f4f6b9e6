import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setImmediate as turn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { LiveSet } from '../../src/runtime/live-set.js';
import { PubSub, Registry } from '../../src/runtime/index.js';
import { openPubSubs } from '../../src/runtime/pubsub.js';
import { openRegistries } from '../../src/runtime/registry.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collects until `done` holds: a WeakRef's target lives at least until the end of the job that made it. */
async function collectUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 20 && !done(); i++) {
    await turn();
    gc();
  }
}

describe('LiveSet', () => {
  it('lists its members in order, once each, until deleted', () => {
    const set = new LiveSet<object>();
    const a = {};
    const b = {};
    set.add(a);
    set.add(b);
    set.add(a);
    expect([...set]).toEqual([a, b]);
    set.delete(a);
    set.delete(a);
    expect([...set]).toEqual([b]);
  });

  it('does not keep a member alive', async () => {
    const set = new LiveSet<object>();
    const kept = {};
    set.add(kept);
    (() => {
      for (let i = 0; i < 100; i++) set.add({ i });
    })();
    await collectUntil(() => [...set].length === 1);
    expect([...set]).toEqual([kept]);
  });
});

describe('open registries and PubSubs', () => {
  it('are listed while open, a PubSub without its own registry, and no longer once closed', () => {
    const registry = new Registry({ keys: 'unique' });
    const pubsub = new PubSub();
    expect([...openRegistries]).toContain(registry);
    expect([...openPubSubs]).toContain(pubsub);
    expect([...openRegistries]).not.toContain(pubsub.subscriptions());
    registry.close();
    pubsub.close();
    expect([...openRegistries]).not.toContain(registry);
    expect([...openPubSubs]).not.toContain(pubsub);
  });

  it('are not kept alive by the list when dropped without close()', async () => {
    let registry: Registry<string, null> | undefined = new Registry({ keys: 'duplicate' });
    const ref = new WeakRef(registry);
    expect([...openRegistries]).toContain(registry);
    registry = undefined;
    await collectUntil(() => ref.deref() === undefined);
    expect(ref.deref()).toBeUndefined();
  });
});
