import { afterAll, describe, expect, it } from 'vitest';
import { BROKERS } from './brokers.js';
import { NodeProc, barrier, killAll, upPair } from './harness.js';

afterAll(killAll);

type PidJSON = { node: string; serial: number; creation: number };

describe.each(BROKERS)('remote names, monitors and links over %s (separate OS processes)', { timeout: 120_000 }, (kind) => {
  const start = (): Promise<[NodeProc, NodeProc]> => upPair(kind, { nodeDownAfterMs: 5000 });

  it('send({ name, node }) reaches the name registered there; a name nobody holds drops the message', async () => {
    const [a, b] = await start();
    const box = await b.request<PidJSON>('spawnInbox', { name: 'logger' });
    await a.request('sendName', { name: 'nobody', node: 'b', msg: 'lost' });
    await a.request('sendName', { name: 'logger', node: 'b', msg: 'one' });
    await a.request('sendName', { name: 'logger', node: 'b', msg: 'two' });
    await b.request('awaitInbox', { pid: box, count: 2 });
    expect(await b.request('inbox', { pid: box })).toEqual(['one', 'two']);
    expect((await b.request<{ badFrames: number }>('stats')).badFrames).toBe(0);
  });

  it('a remote monitor gets DOWN with the real reason, noproc for a dead pid, nothing after demonitor', async () => {
    const [a, b] = await start();
    const target = await b.request<PidJSON>('spawnInbox');
    const quiet = await b.request<PidJSON>('spawnInbox');
    const dead = await b.request<PidJSON>('spawnInbox');
    await b.request('watchDeath', { pid: dead });
    await b.request('stopProcess', { pid: dead, reason: 'kill' });
    await b.waitEvent((e) => e.event === 'death');

    await a.request('monitorRemote', { target: dead });
    const noproc = await a.waitEvent((e) => e.event === 'DOWN');
    expect(noproc.reason).toBe('"noproc"');
    expect(noproc.refMatches).toBe(true);

    expect(await a.request('monitorRemote', { target: quiet, demonitor: true })).toBe(true);
    await a.request('monitorRemote', { target });
    await barrier(a, b);
    await b.request('stopProcess', { pid: quiet, reason: 'bye' });
    await b.request('stopProcess', { pid: target, reason: 'done here' });
    const down = await a.waitEvent((e) => e.event === 'DOWN' && e.reason !== '"noproc"');
    expect(down).toMatchObject({ pid: `#PID<b.${target.serial}>`, reason: '"done here"', refMatches: true });
    // The demonitored process ended first, on the same ordered stream: its DOWN would have come before.
    expect(a.events.filter((e) => e.event === 'DOWN').map((e) => e.reason)).toEqual(['"noproc"', '"done here"']);
  });

  it('links cross both ways: EXIT to a trapping process, death to a plain one, with the reason; processInfo lists them', async () => {
    const [a, b] = await start();
    const far = await b.request<PidJSON>('spawnInbox');
    await a.request('linkRemote', { target: far, trap: true });
    await barrier(a, b);
    await b.request('stopProcess', { pid: far, reason: 'boom' });
    expect((await a.waitEvent((e) => e.event === 'EXIT')).reason).toBe('"boom"');

    // Plain on a: dies with b's process.
    const far2 = await b.request<PidJSON>('spawnInbox');
    const near = await a.request<PidJSON>('linkRemote', { target: far2 });
    await barrier(a, b);
    await b.request('stopProcess', { pid: far2, reason: 'crash' });
    expect((await a.waitEvent((e) => e.event === 'death' && e.pid === `#PID<0.${near.serial}>`)).reason).toBe('"crash"');

    // The other way: a's linked process ends, b's plain process dies with it.
    const far3 = await b.request<PidJSON>('spawnInbox');
    await b.request('watchDeath', { pid: far3 });
    const near3 = await a.request<PidJSON>('linkRemote', { target: far3, trap: true });
    await barrier(a, b);
    // Both ends list the link in processInfo().links.
    expect(await a.request('processLinks', { pid: near3 })).toEqual([`b.${far3.serial}`]);
    expect(await b.request('processLinks', { pid: far3 })).toEqual([`a.${near3.serial}`]);
    await a.request('stopProcess', { pid: near3, reason: 'kill' });
    expect((await b.waitEvent((e) => e.event === 'death')).reason).toBe('"killed"');

    // A link to a process that is gone: noproc.
    await a.request('linkRemote', { target: far, trap: true });
    expect((await a.waitEvent((e) => e.event === 'EXIT' && e.reason === '"noproc"')).from).toBe(`#PID<b.${far.serial}>`);
  });

  it('a SIGKILLed node: remote monitors fire DOWN noconnection and linked processes get EXIT noconnection', async () => {
    const [a, b] = await start();
    const target = await b.request<PidJSON>('spawnInbox');
    await a.request('monitorRemote', { target });
    await a.request('linkRemote', { target, trap: true });
    await barrier(a, b);
    b.kill('SIGKILL');
    const down = await a.waitEvent((e) => e.event === 'DOWN');
    const exit = await a.waitEvent((e) => e.event === 'EXIT');
    expect(down.reason).toBe('"noconnection"');
    expect(exit.reason).toBe('"noconnection"');
  });
});
