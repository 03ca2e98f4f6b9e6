// Bad options throw at start-up naming the option; bad calls name what was wrong.
import { describe, expect, it } from 'vitest';
import { Endpoint, Presence, createSocket, isBroadcast, joinOk, reply } from '../../src/channels/index.js';
import { PubSub } from '../../src/runtime/pubsub.js';
import { spawn, exit } from '../../src/runtime/process.js';

const Room = { join: () => joinOk(null) };

describe('createSocket options', () => {
  it('rejects unknown and bad options by name', () => {
    expect(() => createSocket({ channels: {}, bogus: 1 } as never)).toThrow("createSocket options: unknown option 'bogus'");
    expect(() => createSocket({} as never)).toThrow("createSocket option 'channels' must be an object of topic pattern to channel");
    expect(() => createSocket({ channels: { 'room:*': {} } } as never)).toThrow("createSocket option 'channels': 'room:*' must map to a channel with a join function");
    expect(() => createSocket({ channels: { 'a*b': Room } })).toThrow("pattern 'a*b' may have '*' only at its end");
    expect(() => createSocket({ channels: {}, maxChannels: 0 })).toThrow("createSocket option 'maxChannels' must be a positive integer, got 0");
    expect(() => createSocket({ channels: {}, maxPayloadBytes: 1.5 })).toThrow("createSocket option 'maxPayloadBytes' must be a positive integer");
    expect(() => createSocket({ channels: {}, maxPendingPushes: -1 })).toThrow("createSocket option 'maxPendingPushes' must be a positive integer");
    expect(() => createSocket({ channels: {}, endpoint: {} as never })).toThrow("createSocket option 'endpoint' must be an Endpoint");
    expect(() => createSocket({ channels: {}, connect: 1 as never })).toThrow("createSocket option 'connect' must be a function");
    expect(() => createSocket({ channels: {}, id: 'x' as never })).toThrow("createSocket option 'id' must be a function");
  });

  it('routes a topic to its exact pattern first, then to the first matching prefix', () => {
    const Exact = { join: () => joinOk(1) };
    const socket = createSocket({ channels: { 'room:*': Room, 'room:lobby': Exact } });
    expect(socket.route('room:lobby')).toBe(Exact);
    expect(socket.route('room:42')).toBe(Room);
    expect(socket.route('other')).toBeUndefined();
  });

  it('authorize refuses an unknown vsn, a false connect and a bad connect answer', async () => {
    const socket = createSocket({ channels: { 'room:*': Room }, connect: (p) => (p.mode === 'no' ? false : p.mode === 'odd' ? (7 as never) : p.mode === '401' ? { status: 401, reason: 'log in' } : true) });
    const req = (q: string) => new Request(`http://localhost/socket/websocket?${q}`);
    expect(await socket.authorize(req('vsn=9.0.0'))).toEqual({ status: 403, reason: 'unsupported serializer vsn=9.0.0: beamsock speaks 1.0.0 and 2.0.0' });
    expect(await socket.authorize(req('vsn=2.0.0&mode=no'))).toEqual({ status: 403, reason: 'connect refused the socket' });
    expect(await socket.authorize(req('vsn=2.0.0&mode=401'))).toEqual({ status: 401, reason: 'log in' });
    await expect(socket.authorize(req('vsn=2.0.0&mode=odd'))).rejects.toThrow('connect returned 7: expected true, false, { assigns } or { status: 401 | 403, reason? }');
    expect(await socket.authorize(req('vsn=2.0.0&x=1'))).toEqual({ args: { kind: 'phoenix_socket', vsn: '2', assigns: undefined, id: null } });
  });

  it('connect sees the params without vsn and the headers; id must be a string or null', async () => {
    let seen: unknown;
    const socket = createSocket<{ u: string }>({
      channels: {},
      connect: (params, info) => {
        seen = { params, h: info.headers['x-test'] };
        return { assigns: { u: params.u ?? '' } };
      },
      id: (a) => (a.u === 'num' ? (5 as never) : `user:${a.u}`),
    });
    const auth = await socket.authorize(new Request('http://localhost/socket/websocket?vsn=2.0.0&u=ada', { headers: { 'x-test': 'yes' } }));
    expect(seen).toEqual({ params: { u: 'ada' }, h: 'yes' });
    expect(auth).toMatchObject({ args: { id: 'user:ada', assigns: { u: 'ada' } } });
    await expect(socket.authorize(new Request('http://localhost/?vsn=2.0.0&u=num'))).rejects.toThrow('id returned 5: expected a string or null');
  });

  it('the handler refuses to start without the authorize hook', () => {
    const socket = createSocket({ channels: {} });
    expect(() => socket.handler.init(undefined as never)).toThrow("a Phoenix socket needs the server's authorize option set to socket.authorize");
  });
});

