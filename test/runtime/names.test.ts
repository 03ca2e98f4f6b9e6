import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Pid } from '../../src/runtime/pid.js';
import { exit, isAlive, register, registered, send, sendAfter, spawn, unregister, whereis } from '../../src/runtime/process.js';
import { idle } from '../../src/runtime/scheduler.js';
import { setLogger, type Logger } from '../../src/runtime/logger.js';
import { exitReasonOf } from '../support/exits.js';

/** A process that keeps every message it receives. */
function keeper(): { pid: Pid; got: unknown[] } {
  const got: unknown[] = [];
  return { pid: spawn((msg) => void got.push(msg)), got };
}

let previousLogger: Logger;
beforeEach(() => {
  previousLogger = setLogger(() => undefined);
});
afterEach(() => {
  setLogger(previousLogger);
  for (const name of registered()) unregister(name);
});

describe('registered names', () => {
  it('a taken name is refused with an error naming it and its holder, and the holder keeps it', () => {
    const a = keeper();
    const b = keeper();
    register('logger', a.pid);
    expect(() => register('logger', b.pid)).toThrow(`register('logger', ${String(b.pid)}): name is already registered to ${String(a.pid)}`);
    expect(whereis('logger')).toBe(a.pid);
  });

  it('a process holds one name at most', () => {
    const a = keeper();
    register('first', a.pid);
    expect(() => register('second', a.pid)).toThrow(/already registered as 'first'/);
    expect(whereis('second')).toBeUndefined();
  });

  it('a dead process cannot take a name', () => {
    const a = keeper();
    exit(a.pid, 'kill');
    expect(() => register('ghost', a.pid)).toThrow(/noproc, the process is not alive/);
    expect(whereis('ghost')).toBeUndefined();
  });

  it('send to a name reaches the process, in order', async () => {
    const a = keeper();
    register('sink', a.pid);
    send('sink', 1);
    send('sink', 2);
    send(a.pid, 3);
    await idle();
    expect(a.got).toEqual([1, 2, 3]);
  });

  it('send to a name nobody holds throws badarg, as Elixir does, and sends nothing', async () => {
    const a = keeper();
    expect(() => send('nobody-here', 'lost')).toThrow("send: no process is registered under 'nobody-here' (badarg)");
    register('somebody', a.pid);
    exit(a.pid, 'kill');
    expect(() => send('somebody', 'lost')).toThrow(/no process is registered under 'somebody'/);
    await idle();
    expect(a.got).toEqual([]);
  });

  it('send to a name nobody holds crashes the sending process, with a report naming the name', async () => {
    const sender = spawn(() => send('nobody-here', 'lost'));
    const exited = exitReasonOf(sender);
    send(sender, 'go');
    const reason = (await exited) as { error: Error };
    expect(reason.error.message).toMatch(/no process is registered under 'nobody-here'/);
  });

  it.each([
    ['normal', 'normal'],
    ['a crash', 'crash'],
    ['kill', 'kill'],
  ])('the name is freed when the process exits (%s) and whereis no longer finds it', async (_label, how) => {
    const a = spawn((msg) => {
      if (msg === 'crash') throw new Error('boom');
      if (msg === 'normal') exit('normal');
    });
    register('worker', a);
    if (how === 'kill') exit(a, 'kill');
    else send(a, how);
    await idle();
    expect(isAlive(a)).toBe(false);
    expect(whereis('worker')).toBeUndefined();
    expect(registered()).not.toContain('worker');
    const b = keeper();
    register('worker', b.pid);
    send('worker', 'for b');
    await idle();
    expect(b.got).toEqual(['for b']);
  });

  it('a timer to a name resolves it when it fires, so the new holder gets it', async () => {
    const a = keeper();
    register('target', a.pid);
    sendAfter('target', 'tick', 5);
    exit(a.pid, 'kill');
    const b = keeper();
    register('target', b.pid);
    await new Promise((resolve) => setTimeout(resolve, 30));
    await idle();
    expect(a.got).toEqual([]);
    expect(b.got).toEqual(['tick']);
  });

  it('unregister frees the name but leaves the process running', async () => {
    const a = keeper();
    register('temp', a.pid);
    expect(unregister('temp')).toBe(true);
    expect(unregister('temp')).toBe(false);
    expect(whereis('temp')).toBeUndefined();
    expect(() => send('temp', 'lost')).toThrow(/no process is registered under 'temp'/);
    send(a.pid, 'direct');
    await idle();
    expect(isAlive(a.pid)).toBe(true);
    expect(a.got).toEqual(['direct']);
    register('temp-again', a.pid);
    expect(whereis('temp-again')).toBe(a.pid);
  });
});
