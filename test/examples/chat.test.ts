import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { ChatServer, Rooms, type ChatArgs, type ChatInfo, type ChatState } from '../../examples/chat/chat-server.js';
import { exit } from '../../src/runtime/process.js';
import { startHandler, startServer, type TestConnection, type WireFrame } from '../../src/testing/index.js';

let room = 0;
/** A room no other test uses: Rooms is one registry for the whole file. */
function freshRoom(): string {
  return `room-${++room}`;
}

/** A frame carrying `value` as JSON text. */
function json(value: unknown): readonly ['text', string] {
  return ['text', JSON.stringify(value)];
}

/** The parsed JSON of a text frame. */
function parsed(frame: WireFrame): unknown {
  if (frame[0] !== 'text') throw new Error(`expected a text frame, got ${frame[0]}`);
  return JSON.parse(frame[1]);
}

function join(args: ChatArgs): TestConnection<ChatState, ChatInfo> {
  return startHandler(ChatServer, args);
}

/** Ann joins a fresh room, then Bob, whose join Ann has been told of. */
async function annThenBob(): Promise<{ lobby: string; ann: TestConnection<ChatState, ChatInfo>; bob: TestConnection<ChatState, ChatInfo> }> {
  const lobby = freshRoom();
  const ann = join({ room: lobby, username: 'ann' });
  // Bob's join is announced to whoever is registered by then: wait until Ann is.
  await expect.poll(() => Rooms.lookup(lobby).length).toBe(1);
  const bob = join({ room: lobby, username: 'bob' });
  await ann.assertPush(json({ type: 'join', from: 'bob' }));
  return { lobby, ann, bob };
}

let log: MockInstance<typeof console.log>;
beforeEach(() => {
  // terminate reports each departure on the console.
  log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
});
afterEach(() => {
  log.mockRestore();
});

describe('ChatServer', () => {
  it('a chat message is answered to its sender and broadcast to the rest of the room', async () => {
    const { ann, bob } = await annThenBob();

    ann.pushText(JSON.stringify({ type: 'chat', content: 'hello bob' }));
    const message = { type: 'chat', from: 'ann', content: 'hello bob' };
    await ann.assertPush(json(message));
    await bob.assertPush(json(message));
    await ann.refutePush();
  });

  it('a connection killed from outside runs no terminate, as on the BEAM: it leaves the room unannounced', async () => {
    const { lobby, ann, bob } = await annThenBob();
    exit(bob.pid, 'kill');
    await expect.poll(() => Rooms.lookup(lobby).length).toBe(1);
    await ann.refutePush();
  });

  it('rooms are separate', async () => {
    const here = freshRoom();
    const ann = join({ room: here, username: 'ann' });
    const eve = join({ room: freshRoom(), username: 'eve' });
    await expect.poll(() => Rooms.lookup(here).length).toBe(1);
    ann.pushText(JSON.stringify({ type: 'chat', content: 'private' }));
    await ann.assertPush((f) => (parsed(f) as { content?: string }).content === 'private');
    await eve.refutePush();
  });

  it('a JSON ping gets a JSON pong; invalid JSON and binary are ignored', async () => {
    const conn = join({ room: freshRoom(), username: 'ann' });
    conn.pushText('{not json');
    conn.pushBinary(new Uint8Array([1]));
    conn.pushText(JSON.stringify({ type: 'ping' }));
    expect(parsed(await conn.nextFrame())).toEqual({ type: 'pong' });
    await conn.refutePush();
  });

  it('a heartbeat message is pushed to the client', async () => {
    const conn = join({ room: freshRoom(), username: 'ann' });
    conn.send('heartbeat');
    await conn.assertPush(json({ type: 'heartbeat' }));
  });

  it('leaving is announced to the room and logged', async () => {
    const { lobby, ann, bob } = await annThenBob();

    bob.peerClose(1000);
    await bob.assertTerminated('remote');
    await ann.assertPush(json({ type: 'leave', from: 'bob' }));
    expect(log).toHaveBeenCalledWith('User bob closed connection');
    await expect.poll(() => Rooms.lookup(lobby).length).toBe(1);
  });

  it('a dropped connection is logged as an error', async () => {
    const conn = join({ room: freshRoom(), username: 'ann' });
    conn.drop();
    await conn.assertTerminated({ error: 'closed' });
    expect(log).toHaveBeenCalledWith('User ann disconnected with error: closed');
  });

  it('two real clients chat through a server that takes the room from the query string', async () => {
    await using server = await startServer(ChatServer, {
      args: (req) => {
        const q = new URL(req.url ?? '/', 'http://localhost').searchParams;
        return { room: q.get('room') ?? 'lobby', username: q.get('user') ?? 'anonymous' };
      },
    });
    const lobby = freshRoom();
    const ann = await server.connect(`/?room=${lobby}&user=ann`);
    await expect.poll(() => Rooms.lookup(lobby).length).toBe(1);
    const bob = await server.connect(`/?room=${lobby}&user=bob`);
    await ann.assertReceive(json({ type: 'join', from: 'bob' }));

    bob.sendText(JSON.stringify({ type: 'chat', content: 'hi ann' }));
    const message = { type: 'chat', from: 'bob', content: 'hi ann' };
    await bob.assertReceive(json(message));
    await ann.assertReceive(json(message));

    await bob.close(1000);
    await ann.assertReceive(json({ type: 'leave', from: 'bob' }));
  });
});