describe('Endpoint', () => {
  it('rejects unknown and bad options, and a broadcast with a non-string topic or event', () => {
    expect(() => new Endpoint({ nope: 1 } as never)).toThrow("Endpoint options: unknown option 'nope' (known: pubsub)");
    expect(() => new Endpoint({ pubsub: {} as never })).toThrow("Endpoint option 'pubsub' must be a PubSub");
    const endpoint = new Endpoint({ pubsub: new PubSub() as PubSub<unknown> });
    expect(() => endpoint.broadcast(1 as never, 'e', {})).toThrow('broadcast: topic must be a string, got 1');
    expect(() => endpoint.broadcast('t', null as never, {})).toThrow('broadcast: event must be a string, got null');
  });

  it('delivers a Broadcast to a subscribed process; broadcastFrom skips the sender', async () => {
    const endpoint = new Endpoint();
    const got: unknown[] = [];
    let subscribed!: () => void;
    let twoIn!: () => void;
    const ready = new Promise<void>((r) => (subscribed = r));
    const done = new Promise<void>((r) => (twoIn = r));
    const listener = spawn(
      (m: unknown) => {
        if (got.push(m) === 2) twoIn();
      },
      { init: () => (endpoint.subscribe('news'), subscribed()) },
    );
    await ready;
    endpoint.broadcast('news', 'hello', { n: 1 });
    endpoint.broadcastFrom(listener, 'news', 'skipped', {});
    endpoint.localBroadcast('news', 'local', {});
    // Sent in order from one sender: 'skipped' would have come before 'local'.
    await done;
    expect(got).toEqual([
      { type: 'phx_broadcast', topic: 'news', event: 'hello', payload: { n: 1 } },
      { type: 'phx_broadcast', topic: 'news', event: 'local', payload: {} },
    ]);
    expect(got.every(isBroadcast)).toBe(true);
    expect(isBroadcast({ type: 'other' })).toBe(false);
    exit(listener, 'kill');
  });
});

describe('Presence options and calls', () => {
  it('rejects unknown and bad options by name', () => {
    const endpoint = new Endpoint();
    expect(() => new Presence({ endpoint, extra: 1 } as never)).toThrow("Presence options: unknown option 'extra'");
    expect(() => new Presence({} as never)).toThrow("Presence option 'endpoint' must be an Endpoint");
    expect(() => new Presence({ endpoint, name: '' })).toThrow("Presence option 'name' must be a non-empty string");
    expect(() => new Presence({ endpoint, heartbeatMs: 0 })).toThrow("Presence option 'heartbeatMs' must be a positive number of ms, got 0");
    expect(() => new Presence({ endpoint, downAfterMs: -5 })).toThrow("Presence option 'downAfterMs' must be a positive number of ms, got -5");
  });

  it('tracks, updates with phx_ref_prev, untracks, and refuses what makes no sense', async () => {
    const endpoint = new Endpoint();
    const presence = new Presence({ endpoint, name: 'calls' });
    const pid = spawn(() => undefined);
    const ref = presence.track(pid, 'room:a', 'ada', { device: 'phone' });
    expect(presence.list('room:a')).toEqual({ ada: { metas: [{ device: 'phone', phx_ref: ref }] } });
    expect(() => presence.track(pid, 'room:a', 'ada', {})).toThrow(`Presence#track: 'ada' is already tracked for ${pid.toString()} on 'room:a'; use update()`);
    const ref2 = presence.update(pid, 'room:a', 'ada', (old) => ({ ...old, device: 'laptop' }));
    expect(presence.list('room:a')).toEqual({ ada: { metas: [{ device: 'laptop', phx_ref: ref2, phx_ref_prev: ref }] } });
    expect(() => presence.update(pid, 'room:a', 'bob', {})).toThrow(`Presence#update: nothing tracked under 'bob' for ${pid.toString()} on 'room:a'; track() it first`);
    expect(() => presence.track(pid, 'room:a', 7 as never, {})).toThrow('Presence#track: key must be a string, got 7');
    expect(() => presence.track(pid, 'room:a', 'x', null as never)).toThrow('Presence#track: meta must be an object, got null');
    expect(() => presence.track('nope' as never, 'room:a', 'x', {})).toThrow('Presence#track: expected (socket, key, meta) or (pid, topic, key, meta)');
    presence.track(pid, 'room:b', 'ada', {});
    presence.untrack(pid, 'room:a');
    expect(presence.list('room:a')).toEqual({});
    expect(Object.keys(presence.list('room:b'))).toEqual(['ada']);
    exit(pid, 'kill');
    expect(presence.list('room:b')).toEqual({});
    const dead = spawn(() => undefined);
    exit(dead, 'kill');
    expect(() => presence.track(dead, 'room:a', 'x', {})).toThrow(`Presence: ${dead.toString()} is not alive`);
    presence.close();
    expect(() => presence.track(spawn(() => undefined), 't', 'k', {})).toThrow("Presence#track: presence 'calls' is closed");
    expect(reply('ok', 1, null)).toEqual({ type: 'reply', status: 'ok', payload: 1, assigns: null });
    expect(() => reply('maybe' as never, 1, null)).toThrow("reply(status, ...): status must be 'ok' or 'error', got maybe");
  });
});
