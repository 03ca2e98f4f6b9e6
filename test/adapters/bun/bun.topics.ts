/**
 * Fastlane broadcasts through Bun's own pub/sub (`src/adapters/bun/topics.ts`):
 * each client still sees its connection's frames in the order they were pushed
 * or broadcast, a connection that leaves the topic or ends hears nothing more,
 * and what cannot go through `server.publish` goes connection by connection.
 * Runs under Bun's test runner (`run-under-bun.test.ts` starts it).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { serve, type BeamsockServer } from '../../../src/adapters/bun/index.js';
import type { Pid } from '../../../src/runtime/pid.js';
import { PubSub } from '../../../src/runtime/pubsub.js';
import { exit, isAlive, send } from '../../../src/runtime/process.js';
import { idle } from '../../../src/runtime/scheduler.js';
import { ok, push, stop } from '../../../src/websock/behaviour.js';
import { setDeflate } from '../../../src/websock/commands.js';
import { fastlane, outbound } from '../../../src/websock/fastlane.js';
import type { ConnectionOptions } from '../../../src/websock/options.js';
import { TestClient } from '../../conformance/client.js';
import { inside, pushMessage, Recorder, runIn, scripted } from '../../conformance/handlers.js';

const servers: BeamsockServer[] = [];
const clients: TestClient[] = [];
const pubsubs: PubSub<unknown>[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const p of pubsubs.splice(0)) p.close();
});

function pubsub(): PubSub<unknown> {
  const p = new PubSub<unknown>({ dispatcher: fastlane });
  pubsubs.push(p);
  return p;
}

/** A server whose connections subscribe, in `init`, to the topics of `ps` named in `?topics=a,b` (default 'room'). */
async function start(rec: Recorder, ps: PubSub<unknown>, options: ConnectionOptions = {}): Promise<{ server: BeamsockServer; publishes: string[] }> {
  const server = await serve(
    scripted(rec, {
      init(args) {
        for (const topic of args as string[]) ps.subscribe(topic);
        return ok(null);
      },
    }),
    { ...options, port: 0, args: (req: Request) => (new URL(req.url).searchParams.get('topics') ?? 'room').split(',') },
  );
  servers.push(server);
  // Every publish beamsock makes, by topic name: the proof that a broadcast went the native way.
  const publishes: string[] = [];
  const bun = server.bunServer;
  const publish = bun.publish.bind(bun);
  bun.publish = (topic, data, compress) => {
    publishes.push(topic);
    return publish(topic, data, compress);
  };
  return { server, publishes };
}

/** `n` clients of `server` (subscribed to `topics`), each with its connection's pid. */
async function connect(server: BeamsockServer, rec: Recorder, n: number, topics = 'room', deflate = false): Promise<[TestClient, Pid][]> {
  const out: [TestClient, Pid][] = [];
  for (let i = 0; i < n; i++) {
    const before = rec.count('init');
    const c = await TestClient.open(server.url, { path: `/?topics=${topics}`, perMessageDeflate: deflate });
    clients.push(c);
    out.push([c, await rec.pid(before)]);
  }
  return out;
}

/** The texts a client has received once it has `n`. */
async function texts(c: TestClient, n: number): Promise<string[]> {
  return (await c.received(n)).map((e) => String(e.data));
}

/** Pushes `text` from the connection's own process (a handleInfo), and records it as expected there. */
function own(pid: Pid, text: string, expected: Map<Pid, string[]>): void {
  send(pid, pushMessage(['text', text]));
  expected.get(pid)?.push(text);
}

