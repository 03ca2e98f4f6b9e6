import { afterAll, describe, expect, it } from 'vitest';
import { BROKERS } from './brokers.js';
import { killAll, upPair } from './harness.js';

afterAll(killAll);

type PidJSON = { node: string; serial: number; creation: number };
type CallResult = { ok?: unknown; error?: string; reason?: string };

describe.each(BROKERS)('GenServer.call across nodes over %s (separate OS processes)', { timeout: 120_000 }, (kind) => {
  it('replies with structured values; times out; rejects with the exit reason, or noconnection when the node dies mid-call', async () => {
    const [a, b] = await upPair(kind, { nodeDownAfterMs: 1000 });
    const server = await b.request<PidJSON>('startServer');

    expect(await a.request<CallResult>('call', { to: server, request: 'get' })).toEqual({ ok: { count: '41', at: 'Date(7)' } });
    expect(await a.request<CallResult>('call', { to: server, request: 'get' })).toEqual({ ok: { count: '42', at: 'Date(7)' } });

    const timedOut = await a.request<CallResult>('call', { to: server, request: 'hang', timeoutMs: 300 });
    expect(timedOut.reason).toBe('"timeout"');

    const badReply = await a.request<CallResult>('call', { to: server, request: 'fn' });
    expect(badReply.error).toMatch(/the reply could not cross to a: message is a function/);

    const exited = await a.request<CallResult>('call', { to: server, request: { stop: 'bye' } });
    expect(exited.reason).toBe('"bye"');
    expect(exited.error).toMatch(/the process exited with bye/);

    const noproc = await a.request<CallResult>('call', { to: server, request: 'get' });
    expect(noproc.reason).toBe('"noproc"');

    const second = await b.request<PidJSON>('startServer');
    const pending = a.request<CallResult>('call', { to: second, request: 'hang', timeoutMs: 60_000 });
    // The call reached b: a later send on the same stream did.
    const box = await b.request<PidJSON>('spawnInbox');
    await a.request('send', { to: box, msg: 'after the call' });
    await b.request('awaitInbox', { pid: box, count: 1 });
    b.kill('SIGKILL');
    const lost = await pending;
    expect(lost.reason).toBe('"noconnection"');
  });

  it('call reaches a name registered on another node, and a global name; noproc when nobody holds the name', async () => {
    const [a, b] = await upPair(kind, { nodeDownAfterMs: 5000 });
    const server = await b.request<PidJSON>('startServer', { name: 'counter' });
    expect(await a.request<CallResult>('call', { to: { name: 'counter', node: 'b' }, request: 'get' })).toEqual({ ok: { count: '41', at: 'Date(7)' } });
    expect(await b.request('registerGlobal', { name: 'the-counter', pid: server })).toBe(true);
    expect(await a.request<CallResult>('call', { to: { global: 'the-counter' }, request: 'get' })).toEqual({ ok: { count: '42', at: 'Date(7)' } });
    const nobody = await a.request<CallResult>('call', { to: { name: 'nobody', node: 'b' }, request: 'get' });
    expect(nobody).toEqual({ error: "call to 'nobody' on b failed: noproc (no process is registered under that name)", reason: '"noproc"' });
    const gone = await a.request<CallResult>('call', { to: { name: 'counter', node: 'zed' }, request: 'get' });
    expect(gone.reason).toBe('"noproc"');
  });
});
