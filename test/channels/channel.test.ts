// A channel's life through the test kit: async joins, crashes, terminate, handleOut, bad results.
import { describe, expect, it } from 'vitest';
import { Endpoint, createSocket, drainSocket, joinError, joinOk, noreply, reply, stopChannel, type Channel } from '../../src/channels/index.js';
import { assertPush, assertReply, leave, push, socketConnect, subscribeAndJoin } from '../../src/testing/index.js';
import { setLogger } from '../../src/runtime/logger.js';
import type { ExitReason } from '../../src/runtime/reasons.js';

function recorder(): { ended: ExitReason[]; waitEnded: (n: number) => Promise<void>; note: (r: ExitReason) => void } {
  const ended: ExitReason[] = [];
  const waiters: (() => void)[] = [];
  return {
    ended,
    note: (r) => {
      ended.push(r);
      for (const w of waiters.splice(0)) w();
    },
    waitEnded: async (n) => {
      while (ended.length < n) await new Promise<void>((r) => waiters.push(r));
    },
  };
}

describe('a channel process', () => {
  setLogger(() => undefined);
  const rec = recorder();
  const Lab: Channel<{ n: number }> = {
    intercept: ['halt', 'quiet'],
    async join(topic, params) {
      await new Promise((r) => setTimeout(r, 5));
      if ((params as { crash?: boolean }).crash === true) throw new Error('join blew up');
      if ((params as { bad?: boolean }).bad === true) return 'nonsense' as never;
      return topic === 'lab:no' ? joinError({ reason: 'nope' }) : joinOk({ n: 0 });
    },
    handleIn(event, _payload, socket) {
      if (event === 'count') return reply('ok', { n: socket.assigns.n + 1 }, { n: socket.assigns.n + 1 });
      if (event === 'bad') return 42 as never;
      if (event === 'halt_all') {
        void socket.broadcast('halt', {});
        return noreply(socket.assigns);
      }
      if (event === 'quiet_all') {
        void socket.broadcast('quiet', { q: 1 });
        return noreply(socket.assigns);
      }
      if (event === 'boom') throw new Error('boom');
      return stopChannel({ shutdown: 'done' }, socket.assigns);
    },
    handleOut(event, _payload, socket) {
      return event === 'halt' ? stopChannel('normal', socket.assigns) : noreply(socket.assigns);
    },
    terminate: (reason) => rec.note(reason),
  };
  const def = createSocket({ endpoint: new Endpoint(), channels: { 'lab:*': Lab } });
  const Plain = createSocket({ channels: { 'plain:*': { join: () => joinOk(null) } } });

  it('keeps the assigns each callback returns; an async join answers when it settles', async () => {
    const socket = await socketConnect(def);
    const { channel } = await subscribeAndJoin(socket, 'lab:1');
    await assertReply(channel, push(channel, 'count'), 'ok', { n: 1 });
    await assertReply(channel, push(channel, 'count'), 'ok', { n: 2 });
    socket.close();
  });

  it('a join that throws answers error "join crashed"; one that returns nonsense too', async () => {
    const socket = await socketConnect(def);
    await expect(subscribeAndJoin(socket, 'lab:2', { crash: true })).rejects.toMatchObject({ reply: { reason: 'join crashed' } });
    await expect(subscribeAndJoin(socket, 'lab:3', { bad: true })).rejects.toMatchObject({ reply: { reason: 'join crashed' } });
    await expect(subscribeAndJoin(socket, 'lab:no')).rejects.toMatchObject({ reply: { reason: 'nope' } });
    socket.close();
  });

  it('terminate runs on leave, on stop, on a crash and when the socket goes', async () => {
    const before = rec.ended.length;
    const socket = await socketConnect(def);
    const a = (await subscribeAndJoin(socket, 'lab:a')).channel;
    await assertReply(a, leave(a), 'ok', {});
    await rec.waitEnded(before + 1);
    const b = (await subscribeAndJoin(socket, 'lab:b')).channel;
    push(b, 'stop');
    await assertPush(b, 'phx_close', {});
    await rec.waitEnded(before + 2);
    const c = (await subscribeAndJoin(socket, 'lab:c')).channel;
    push(c, 'boom');
    await assertPush(c, 'phx_error', { reason: 'channel_crash' });
    await rec.waitEnded(before + 3);
    await subscribeAndJoin(socket, 'lab:d');
    socket.close();
    await rec.waitEnded(before + 4);
    expect(rec.ended.slice(before)).toEqual([{ shutdown: 'left' }, { shutdown: 'done' }, { error: new Error('boom') }, { shutdown: 'closed' }]);
  });

  it('handleOut sees intercepted broadcasts: it may drop them or stop the channel', async () => {
    const socket = await socketConnect(def);
    const { channel } = await subscribeAndJoin(socket, 'lab:out');
    push(channel, 'quiet_all');
    push(channel, 'halt_all');
    await assertPush(channel, 'phx_close', {});
    expect(socket.conn.frames.some(([, d]) => String(d).includes('"quiet"'))).toBe(false);
    socket.close();
  });

  it('a callback returning something that is not a result crashes the channel, naming the callback', async () => {
    const crashes: string[] = [];
    setLogger((r) => void (r.kind === 'crash' && crashes.push(String((r.reason as { error: Error }).error.message))));
    const socket = await socketConnect(def);
    const { channel } = await subscribeAndJoin(socket, 'lab:bad');
    push(channel, 'bad');
    await assertPush(channel, 'phx_error');
    expect(crashes).toContain('handleIn returned 42: expected reply(), noreply() or stopChannel() from beamsock/channels');
    setLogger(() => undefined);
    socket.close();
  });

  it('a channel without handleIn answers error "unhandled event"; drainSocket closes the socket with 1012', async () => {
    const socket = await socketConnect(Plain);
    const { channel } = await subscribeAndJoin(socket, 'plain:x');
    await assertReply(channel, push(channel, 'anything'), 'error', { reason: 'unhandled event' });
    drainSocket(socket.pid);
    await socket.conn.assertClosed({ code: 1012 });
  });
});
