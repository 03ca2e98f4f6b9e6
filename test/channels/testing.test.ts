// The channels test kit: socketConnect, subscribeAndJoin, push, assertReply, assertPush, assertBroadcast, no network.
import { AssertionError } from 'node:assert';
import { describe, expect, it } from 'vitest';
import { ConnectRefusedError, JoinRefusedError, assertBroadcast, assertPush, assertReply, leave, push, socketConnect, subscribeAndJoin } from '../../src/testing/index.js';
import { Endpoint } from '../../src/channels/endpoint.js';
import { Presence } from '../../src/channels/presence.js';
import { testSocket } from './fixtures/app.js';

describe('the channels test kit', () => {
  const socketDef = testSocket(new Endpoint());

  it('joins, pushes and asserts the reply', async () => {
    const socket = await socketConnect(socketDef, { token: 't' });
    const { reply, channel } = await subscribeAndJoin(socket, 'room:kit', { user: 'ada' });
    expect(reply).toEqual({ joined: 'room:kit' });
    expect(await assertReply(channel, push(channel, 'echo', { n: 1 }), 'ok', { n: 1 })).toEqual({ n: 1 });
    await assertReply(channel, push(channel, 'fail'), 'error', { why: 'asked to fail' });
    socket.close();
  });

  it('asserts pushes and broadcasts', async () => {
    const socket = await socketConnect(socketDef, { token: 't' });
    const { channel } = await subscribeAndJoin(socket, 'room:kit2', { user: 'ada' });
    push(channel, 'push_me', { x: 1 });
    expect(await assertPush(channel, 'pushed', { x: 1 })).toEqual({ x: 1 });
    push(channel, 'new_msg', { body: 'hi' });
    expect(await assertBroadcast(channel, 'new_msg', { user: 'ada', body: 'hi' })).toEqual({ user: 'ada', body: 'hi' });
    // The broadcast reached the client too.
    await assertPush(channel, 'new_msg', { user: 'ada', body: 'hi' });
    await assertReply(channel, leave(channel), 'ok', {});
    socket.close();
  });

  it('reports a refused connect and a refused join with their reasons', async () => {
    await expect(socketConnect(socketDef, { token: 'bad' })).rejects.toBeInstanceOf(ConnectRefusedError);
    const socket = await socketConnect(socketDef, { token: 't' });
    const refused = await subscribeAndJoin(socket, 'room:no', { refuse: true }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(JoinRefusedError);
    expect((refused as JoinRefusedError).reply).toEqual({ reason: 'refused' });
    socket.close();
  });

  it('an assertion that is not met rejects with an AssertionError naming what it waited for', async () => {
    const socket = await socketConnect(socketDef, { token: 't' });
    const { channel } = await subscribeAndJoin(socket, 'room:kit3');
    await expect(assertPush(channel, 'never', undefined, { timeout: 100 })).rejects.toThrow(AssertionError);
    const err = await assertBroadcast(channel, 'never', undefined, { timeout: 100 }).catch((e: unknown) => e);
    expect((err as Error).message).toContain("no broadcast of 'never' on 'room:kit3'");
    await expect(assertReply(channel, push(channel, 'echo', { a: 1 }), 'ok', { a: 2 })).rejects.toThrow(/reply to ref \d+ on 'room:kit3' was ok/);
    socket.close();
  });

  it('a presence_state push and a presence_diff broadcast come as Phoenix sends them', async () => {
    const endpoint = new Endpoint();
    const presence = new Presence({ endpoint });
    const def = testSocket(endpoint, presence);
    const socket = await socketConnect(def, { token: 't' });
    const { channel } = await subscribeAndJoin(socket, 'chat:kit', { user: 'ada' });
    const state = (await assertPush(channel, 'presence_state')) as Record<string, { metas: { phx_ref: string }[] }>;
    expect(Object.keys(state)).toEqual(['ada']);
    expect(typeof state.ada?.metas[0]?.phx_ref).toBe('string');
    const diff = (await assertBroadcast(channel, 'presence_diff')) as { joins: Record<string, unknown>; leaves: Record<string, unknown> };
    expect(Object.keys(diff.joins)).toEqual(['ada']);
    expect(diff.leaves).toEqual({});
    await assertReply(channel, push(channel, 'untrack'), 'ok');
    const gone = (await assertBroadcast(channel, 'presence_diff')) as { joins: Record<string, unknown>; leaves: Record<string, unknown> };
    expect(Object.keys(gone.leaves)).toEqual(['ada']);
    expect(presence.list('chat:kit')).toEqual({});
    socket.close();
    presence.close();
  });
});
