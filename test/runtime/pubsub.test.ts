import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeName, type Pid } from '../../src/runtime/pid.js';
import { exit, isAlive, send, spawn } from '../../src/runtime/process.js';
import { idle } from '../../src/runtime/scheduler.js';
import { setLogger, type Logger } from '../../src/runtime/logger.js';
import type { RegistryEntry } from '../../src/runtime/registry.js';
import { PubSub, defaultDispatcher, type Dispatcher, type PubSubAdapter } from '../../src/runtime/pubsub.js';

/** Marks a message as work for the subscriber to run as itself rather than record. */
const RUN = Symbol('run');
type Work = { [RUN]: () => void };

interface Subscriber {
  pid: Pid;
  got: unknown[];
  /** Runs `fn` inside the subscriber process and waits until it did. */
  run(fn: () => void): Promise<void>;
}

/** A process subscribed to `topics` (in its init) that records every other message. */
function subscriber<M>(ps: PubSub<M>, topics: string[], ...meta: undefined extends M ? [] : [M]): Subscriber {
  const got: unknown[] = [];
  const pid = spawn(
    (msg: unknown) => {
      if (typeof msg === 'object' && msg !== null && RUN in msg) (msg as Work)[RUN]();
      else got.push(msg);
    },
    {
      init: () => {
        for (const t of topics) (ps.subscribe as (topic: string, ...m: unknown[]) => void)(t, ...meta);
      },
    },
  );
  const run = (fn: () => void): Promise<void> => {
    const work: Work = { [RUN]: fn };
    send(pid, work);
    return idle();
  };
  return { pid, got, run };
}

const open: PubSub<unknown>[] = [];
function pubsub<M = undefined>(opts: ConstructorParameters<typeof PubSub<M>>[0] = {}): PubSub<M> {
  const ps = new PubSub<M>(opts);
  open.push(ps as PubSub<unknown>);
  return ps;
}

let previousLogger: Logger;
beforeEach(() => {
  previousLogger = setLogger(() => undefined);
});
afterEach(() => {
  setLogger(previousLogger);
  for (const ps of open.splice(0)) ps.close();
});

describe('options', () => {
  it('rejects bad options with a TypeError naming the option', () => {
    expect(() => new PubSub({ pool: 2 } as object)).toThrow(/unknown option 'pool' in PubSub options \(known: name, adapter, dispatcher\)/);
    expect(() => new PubSub({ name: '' })).toThrow(/'name' must be a non-empty string/);
    expect(() => new PubSub({ adapter: {} as () => PubSubAdapter })).toThrow(/'adapter' must be a function/);
    expect(() => new PubSub({ dispatcher: 'fast' as unknown as Dispatcher<undefined> })).toThrow(/'dispatcher' must be a function/);
  });

  it('is found by name until closed, and a taken name is refused', () => {
    const ps = pubsub({ name: 'app' });
    expect(PubSub.lookupByName('app')).toBe(ps);
    expect(() => new PubSub({ name: 'app' })).toThrow(/a PubSub named 'app' already exists/);
    ps.close();
    expect(PubSub.lookupByName('app')).toBeUndefined();
  });

  it('nodeName is the runtime’s node name without an adapter', () => {
    expect(pubsub().nodeName()).toBe(nodeName());
  });
});

