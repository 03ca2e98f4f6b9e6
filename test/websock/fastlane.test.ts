import { afterEach, describe, expect, it } from 'vitest';
import { PubSub } from '../../src/runtime/pubsub.js';
import { spawn, self } from '../../src/runtime/process.js';
import { idle } from '../../src/runtime/scheduler.js';
import { ok, push, type WebSock } from '../../src/websock/behaviour.js';
import { fastlane, outbound, Outbound } from '../../src/websock/fastlane.js';
import { startServer, type TestServer } from '../../src/testing/index.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close(1_000);
  server = undefined;
});

/** Subscribes each connection to 'room'; on "push-then-broadcast" pushes a frame and broadcasts another in the same callback. */
function member(room: PubSub<unknown>): WebSock<null> {
  return {
    init: () => {
      room.subscribe('room');
      return ok(null);
    },
    handleIn([data], state) {
      if (data === 'push-then-broadcast') {
        room.broadcastFrom(self(), 'room', outbound(['text', 'second']));
        room.localBroadcast('room', outbound(['text', 'third']));
        return push(['text', 'first'], state);
      }
      return ok(state);
    },
    handleInfo: (msg, state) => push(['text', `handleInfo saw ${String(msg)}`], state),
  };
}

async function subscribers(room: PubSub<unknown>, n: number): Promise<void> {
  await expect.poll(() => room.subscriberCount('room')).toBe(n);
}

describe('the fastlane', () => {
  it('writes one broadcast frame to every subscribing connection without calling handleInfo', async () => {
    const room = new PubSub({ dispatcher: fastlane });
    server = await startServer(member(room));
    const clients = await Promise.all([server.connect(), server.connect(), server.connect()]);
    await subscribers(room, 3);
    room.broadcast('room', outbound(['text', 'hello all']));
    for (const c of clients) await c.assertReceive(['text', 'hello all']);
    for (const c of clients) await c.refuteReceive();
  });

  it('sends binary frames and skips the sender of broadcastFrom', async () => {
    const room = new PubSub<unknown>();
    server = await startServer(member(room));
    const [a, b] = await Promise.all([server.connect(), server.connect()]);
    await subscribers(room, 2);
    const [pidA] = server.connections();
    room.broadcastFrom(pidA!, 'room', outbound(['binary', new Uint8Array([1, 2, 3])]), fastlane);
    const other = server.connections()[0] === pidA ? b : a;
    const sender = other === a ? b : a;
    await other!.assertReceive(['binary', Buffer.from([1, 2, 3])]);
    await sender!.refuteReceive();
  });

  it('keeps a broadcast frame in its place among the frames the connection pushes', async () => {
    const room = new PubSub({ dispatcher: fastlane });
    server = await startServer(member(room));
    const [a, b] = await Promise.all([server.connect(), server.connect()]);
    await subscribers(room, 2);
    a.sendText('push-then-broadcast');
    // a pushed 'first' in the callback that broadcast 'third' to everyone: 'first' leaves first.
    expect((await a.nextFrame())[1]).toBe('first');
    expect((await a.nextFrame())[1]).toBe('third');
    expect((await b.nextFrame())[1]).toBe('second');
    expect((await b.nextFrame())[1]).toBe('third');
  });

  it('works over permessage-deflate connections too', async () => {
    const room = new PubSub({ dispatcher: fastlane });
    server = await startServer(member(room), { compress: true });
    const client = await server.connect('/', { perMessageDeflate: true });
    await subscribers(room, 1);
    room.broadcast('room', outbound(['text', 'x'.repeat(5_000)]));
    await client.assertReceive(['text', 'x'.repeat(5_000)]);
  });

  it('hands subscribers that are not connections the Outbound message itself', async () => {
    const room = new PubSub({ dispatcher: fastlane });
    const got: unknown[] = [];
    spawn((msg: unknown) => void got.push(msg), { init: () => room.subscribe('room') });
    await idle();
    const message = outbound(['text', 'hi']);
    room.broadcast('room', message);
    await idle();
    expect(got).toEqual([message]);
    expect(got[0]).toBeInstanceOf(Outbound);
    expect((got[0] as Outbound).frame).toEqual(['text', 'hi']);
  });
});
