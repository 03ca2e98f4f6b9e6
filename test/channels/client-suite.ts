// The official phoenix client against a beamsock channels server: one suite, run on ws and on Bun.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Presence, type Socket } from 'phoenix';
import { FreezableProxy, ServerProc, answer, client, join, next, until } from './support.js';

export function clientSuite(runtime: 'node' | 'bun'): void {
  describe(`the phoenix client against beamsock channels on ${runtime === 'node' ? 'ws' : 'Bun'}`, () => {
    let server: ServerProc;
    const sockets: Socket[] = [];
    const open = (params: Record<string, unknown> = { token: 't' }, opts = {}): Socket => {
      const s = client(server.url, { params, ...opts });
      sockets.push(s);
      return s;
    };

    beforeAll(async () => {
      server = await ServerProc.start(runtime);
    });
    afterAll(async () => {
      for (const s of sockets) s.disconnect();
      await server.stop();
    });

    it('joins a room and gets the join reply', async () => {
      const channel = open().channel('room:lobby', { user: 'ada' });
      expect(await join(channel)).toEqual({ status: 'ok', response: { joined: 'room:lobby' } });
    });

    it('a refused join answers error with the reason', async () => {
      const channel = open().channel('room:vault', { refuse: true });
      expect(await join(channel)).toEqual({ status: 'error', response: { reason: 'refused' } });
    });

    it('a topic no channel matches answers error "unmatched topic"', async () => {
      const channel = open().channel('nowhere:1');
      expect(await join(channel)).toEqual({ status: 'error', response: { reason: 'unmatched topic' } });
    });

    it('connect refusing the socket keeps it from opening', async () => {
      const s = open({ token: 'bad' }, { reconnectAfterMs: () => 60_000 });
      await new Promise<void>((resolve) => s.onError(() => resolve()));
      expect(s.isConnected()).toBe(false);
      s.disconnect();
    });

    it('pushes get replies: ok with the payload, error with a reason, binary both ways', async () => {
      const channel = open().channel('room:echo');
      await join(channel);
      expect(await answer(channel.push('echo', { n: 1 }))).toEqual({ status: 'ok', response: { n: 1 } });
      expect(await answer(channel.push('fail', {}))).toEqual({ status: 'error', response: { why: 'asked to fail' } });
      const bytes = await answer(channel.push('bytes', new Uint8Array([1, 2, 3]).buffer));
      expect(bytes.status).toBe('ok');
      expect([...new Uint8Array(bytes.response as ArrayBuffer)]).toEqual([3, 2, 1]);
    });

    it('a channel push reaches its own client', async () => {
      const channel = open().channel('room:push');
      await join(channel);
      const pushed = next(channel, 'pushed');
      channel.push('push_me', { hello: 'you' });
      expect(await pushed).toEqual({ hello: 'you' });
    });

    it('a broadcast reaches every socket joined to the topic', async () => {
      const channels = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const ch = open().channel('room:many', { user: `u${i}` });
          await join(ch);
          return ch;
        }),
      );
      const heard = channels.map((ch) => next(ch, 'new_msg'));
      channels[3]!.push('new_msg', { body: 'hello all' });
      for (const msg of await Promise.all(heard)) expect(msg).toEqual({ user: 'u3', body: 'hello all' });
      const fromServer = channels.map((ch) => next(ch, 'news'));
      server.broadcast('room:many', 'news', { n: 42 });
      for (const msg of await Promise.all(fromServer)) expect(msg).toEqual({ n: 42 });
    });

    it('broadcastFrom skips the sender; an intercepted event goes through handleOut', async () => {
      const ada = open().channel('room:intercept', { user: 'ada' });
      const bob = open().channel('room:intercept', { user: 'bob' });
      await join(ada);
      await join(bob);
      let bobHeardOwn = false;
      bob.on('others', () => {
        bobHeardOwn = true;
      });
      const adaHears = next(ada, 'others');
      await answer(bob.push('others', {}));
      expect(await adaHears).toEqual({ user: 'bob' });
      let bobSecrets = 0;
      bob.on('secret', () => bobSecrets++);
      const secret = next(ada, 'secret');
      bob.push('secret', { code: 7 });
      expect(await secret).toEqual({ code: 7 });
      // An echo sent after the broadcast comes back after bob's channel handled it.
      await answer(bob.push('echo', {}));
      expect(bobSecrets).toBe(0);
      expect(bobHeardOwn).toBe(false);
    });

    it('a channel crash errors only that topic, and the client rejoins it', async () => {
      const s = open();
      const crashy = s.channel('room:crashy');
      const steady = s.channel('room:steady');
      let joins = 0;
      crashy.join().receive('ok', () => joins++);
      await join(steady);
      await until(() => joins === 1, 'the first join');
      const errored = new Promise((r) => crashy.onError(r));
      crashy.push('crash', {});
      await errored;
      await until(() => joins === 2, 'the rejoin after the crash');
      expect(await answer(crashy.push('echo', { again: true }))).toEqual({ status: 'ok', response: { again: true } });
      expect(await answer(steady.push('echo', { still: 'here' }))).toEqual({ status: 'ok', response: { still: 'here' } });
    });

    it('a channel that stops replies, then the client sees phx_close', async () => {
      const channel = open().channel('room:stopper');
      await join(channel);
      const closed = new Promise((r) => channel.onClose(r));
      expect(await answer(channel.push('stop', {}))).toEqual({ status: 'ok', response: { bye: true } });
      await closed;
      expect(channel.state).toBe('closed');
    });

    it('leaving answers ok and closes the channel', async () => {
      const channel = open().channel('room:leaver');
      await join(channel);
      expect(await answer(channel.leave())).toEqual({ status: 'ok', response: {} });
    });

    it('disconnect by id closes the socket; the client reconnects and rejoins', async () => {
      const victim = open({ token: 'victim' });
      const channel = victim.channel('room:reconnect');
      let joins = 0;
      channel.join().receive('ok', () => joins++);
      await until(() => joins === 1, 'the first join');
      const closed = new Promise<{ code: number }>((r) => victim.onClose(r));
      const admin = open({ token: 'admin' }).channel('room:admin');
      await join(admin);
      await answer(admin.push('disconnect_user', { token: 'victim' }));
      expect((await closed).code).toBe(1001);
      await until(() => joins === 2, 'the rejoin after reconnecting');
      expect(await answer(channel.push('echo', { back: true }))).toEqual({ status: 'ok', response: { back: true } });
    });

    it('a heartbeat that goes unanswered makes the client reconnect and rejoin', async () => {
      const proxy = await FreezableProxy.start(server.port);
      try {
        const s = client(`ws://127.0.0.1:${proxy.port}/socket`, { params: { token: 'hb' }, heartbeatIntervalMs: 300 });
        sockets.push(s);
        const channel = s.channel('room:heartbeat');
        let joins = 0;
        channel.join().receive('ok', () => joins++);
        await until(() => joins === 1, 'the first join');
        // Heartbeats are answered while the network works.
        await new Promise((r) => setTimeout(r, 700));
        expect(s.isConnected()).toBe(true);
        const errored = new Promise((r) => channel.onError(r));
        proxy.freeze();
        await errored;
        await until(() => joins === 2, 'the rejoin after the heartbeat timeout');
      } finally {
        await proxy.close();
      }
    });

    it('Presence: a second client sees joins, updates and leaves, and the phoenix Presence object follows them', async () => {
      const names = (p: Presence): string[] => p.list((key) => key).sort();
      const ada = open().channel('chat:presence', { user: 'ada' });
      const adaView = new Presence(ada);
      await join(ada);
      await until(() => names(adaView).join() === 'ada', 'ada seeing herself');
      const bob = open().channel('chat:presence', { user: 'bob' });
      const bobView = new Presence(bob);
      const joined: string[] = [];
      adaView.onJoin((key) => joined.push(key));
      await join(bob);
      await until(() => names(bobView).join() === 'ada,bob' && names(adaView).join() === 'ada,bob', 'both seeing both');
      expect(joined).toEqual(['bob']);
      await answer(bob.push('typing', {}));
      await until(() => adaView.list((key, p) => (key === 'bob' ? p.metas : [])).flat().some((m) => m.typing === true), 'the update');
      expect(adaView.list((key, p) => (key === 'bob' ? p.metas.length : 0)).reduce((a, b) => a + b)).toBe(1);
      const left: string[] = [];
      bobView.onLeave((key) => left.push(key));
      await answer(ada.leave());
      await until(() => names(bobView).join() === 'bob', 'ada gone from bob\'s list');
      expect(left).toEqual(['ada']);
    });

    it('Presence: a socket that goes away is untracked', async () => {
      const names = (p: Presence): string[] => p.list((key) => key).sort();
      const watcher = open().channel('chat:gone', { user: 'watcher' });
      const view = new Presence(watcher);
      await join(watcher);
      const leaving = open();
      await join(leaving.channel('chat:gone', { user: 'leaver' }));
      await until(() => names(view).join() === 'leaver,watcher', 'both present');
      leaving.disconnect();
      await until(() => names(view).join() === 'watcher', 'the leaver untracked');
    });

    it('limits answer with a reason: channels per socket, payload size, pending pushes', async () => {
      const s = open();
      for (const t of ['room:l1', 'room:l2', 'room:l3']) expect((await join(s.channel(t))).status).toBe('ok');
      expect(await join(s.channel('room:l4'))).toEqual({ status: 'error', response: { reason: 'too many channels joined' } });
      const one = s.channel('room:l1');
      const s2 = open();
      const big = s2.channel('room:big');
      await join(big);
      expect(await answer(big.push('echo', { blob: 'x'.repeat(5000) }))).toEqual({ status: 'error', response: { reason: 'payload too large' } });
      const replies = await Promise.all([1, 2, 3, 4].map(() => answer(big.push('slow', {}))));
      expect(replies.filter((r) => r.status === 'error').map((r) => r.response)).toContainEqual({ reason: 'too many pending pushes' });
      expect(replies.filter((r) => r.status === 'ok').length).toBeGreaterThanOrEqual(2);
      void one;
    });

    it('a second join of a topic on one socket closes the first', async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket/websocket?vsn=2.0.0&token=raw`);
      const frames: unknown[][] = [];
      ws.on('message', (d) => frames.push(JSON.parse(String(d)) as unknown[]));
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify(['1', '1', 'room:dup', 'phx_join', {}]));
      await until(() => frames.length === 1, 'the first join reply');
      ws.send(JSON.stringify(['2', '2', 'room:dup', 'phx_join', {}]));
      await until(() => frames.length === 3, 'the close and the second join reply');
      expect(frames[1]).toEqual(['1', '1', 'room:dup', 'phx_close', {}]);
      expect(frames[2]).toEqual(['2', '2', 'room:dup', 'phx_reply', { status: 'ok', response: { joined: 'room:dup' } }]);
      ws.close();
    });

    it('speaks serializer 1.0.0 (JSON objects) when vsn asks for it', async () => {
      const s = open({ token: 'v1' }, {
        vsn: '1.0.0',
        encode: (msg: { join_ref: string | null; ref: string | null; topic: string; event: string; payload: unknown }, cb: (e: unknown) => void) => cb(JSON.stringify(msg)),
        decode: (raw: unknown, cb: (m: unknown) => void) => cb(JSON.parse(String(raw))),
      });
      const channel = s.channel('room:v1');
      expect(await join(channel)).toEqual({ status: 'ok', response: { joined: 'room:v1' } });
      expect(await answer(channel.push('echo', { old: 'school' }))).toEqual({ status: 'ok', response: { old: 'school' } });
    });

    it('refuses a serializer version it does not speak with 403, and closes 1003 on a malformed message', async () => {
      const status = await new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket/websocket?vsn=3.0.0`);
        ws.on('error', () => undefined);
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      });
      expect(status).toBe(403);
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket/websocket?vsn=2.0.0`);
      await new Promise((r) => ws.once('open', r));
      const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
      ws.send('{"not":"an array"}');
      expect(await closed).toBe(1003);
    });
  });
}