describe('fastlane broadcasts through Bun topics', () => {
  it("keep each connection's order: own frames before and after every broadcast, whether it went native or not", async () => {
    const rec = new Recorder();
    const ps = pubsub();
    const { server, publishes } = await start(rec, ps);
    const conns = await connect(server, rec, 6);
    const expected = new Map<Pid, string[]>(conns.map(([, pid]) => [pid, []]));
    for (let k = 0; k < 30; k++) {
      conns.forEach(([, pid], i) => (k + i) % 3 === 0 && own(pid, `own ${k} before`, expected));
      ps.broadcast('room', outbound(['text', `b ${k}`]));
      for (const list of expected.values()) list.push(`b ${k}`);
      conns.forEach(([, pid], i) => (k + i) % 4 === 1 && own(pid, `own ${k} after`, expected));
      // Mostly let every process go idle (so the next broadcast finds most of them ready for Bun); sometimes not.
      if (k % 3 !== 2) await idle();
    }
    for (const [c, pid] of conns) {
      const want = expected.get(pid) as string[];
      expect(await texts(c, want.length)).toEqual(want);
    }
    expect(publishes.length).toBeGreaterThan(10);
  });

  it('a connection that broadcasts from its own callback gets its pushed frame first; the others get the broadcast from Bun', async () => {
    const rec = new Recorder();
    const ps = pubsub();
    const { server, publishes } = await start(rec, ps);
    const [[a, pidA], [b], [c]] = await connect(server, rec, 3);
    send(
      pidA,
      inside((state) => {
        ps.broadcast('room', outbound(['text', 'broadcast']));
        return push(['text', 'pushed'], state);
      }),
    );
    expect(await texts(a, 2)).toEqual(['pushed', 'broadcast']);
    expect(await texts(b as TestClient, 1)).toEqual(['broadcast']);
    expect(await texts(c as TestClient, 1)).toEqual(['broadcast']);
    expect(publishes).toHaveLength(1);
  });

  it('broadcastFrom skips its sender, and the sender hears the next broadcast again', async () => {
    const rec = new Recorder();
    const ps = pubsub();
    const { server, publishes } = await start(rec, ps);
    const [[a, pidA], [b]] = await connect(server, rec, 3);
    ps.broadcast('room', outbound(['text', 'to all']));
    ps.broadcastFrom(pidA, 'room', outbound(['text', 'from a']));
    own(pidA, 'marker', new Map());
    expect(await texts(a, 2)).toEqual(['to all', 'marker']);
    await idle();
    ps.broadcast('room', outbound(['text', 'to all again']));
    expect(await texts(a, 3)).toEqual(['to all', 'marker', 'to all again']);
    expect(await texts(b as TestClient, 3)).toEqual(['to all', 'from a', 'to all again']);
    expect(publishes).toHaveLength(3);
  });

  it('a connection that unsubscribed hears no later broadcast', async () => {
    const rec = new Recorder();
    const ps = pubsub();
    const { server } = await start(rec, ps);
    const [[a, pidA], [b]] = await connect(server, rec, 3);
    ps.broadcast('room', outbound(['text', 'first']));
    expect(await texts(a, 1)).toEqual(['first']);
    await runIn(pidA, () => ps.unsubscribe('room'));
    ps.broadcast('room', outbound(['text', 'second']));
    own(pidA, 'marker', new Map());
    expect(await texts(b as TestClient, 2)).toEqual(['first', 'second']);
    expect(await texts(a, 2)).toEqual(['first', 'marker']);
  });

  it('a connection whose process ended hears no later broadcast, and the others still do', async () => {
    const rec = new Recorder();
    const ps = pubsub();
    const { server } = await start(rec, ps);
    const [[a, pidA], [b, pidB], [c]] = await connect(server, rec, 3);
    ps.broadcast('room', outbound(['text', 'first']));
    await texts(a, 1);
    send(pidA, inside((state) => stop('normal', state)));
    exit(pidB, 'kill');
    expect((await a.closeSeen()).code).toBe(1000);
    expect((await b.closeSeen()).code).toBe(1006);
    expect([isAlive(pidA), isAlive(pidB)]).toEqual([false, false]);
    ps.broadcast('room', outbound(['text', 'second']));
    expect(await texts(c as TestClient, 2)).toEqual(['first', 'second']);
    expect(a.events.map((e) => String(e.data))).toEqual(['first']);
    expect(b.events.map((e) => String(e.data))).toEqual(['first']);
    expect(ps.subscriberCount('room')).toBe(1);
  });

  it('keeps topics apart, and two PubSubs with the same topic name', async () => {
    const rec = new Recorder();
    const ps = pubsub();
    const other = pubsub();
    const { server } = await start(rec, ps);
    const reds = await connect(server, rec, 2, 'red');
    const blues = await connect(server, rec, 2, 'blue');
    const both = await connect(server, rec, 2, 'red,blue');
    // The first red connection also subscribes to the other PubSub's 'red'; no other connection may get its frames.
    await runIn((reds[0] as [TestClient, Pid])[1], () => other.subscribe('red'));
    for (let k = 0; k < 5; k++) {
      ps.broadcast('red', outbound(['text', `red ${k}`]));
      other.broadcast('red', outbound(['text', `other red ${k}`]));
      ps.broadcast('blue', outbound(['binary', Buffer.from(`blue ${k}`)]));
      await idle();
    }
    const red = [0, 1, 2, 3, 4].map((k) => `red ${k}`);
    const blue = [0, 1, 2, 3, 4].map((k) => `blue ${k}`);
    const redAndBlue = [0, 1, 2, 3, 4].flatMap((k) => [`red ${k}`, `blue ${k}`]);
    const [first, ...restOfReds] = reds as [TestClient, Pid][];
    expect(await texts((first as [TestClient, Pid])[0], 10)).toEqual([0, 1, 2, 3, 4].flatMap((k) => [`red ${k}`, `other red ${k}`]));
    for (const [c] of restOfReds) expect(await texts(c, 5)).toEqual(red);
    for (const [c] of blues) expect(await texts(c, 5)).toEqual(blue);
    for (const [c] of both) expect(await texts(c, 10)).toEqual(redAndBlue);
  });

  it('a connection subscribed twice gets two copies', async () => {
    const rec = new Recorder();
    const ps = pubsub();
    const { server } = await start(rec, ps);
    const [[a], [b]] = await connect(server, rec, 2, 'room,room');
    ps.broadcast('room', outbound(['text', 'twice']));
    expect(await texts(a, 2)).toEqual(['twice', 'twice']);
    expect(await texts(b as TestClient, 2)).toEqual(['twice', 'twice']);
  });
});