describe('subscribe and broadcast', () => {
  it('delivers the message as is to every subscriber of the topic and no one else', async () => {
    const ps = pubsub();
    const a = subscriber(ps, ['room:1']);
    const b = subscriber(ps, ['room:1', 'room:2']);
    const c = subscriber(ps, ['room:2']);
    await idle();
    const msg = { type: 'chat', text: 'hi' };
    ps.broadcast('room:1', msg);
    ps.broadcast('nobody', 'lost');
    await idle();
    expect(a.got).toEqual([msg]);
    expect(a.got[0]).toBe(msg);
    expect(b.got).toEqual([msg]);
    expect(c.got).toEqual([]);
    expect(ps.subscriberCount('room:1')).toBe(2);
    expect(new Set(ps.subscribers('room:1'))).toEqual(new Set([a.pid, b.pid]));
  });

  it('keeps each broadcaster’s order at every subscriber', async () => {
    const ps = pubsub();
    const subs = Array.from({ length: 50 }, () => subscriber(ps, ['t']));
    await idle();
    for (let i = 0; i < 20; i++) ps.broadcast('t', i);
    await idle();
    for (const s of subs) expect(s.got).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('throws when subscribing outside a process or to a topic that is not a string', async () => {
    const ps = pubsub();
    expect(() => ps.subscribe('t')).toThrow(/must be called inside a process/);
    let error: unknown;
    const s = subscriber(ps, []);
    await s.run(() => {
      try {
        ps.subscribe(42 as unknown as string);
      } catch (err) {
        error = err;
      }
    });
    expect(error).toBeInstanceOf(TypeError);
    expect(String(error)).toMatch(/topic must be a string, got 42/);
  });

  it('a duplicate subscription gives duplicate deliveries, and unsubscribe drops them all', async () => {
    const ps = pubsub();
    const a = subscriber(ps, ['t', 't']);
    const b = subscriber(ps, ['t']);
    await idle();
    ps.broadcast('t', 'twice');
    await idle();
    expect(a.got).toEqual(['twice', 'twice']);
    expect(ps.subscriberCount('t')).toBe(3);
    await a.run(() => ps.unsubscribe('t'));
    ps.broadcast('t', 'after');
    await idle();
    expect(a.got).toEqual(['twice', 'twice']);
    expect(b.got).toEqual(['twice', 'after']);
    expect(ps.subscribers('t')).toEqual([b.pid]);
  });

  it('broadcastFrom skips every subscription of the sender', async () => {
    const ps = pubsub();
    const a = subscriber(ps, ['t', 't']);
    const b = subscriber(ps, ['t']);
    await idle();
    await a.run(() => void ps.broadcastFrom(a.pid, 't', 'from a'));
    expect(a.got).toEqual([]);
    expect(b.got).toEqual(['from a']);
  });

  it('localBroadcast and localBroadcastFrom deliver on this node', async () => {
    const ps = pubsub();
    const a = subscriber(ps, ['t']);
    const b = subscriber(ps, ['t']);
    await idle();
    ps.localBroadcast('t', 1);
    ps.localBroadcastFrom(b.pid, 't', 2);
    await idle();
    expect(a.got).toEqual([1, 2]);
    expect(b.got).toEqual([1]);
  });

  it('directBroadcast to this node delivers locally; to another node it needs an adapter', async () => {
    const ps = pubsub();
    const a = subscriber(ps, ['t']);
    await idle();
    ps.directBroadcast(ps.nodeName(), 't', 'direct');
    await idle();
    expect(a.got).toEqual(['direct']);
    expect(() => ps.directBroadcast('elsewhere@host', 't', 'x')).toThrow(
      `PubSub#directBroadcast to node 'elsewhere@host': this PubSub has no adapter, so only its own node '${nodeName()}' is reachable`,
    );
  });

  it('a dead subscriber is dropped from its topics and broadcasts go on to the rest', async () => {
    const ps = pubsub();
    const a = subscriber(ps, ['t', 'u']);
    const b = subscriber(ps, ['t']);
    const crashing = spawn(
      () => {
        throw new Error('boom');
      },
      { init: () => ps.subscribe('t') },
    );
    await idle();
    expect(ps.subscriberCount('t')).toBe(3);
    exit(a.pid, 'kill');
    send(crashing, 'crash now');
    await idle();
    expect(isAlive(crashing)).toBe(false);
    expect(ps.subscriberCount('t')).toBe(1);
    expect(ps.subscriberCount('u')).toBe(0);
    ps.broadcast('t', 'still here');
    await idle();
    expect(b.got).toEqual(['still here']);
  });

  it('close drops every subscription and refuses new ones', async () => {
    const ps = pubsub({ name: 'closing' });
    const a = subscriber(ps, ['t']);
    await idle();
    ps.close();
    ps.broadcast('t', 'nobody hears');
    let error: unknown;
    await a.run(() => {
      try {
        ps.subscribe('t');
      } catch (err) {
        error = err;
      }
    });
    expect(a.got).toEqual([]);
    expect(String(error)).toMatch(/PubSub 'closing' is closed/);
  });
});

describe('dispatchers', () => {
  it('a PubSub-wide dispatcher receives all entries once per broadcast, with metadata, and the default is skipped', async () => {
    const calls: { entries: RegistryEntry<string>[]; from: Pid | null; message: unknown }[] = [];
    const ps = pubsub<string>({
      dispatcher: (entries, from, message) => void calls.push({ entries: [...entries], from, message }),
    });
    const a = subscriber(ps, ['t'], 'json');
    const b = subscriber(ps, ['t'], 'binary');
    await idle();
    ps.broadcast('t', 'one');
    ps.broadcastFrom(a.pid, 't', 'two');
    ps.localBroadcast('elsewhere', 'none');
    await idle();
    expect(calls).toHaveLength(2);
    for (const call of calls) {
      expect(new Map(call.entries)).toEqual(
        new Map([
          [a.pid, 'json'],
          [b.pid, 'binary'],
        ]),
      );
      expect(call.entries).toHaveLength(2);
    }
    expect(calls.map((c) => [c.from, c.message])).toEqual([
      [null, 'one'],
      [a.pid, 'two'],
    ]);
    expect(a.got).toEqual([]);
    expect(b.got).toEqual([]);
  });

  it('a per-call dispatcher, as a function or a registered name, replaces the default for that call only', async () => {
    const ps = pubsub();
    const a = subscriber(ps, ['t']);
    await idle();
    let encoded = 0;
    const encodeOnce: Dispatcher<undefined> = (entries, from, message) => {
      encoded++;
      defaultDispatcher(entries, from, `frame(${String(message)})`);
    };
    ps.registerDispatcher('frame', encodeOnce);
    ps.broadcast('t', 'plain');
    ps.broadcast('t', 'fn', encodeOnce);
    ps.broadcast('t', 'named', 'frame');
    await idle();
    expect(a.got).toEqual(['plain', 'frame(fn)', 'frame(named)']);
    expect(encoded).toBe(2);
  });

  it('an unknown dispatcher name or a name taken by another function is an error', () => {
    const ps = pubsub();
    expect(() => ps.broadcast('t', 'x', 'missing')).toThrow(/unknown dispatcher 'missing'; register it on every node/);
    const d: Dispatcher<undefined> = () => undefined;
    ps.registerDispatcher('d', d);
    ps.registerDispatcher('d', d);
    expect(() => ps.registerDispatcher('d', () => undefined)).toThrow(/a different dispatcher is already registered as 'd'/);
    expect(() => ps.registerDispatcher('', d)).toThrow(TypeError);
  });
});

/**
 * Routes between PubSub instances of this one Node process, each standing for a
 * node with its own name. It serializes messages as a wire would and delivers them
 * on a later microtask. It exercises the adapter interface; it is not a broker.
 */
class LoopbackCluster {
  private readonly nodes = new Map<string, PubSub<unknown>>();

  adapter(node: string): (pubsub: PubSub<unknown>) => PubSubAdapter {
    return (pubsub) => {
      this.nodes.set(node, pubsub);
      return {
        nodeName: () => node,
        broadcast: (topic, message, dispatcherName) => {
          const wire = JSON.stringify({ topic, message, dispatcherName });
          const targets = [...this.nodes].filter(([name]) => name !== node).map(([, ps]) => ps);
          return this.later(() => {
            for (const ps of targets) this.deliver(ps, wire);
          });
        },
        directBroadcast: (target, topic, message, dispatcherName) => {
          const ps = this.nodes.get(target);
          if (ps === undefined) return Promise.reject(new Error(`no node '${target}'`));
          const wire = JSON.stringify({ topic, message, dispatcherName });
          return this.later(() => this.deliver(ps, wire));
        },
      };
    };
  }

  private deliver(ps: PubSub<unknown>, wire: string): void {
    const { topic, message, dispatcherName } = JSON.parse(wire) as { topic: string; message: unknown; dispatcherName?: string };
    ps.deliverRemote(topic, message, dispatcherName);
  }

  private later(fn: () => void): Promise<void> {
    return Promise.resolve().then(fn);
  }
}

describe('adapter interface, with two PubSub instances standing for two nodes in one process (not a broker test)', () => {
  /** Two nodes with one subscriber to 't' each, subscribed by the time it resolves. */
  async function twoNodes(): Promise<{ a: PubSub<unknown>; b: PubSub<unknown>; onA: Subscriber; onB: Subscriber }> {
    const cluster = new LoopbackCluster();
    const a = pubsub<unknown>({ adapter: cluster.adapter('a@test') });
    const b = pubsub<unknown>({ adapter: cluster.adapter('b@test') });
    const nodes = { a, b, onA: subscriber(a, ['t']), onB: subscriber(b, ['t']) };
    await idle();
    return nodes;
  }

  it('each PubSub reports its adapter’s node name', async () => {
    const { a, b } = await twoNodes();
    expect(a.nodeName()).toBe('a@test');
    expect(b.nodeName()).toBe('b@test');
  });

  it('broadcast reaches subscribers on both nodes; localBroadcast stays on one', async () => {
    const { a, onA, onB } = await twoNodes();
    await a.broadcast('t', { n: 1 });
    a.localBroadcast('t', { n: 2 });
    await idle();
    expect(onA.got).toEqual([{ n: 1 }, { n: 2 }]);
    expect(onB.got).toEqual([{ n: 1 }]);
  });

  it('broadcastFrom skips the sender locally and still reaches the other node', async () => {
    const { a, onA, onB } = await twoNodes();
    await a.broadcastFrom(onA.pid, 't', 'hello');
    await idle();
    expect(onA.got).toEqual([]);
    expect(onB.got).toEqual(['hello']);
  });

  it('directBroadcast reaches only the named node', async () => {
    const { a, onA, onB } = await twoNodes();
    await a.directBroadcast('b@test', 't', 'to b');
    await a.directBroadcast('a@test', 't', 'to a');
    await idle();
    expect(onA.got).toEqual(['to a']);
    expect(onB.got).toEqual(['to b']);
    await expect(a.directBroadcast('c@test', 't', 'x')).rejects.toThrow(/no node 'c@test'/);
  });

  it('a named dispatcher crosses the wire by name and runs on the receiving node', async () => {
    const { a, b, onA, onB } = await twoNodes();
    const ranOn: string[] = [];
    const tag =
      (node: string): Dispatcher<unknown> =>
      (entries, from, message) => {
        ranOn.push(node);
        defaultDispatcher(entries, from, { tagged: message });
      };
    a.registerDispatcher('tag', tag('a'));
    b.registerDispatcher('tag', tag('b'));
    await a.broadcast('t', 'x', 'tag');
    await idle();
    expect(ranOn.sort()).toEqual(['a', 'b']);
    expect(onA.got).toEqual([{ tagged: 'x' }]);
    expect(onB.got).toEqual([{ tagged: 'x' }]);
  });

  it('an unregistered dispatcher function cannot cross nodes, and nothing is sent', async () => {
    const { a, onA, onB } = await twoNodes();
    expect(() => a.broadcast('t', 'x', defaultDispatcher)).toThrow(/cannot cross nodes; register it with registerDispatcher/);
    await idle();
    expect(onA.got).toEqual([]);
    expect(onB.got).toEqual([]);
  });

  it('deliverRemote with a dispatcher name this node does not know is an error', async () => {
    const { b } = await twoNodes();
    expect(() => b.deliverRemote('t', 'x', 'unknown')).toThrow(/unknown dispatcher 'unknown'/);
  });
});