describe('what goes connection by connection instead', () => {
  it('with compression: clients with and without permessage-deflate, and one that turned deflate off, all get the frame', async () => {
    const rec = new Recorder();
    const ps = pubsub();
    const { server, publishes } = await start(rec, ps, { compress: true });
    const deflating = await connect(server, rec, 2, 'room', true);
    const plain = await connect(server, rec, 2, 'room', false);
    const [[off, offPid]] = await connect(server, rec, 1, 'room', true);
    await runIn(offPid, () => setDeflate(false));
    const text = 'compressible '.repeat(100);
    ps.broadcast('room', outbound(['text', text]));
    for (const [c] of [...deflating, ...plain]) expect(await texts(c, 1)).toEqual([text]);
    expect(await texts(off as TestClient, 1)).toEqual([text]);
    expect(publishes).toHaveLength(1);
  });

  it('a frame that could take a connection past its high-water mark goes through the connection, which weighs it', async () => {
    const rec = new Recorder();
    const ps = pubsub();
    const { server, publishes } = await start(rec, ps, { highWaterMark: 1_024 });
    const conns = await connect(server, rec, 3);
    ps.broadcast('room', outbound(['text', 'small']));
    const big = 'x'.repeat(2_000);
    ps.broadcast('room', outbound(['text', big]));
    for (const [c] of conns) expect(await texts(c, 2)).toEqual(['small', big]);
    expect(publishes).toHaveLength(1);
  });

  it('a topic with one subscriber is written by that connection', async () => {
    const rec = new Recorder();
    const ps = pubsub();
    const { server, publishes } = await start(rec, ps);
    const [[lone]] = await connect(server, rec, 1);
    ps.broadcast('room', outbound(['text', 'alone']));
    expect(await texts(lone as TestClient, 1)).toEqual(['alone']);
    expect(publishes).toEqual([]);
  });

  it('pings are written by each connection', async () => {
    const rec = new Recorder();
    const ps = pubsub();
    const { server, publishes } = await start(rec, ps);
    const conns = await connect(server, rec, 2);
    ps.broadcast('room', outbound(['ping', Buffer.from('hi')]));
    for (const [c] of conns) expect(String((await c.next('ping')).data)).toBe('hi');
    expect(publishes).toEqual([]);
  });
});
