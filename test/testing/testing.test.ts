import { AssertionError } from 'node:assert';
import { describe, expect, it } from 'vitest';
import { isAlive, send } from '../../src/runtime/process.js';
import { ok, push, stop, type CloseInfo, type CloseReason, type WebSock } from '../../src/websock/behaviour.js';
import { setActive, setShutdownReason } from '../../src/websock/commands.js';
import {
  DEFAULT_REFUTE_TIMEOUT,
  UpgradeRefusedError,
  connect,
  formatFrame,
  startHandler,
  startServer,
} from '../../src/testing/index.js';
import { serve } from '../../src/adapters/ws/server.js';
import { captureReports } from '../support/reports.js';

/**
 * Echoes text and binary; "stop" stops normally, "bye" stops with 4000 "bye",
 * "crash" throws. handleInfo pushes `['text', message]` for a string, and runs
 * the command `pause` / `resume` / `shutdownReason`. Pings and pongs are
 * reported as text frames after the fact.
 */
const Echo: WebSock<{ n: number }, unknown, string> = {
  init: () => ok({ n: 0 }),
  handleIn([data, { opcode }], state) {
    if (data === 'stop') return stop('normal', state);
    if (data === 'bye') return stop('normal', { code: 4000, reason: 'bye' }, ['text', 'last words'], state);
    if (data === 'crash') throw new Error('boom');
    return push([opcode, data], { n: state.n + 1 });
  },
  handleControl: ([data, { opcode }], state) => push(['text', `${opcode}:${data.toString()}`], state),
  handleInfo(message, state) {
    if (message === 'pause') setActive(false);
    else if (message === 'resume') setActive(true);
    else if (message === 'shutdownReason') setShutdownReason('kicked');
    else return push(['text', message], state);
    return ok(state);
  },
};

const NEVER = 60_000; // longer than the test timeout: only an assertion that ends early passes

const reports = captureReports('file');

/** The rejection of `promise`, which must reject. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(outcome instanceof Error)) throw new Error(`expected a rejection with an Error, got ${String(outcome)}`);
  return outcome;
}

describe('startHandler: the peer side', () => {
  it('a text message reaches handleIn and its push is recorded as the peer receives it', async () => {
    const conn = startHandler(Echo, null);
    conn.pushText('hi');
    expect(await conn.assertPush(['text', 'hi'])).toEqual(['text', 'hi']);
    expect(conn.frames).toEqual([['text', 'hi']]);
  });

  it('a binary message arrives as bytes; a frame compares by content, whatever the byte type', async () => {
    const conn = startHandler(Echo, null);
    conn.pushBinary(new Uint8Array([1, 2, 3]));
    const frame = await conn.nextFrame();
    expect(Buffer.isBuffer(frame[1])).toBe(true);
    expect(frame).toEqual(['binary', Buffer.from([1, 2, 3])]);
    conn.pushBinary(Buffer.from('abc'));
    await conn.assertPush(['binary', new Uint8Array([0x61, 0x62, 0x63])]);
    conn.pushBinary(Buffer.from('abc'));
    await conn.assertPush(['binary', 'abc']);
  });

  it('pushBinary copies its bytes, so the test may reuse its buffer', async () => {
    const conn = startHandler(Echo, null);
    const buf = Buffer.from('one');
    conn.pushBinary(buf);
    buf.write('two');
    await conn.assertPush(['binary', 'one']);
  });

  it('a ping is answered with a pong before handleControl runs', async () => {
    const conn = startHandler(Echo, null);
    conn.ping('x');
    await conn.assertPush(['text', 'ping:x']);
    expect(conn.frames).toEqual([
      ['pong', Buffer.from('x')],
      ['text', 'ping:x'],
    ]);
  });

  it('a pong reaches handleControl and gets no answer', async () => {
    const conn = startHandler(Echo, null);
    conn.pong('y');
    await conn.assertPush(['text', 'pong:y']);
    expect(conn.frames).toEqual([['text', 'pong:y']]);
  });

  it('a ping without payload is answered with an empty pong, which equals a null payload', async () => {
    const conn = startHandler(Echo, null);
    conn.ping();
    await conn.assertPush(['pong', null]);
  });

  it('a control payload over 125 bytes is refused, as by a real client', () => {
    const conn = startHandler(Echo, null);
    expect(() => conn.ping('x'.repeat(126))).toThrow(/126 bytes; a control frame carries at most 125/);
    expect(() => conn.pong(new Uint8Array(200))).toThrow(RangeError);
  });

  it('send(message) reaches handleInfo', async () => {
    const conn = startHandler(Echo, null);
    conn.send('hello');
    await conn.assertPush(['text', 'hello']);
  });

  it('init runs inside the connection process before anything the test pushed', async () => {
    const seen: unknown[] = [];
    const conn = startHandler<null, string, unknown>(
      {
        init(args) {
          seen.push(args);
          return push(['text', `welcome ${args}`], null);
        },
        handleIn: ([data], state) => push(['text', data as string], state),
        handleInfo: (_m, state) => ok(state),
      },
      'ann',
    );
    conn.pushText('first');
    expect(await conn.nextFrame()).toEqual(['text', 'welcome ann']);
    expect(await conn.nextFrame()).toEqual(['text', 'first']);
    expect(seen).toEqual(['ann']);
  });

  it('invalid options are refused, naming the option', () => {
    expect(() => startHandler(Echo, null, { timout: 1 } as never)).toThrow(/unknown option 'timout' in startHandler options \(did you mean 'timeout'\?\)/);
    expect(() => startHandler(Echo, null, { maxFrameSize: -1 })).toThrow(/maxFrameSize/);
  });

  it('something that is not a handler is refused', () => {
    expect(() => startHandler(null as never, null)).toThrow(/needs a WebSock handler/);
  });
});

describe('startHandler: assertions', () => {
  it('assertPush takes the first match and leaves earlier frames for later assertions', async () => {
    const conn = startHandler(Echo, null);
    conn.pushText('a');
    conn.pushText('b');
    await conn.assertPush(['text', 'b']);
    expect(await conn.nextFrame()).toEqual(['text', 'a']);
    await conn.refutePush();
    expect(conn.frames).toHaveLength(2);
  });

  it('assertPush accepts a predicate', async () => {
    const conn = startHandler(Echo, null);
    conn.pushText('hello world');
    const [, data] = await conn.assertPush(([op, d]) => op === 'text' && d.includes('world'));
    expect(data).toBe('hello world');
  });

  it('a failing assertPush names the frames pushed and not yet asserted', async () => {
    const conn = startHandler(Echo, null);
    conn.pushText('x');
    conn.pushBinary(Buffer.from([1, 2]));
    await conn.assertPush(['binary', Buffer.from([1, 2])]);
    const err = await failure(conn.assertPush(['text', 'nope'], { timeout: 50 }));
    expect(err).toBeInstanceOf(AssertionError);
    expect(err.message).toBe(
      `assertPush: expected a pushed frame ['text', "nope"] within 50 ms, but none came (the connection is still open).\n` +
        `  Pushed and not yet asserted: ['text', "x"]`,
    );
  });

  it("a failing assertion's stack points at the test that made it", async () => {
    const conn = startHandler(Echo, null);
    const err = await failure(conn.assertPush(['text', 'nope'], { timeout: 10 }));
    expect(err.stack?.split('\n')[2]).toContain('testing.test.ts');
  });

  it('assertPush fails as soon as the connection closes without the frame', async () => {
    const conn = startHandler(Echo, null);
    conn.pushText('stop');
    const err = await failure(conn.assertPush(['text', 'never'], { timeout: NEVER }));
    expect(err.message).toMatch(/but none came \(the connection is closed: the server closed it with 1000/);
  });

  it('a predicate that throws rejects the assertion with its own error', async () => {
    const conn = startHandler(Echo, null);
    conn.pushText('x');
    const err = await failure(
      conn.assertPush(() => {
        throw new Error('bad predicate');
      }),
    );
    expect(err.message).toBe('bad predicate');
  });

  it('a match that is neither a frame nor a predicate is a TypeError at once', async () => {
    const conn = startHandler(Echo, null);
    const err = await failure(conn.assertPush(['txt', 'x'] as never, { timeout: NEVER }));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(/assertPush expects a frame \[opcode, data\].*got \["txt","x"\]/);
  });

  it('a bad timeout is a TypeError naming it', async () => {
    const conn = startHandler(Echo, null);
    await expect(conn.nextFrame({ timeout: -1 })).rejects.toThrow(/nextFrame: option 'timeout' must be a finite, non-negative number of ms, got -1/);
  });

  it('refutePush passes when nothing is pushed, and fails naming the frame that was', async () => {
    const conn = startHandler(Echo, null);
    await conn.refutePush();
    conn.pushText('oops');
    const err = await failure(conn.refutePush(undefined, { timeout: NEVER }));
    expect(err).toBeInstanceOf(AssertionError);
    expect(err.message).toBe(`refutePush: expected no pushed frame for ${NEVER} ms, but got ['text', "oops"]`);
  });

  it('refutePush with a match ignores other frames and frames already asserted', async () => {
    const conn = startHandler(Echo, null);
    conn.pushText('seen');
    await conn.assertPush(['text', 'seen']);
    conn.pushText('other');
    await conn.refutePush(['text', 'seen'], { timeout: DEFAULT_REFUTE_TIMEOUT });
    const err = await failure(conn.refutePush(['text', 'other']));
    expect(err.message).toMatch(/expected no pushed frame \['text', "other"\] for 100 ms, but got \['text', "other"\]/);
  });

  it('refutePush ends early once the connection has closed', async () => {
    const conn = startHandler(Echo, null);
    conn.pushText('stop');
    await conn.assertClosed();
    await conn.refutePush(undefined, { timeout: NEVER });
  });

  it('nextFrame takes frames in order and fails showing every frame when none is left', async () => {
    const conn = startHandler(Echo, null);
    conn.pushText('1');
    conn.pushText('2');
    expect(await conn.nextFrame()).toEqual(['text', '1']);
    expect(await conn.nextFrame()).toEqual(['text', '2']);
    const err = await failure(conn.nextFrame({ timeout: 20 }));
    expect(err.message).toBe(
      `nextFrame: expected a pushed frame within 20 ms, but none came (the connection is still open).\n` +
        `  All pushed so far (each already taken): ['text', "1"], ['text', "2"]`,
    );
  });

  it('assertClosed returns how the server closed, frames pushed with the stop first', async () => {
    const conn = startHandler(Echo, null);
    conn.pushText('bye');
    expect(await conn.assertClosed({ code: 4000, reason: 'bye', by: 'server' })).toEqual({ code: 4000, reason: 'bye', by: 'server' });
    expect(conn.closed).toEqual({ code: 4000, reason: 'bye', by: 'server' });
    expect(conn.frames).toEqual([['text', 'last words']]);
  });

  it('assertClosed fails at once when the connection closed otherwise', async () => {
    const conn = startHandler(Echo, null);
    conn.pushText('bye');
    const err = await failure(conn.assertClosed({ code: 1000 }, { timeout: NEVER }));
    expect(err).toBeInstanceOf(AssertionError);
    expect(err.message).toBe(`assertClosed: expected a close {"code":1000}, but the server closed it with 4000 "bye"; terminate got normal`);
  });

  it('assertClosed fails after its timeout when the connection stays open, naming what was pushed', async () => {
    const conn = startHandler(Echo, null);
    conn.pushText('still here');
    await conn.assertPush(['text', 'still here']);
    conn.pushText('unasserted');
    const err = await failure(conn.assertClosed({ code: 1000 }, { timeout: 30 }));
    expect(err.message).toBe(
      `assertClosed: expected the connection to close {"code":1000} within 30 ms, but it is still open.\n` +
        `  Pushed and not yet asserted: ['text', "unasserted"]`,
    );
  });

  it('assertTerminated fails naming the reason terminate got', async () => {
    const conn = startHandler(Echo, null);
    conn.peerClose(1000);
    const err = await failure(conn.assertTerminated('normal', { timeout: NEVER }));
    expect(err).toBeInstanceOf(AssertionError);
    expect(err.message).toBe('assertTerminated: expected terminate(normal), but terminate got remote');
  });

  it('assertTerminated with a predicate names it when it refuses the reason', async () => {
    const conn = startHandler(Echo, null);
    conn.drop();
    const err = await failure(conn.assertTerminated((reason) => reason === 'normal'));
    expect(err.message).toMatch(/^assertTerminated: expected terminate\(a reason satisfying \(reason\) => reason === .normal.\), but terminate got \{error, closed\}$/);
  });

  it('assertTerminated fails after its timeout when terminate has not run', async () => {
    const conn = startHandler(Echo, null);
    const err = await failure(conn.assertTerminated('normal', { timeout: 20 }));
    expect(err.message).toBe('assertTerminated: expected terminate(normal) within 20 ms, but terminate has not run (the connection is still open).');
  });

  it('frames, closed and terminated show everything so far, asserted or not', async () => {
    const conn = startHandler(Echo, null);
    expect([conn.frames, conn.closed, conn.terminated, conn.exitReason]).toEqual([[], undefined, undefined, undefined]);
    conn.pushText('a');
    await conn.assertPush(['text', 'a']);
    conn.pushText('stop');
    await conn.assertTerminated('normal');
    expect(conn.frames).toEqual([['text', 'a']]);
    expect(conn.closed).toEqual({ code: 1000, reason: '', by: 'server' });
    expect(conn.terminated).toEqual({ reason: 'normal', state: { n: 1 }, info: { remoteCode: undefined, remoteReason: undefined, sentCode: 1000 } });
  });

  it('formatFrame renders text as JSON and bytes as hex', () => {
    expect(formatFrame(['text', 'a"b'])).toBe(`['text', "a\\"b"]`);
    expect(formatFrame(['binary', Buffer.from([0, 255])])).toBe(`['binary', <2 bytes: 00 ff>]`);
    expect(formatFrame(['pong', null])).toBe(`['pong', <0 bytes>]`);
    expect(formatFrame(['binary', Buffer.alloc(20)])).toMatch(/<20 bytes: (00 ){15}00 \.\.\.>/);
  });
});

describe('startHandler: how connections end', () => {
  it('stop(normal): close 1000, terminate normal, the process exits normal', async () => {
    const conn = startHandler(Echo, null);
    conn.pushText('stop');
    await conn.assertClosed({ code: 1000, by: 'server' });
    const t = await conn.assertTerminated('normal');
    expect(t.info.sentCode).toBe(1000);
    await expect.poll(() => conn.exitReason).toBe('normal');
  });

  it('a crash: close 1011 and terminate { error }', async () => {
    const conn = startHandler(Echo, null);
    conn.pushText('crash');
    await conn.assertClosed({ code: 1011 });
    const t = await conn.assertTerminated((r) => typeof r === 'object' && r.error instanceof Error && r.error.message === 'boom');
    expect(t.info.sentCode).toBe(1011);
    expect(reports.some((r) => r.kind === 'crash' && r.pid === conn.pid)).toBe(true);
  });

  it('a crash in init: close 1011, a crash report, and no terminate (there is no state to give it)', async () => {
    const conn = startHandler<null, null, unknown>(
      {
        init() {
          throw new Error('no init');
        },
        handleIn: (_f, s) => ok(s),
        handleInfo: (_m, s) => ok(s),
        terminate: () => {
          throw new Error('terminate must not run without a state');
        },
      },
      null,
    );
    await conn.assertClosed({ code: 1011, by: 'server' });
    await expect.poll(() => conn.exitReason).toMatchObject({ error: { message: 'no init' } });
    expect(conn.terminated).toBeUndefined();
    expect(reports.some((r) => r.kind === 'crash' && r.pid === conn.pid)).toBe(true);
  });

  it('a peer close: the server echoes it and terminate gets remote with the code and reason', async () => {
    const conn = startHandler(Echo, null);
    conn.peerClose(4001, 'leaving');
    expect(await conn.assertClosed()).toEqual({ code: 4001, reason: 'leaving', by: 'peer' });
    const t = await conn.assertTerminated('remote');
    expect(t.info).toEqual({ remoteCode: 4001, remoteReason: 'leaving', sentCode: 4001 });
  });

  it('a peer close without a code is 1005', async () => {
    const conn = startHandler(Echo, null);
    conn.peerClose();
    const t = await conn.assertTerminated('remote');
    expect(t.info.remoteCode).toBe(1005);
    expect(conn.closed).toEqual({ code: 1005, reason: '', by: 'peer' });
  });

  it('peerClose refuses what a peer may not send', () => {
    const conn = startHandler(Echo, null);
    expect(() => conn.peerClose(1006)).toThrow(RangeError);
    expect(() => conn.peerClose(undefined, 'why')).toThrow(/a reason needs a code/);
    expect(() => conn.peerClose(1000, 'x'.repeat(124))).toThrow(/over the limit of 123/);
  });

  it('a dropped TCP connection: terminate { error: closed }, close 1006', async () => {
    const conn = startHandler(Echo, null);
    conn.drop();
    await conn.assertTerminated({ error: 'closed' });
    expect(conn.closed).toEqual({ code: 1006, reason: '', by: 'peer' });
  });

  it('the idle timeout closes with 1000 and terminate gets timeout', async () => {
    const conn = startHandler(Echo, null, { timeout: 50 });
    await conn.assertClosed({ code: 1000, by: 'server' }, { timeout: 5_000 });
    await conn.assertTerminated('timeout');
  });

  it('inbound data resets the idle clock; a frame pushed does not', async () => {
    // Three gaps of 400 ms outlast a 1 000 ms timeout only if each message reset the clock.
    const conn = startHandler(Echo, null, { timeout: 1_000 });
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 400));
      expect(conn.closed).toBeUndefined();
      conn.pushText(`keepalive ${i}`);
    }
    conn.send('outbound only');
    await conn.assertTerminated('timeout', { timeout: 5_000 });
  });

  it('shutdown(): close 1001 and terminate shutdown', async () => {
    const conn = startHandler(Echo, null);
    conn.shutdown();
    await conn.assertClosed({ code: 1001, by: 'server' });
    await conn.assertTerminated('shutdown');
  });

  it('the exit reason follows setShutdownReason', async () => {
    const conn = startHandler(Echo, null);
    conn.send('shutdownReason');
    conn.peerClose(1000);
    await conn.assertTerminated('remote');
    await expect.poll(() => conn.exitReason).toEqual({ shutdown: 'kicked' });
  });

  it('a message over maxFrameSize closes with 1009 as ws does', async () => {
    const conn = startHandler(Echo, null, { maxFrameSize: 4 });
    conn.pushText('four');
    await conn.assertPush(['text', 'four']);
    conn.pushBinary(new Uint8Array(5));
    expect(await conn.assertClosed()).toEqual({ code: 1009, reason: '', by: 'server' });
    await conn.assertTerminated((r) => typeof r === 'object' && r.error instanceof RangeError && r.error.message === 'Max payload size exceeded');
  });

  it('text that is not UTF-8 closes with 1007, unless validateUtf8 is off', async () => {
    const invalid = new Uint8Array([0x68, 0xff, 0x69]);
    const strict = startHandler(Echo, null);
    strict.pushText(invalid);
    await strict.assertClosed({ code: 1007 });
    await strict.assertTerminated((r) => typeof r === 'object' && (r.error as Error).message.includes('invalid UTF-8'));

    const lax = startHandler(Echo, null, { validateUtf8: false });
    lax.pushText(invalid);
    await lax.assertPush(['text', 'h\ufffdi']);
  });

  it('the peer can send nothing once the connection is closed', async () => {
    const conn = startHandler(Echo, null);
    conn.pushText('bye');
    await conn.assertClosed();
    expect(() => conn.pushText('late')).toThrow(`pushText: the connection is closed (the server closed it with 4000 "bye"); the peer can send nothing more`);
    expect(() => conn.pushBinary(new Uint8Array(1))).toThrow(/pushBinary: the connection is closed/);
    expect(() => conn.ping()).toThrow(/ping: the connection is closed/);
    expect(() => conn.drop()).toThrow(/drop: the connection is closed/);
  });

  it('frames the handler pushes after the peer closed are not delivered', async () => {
    const conn = startHandler(Echo, null);
    conn.pushText('unanswered');
    conn.peerClose(1000);
    await conn.assertTerminated('remote');
    expect(conn.frames).toEqual([]);
  });

  it("terminate is observed without changing the handler's own: it runs with the handler as this", async () => {
    class Counter implements WebSock<number> {
      readonly ended: [CloseReason, number, CloseInfo][] = [];
      init = (): ReturnType<WebSock<number>['init']> => ok(0);
      handleIn(_f: unknown, n: number) {
        return push(['text', String(n + 1)], n + 1);
      }
      handleInfo(_m: unknown, n: number) {
        return ok(n);
      }
      terminate(reason: CloseReason, n: number, info: CloseInfo): void {
        this.ended.push([reason, n, info]);
      }
    }
    const handler = new Counter();
    const conn = startHandler(handler, null);
    conn.pushText('x');
    await conn.assertPush(['text', '1']);
    conn.peerClose(1000);
    const t = await conn.assertTerminated('remote');
    expect(handler.ended).toEqual([[t.reason, 1, t.info]]);
  });

  it('a handler without terminate can still be asserted on', async () => {
    const conn = startHandler<null, null, unknown>(
      { init: () => ok(null), handleIn: (_f, s) => stop('normal', s), handleInfo: (_m, s) => ok(s) },
      null,
    );
    conn.pushText('x');
    expect((await conn.assertTerminated('normal')).state).toBeNull();
  });

  it('disposing shuts the connection down and waits for its process to end', async () => {
    const conn = startHandler(Echo, null);
    await conn[Symbol.asyncDispose]();
    expect(conn.terminated?.reason).toBe('shutdown');
    expect(isAlive(conn.pid)).toBe(false);
    await conn[Symbol.asyncDispose]();
  });
});

describe('startHandler: flow control', () => {
  it('while the handler has paused reading, pushed frames wait and are read in order on resume', async () => {
    const conn = startHandler(Echo, null);
    conn.send('pause');
    await expect.poll(() => conn.paused).toBe(true);
    conn.pushText('a');
    conn.ping('p');
    conn.pushText('b');
    await conn.refutePush();
    conn.send('resume');
    // The socket answers the ping as it reads it, before the process has handled 'a'.
    expect(await conn.nextFrame()).toEqual(['pong', Buffer.from('p')]);
    expect(await conn.nextFrame()).toEqual(['text', 'a']);
    expect(await conn.nextFrame()).toEqual(['text', 'ping:p']);
    expect(await conn.nextFrame()).toEqual(['text', 'b']);
    expect(conn.paused).toBe(false);
  });

  it('more than activeN unhandled messages pause reading until the handler catches up', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const conn = startHandler<null, null, unknown>(
      {
        init: () => ok(null),
        async handleIn([data], state) {
          await gate;
          return push(['text', data as string], state);
        },
        handleInfo: (_m, s) => ok(s),
      },
      null,
      { activeN: 1 },
    );
    for (let i = 0; i < 5; i++) conn.pushText(`m${i}`);
    expect(conn.paused).toBe(true);
    release();
    for (let i = 0; i < 5; i++) await conn.assertPush(['text', `m${i}`]);
    expect(conn.frames.map((f) => f[1])).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(conn.paused).toBe(false);
  });

  it('a peer close sent while reading is paused is read after what came before it', async () => {
    const conn = startHandler(Echo, null);
    conn.send('pause');
    await expect.poll(() => conn.paused).toBe(true);
    conn.pushText('before close');
    conn.peerClose(1000);
    expect(() => conn.pushText('after close')).toThrow(/the peer has already closed the connection/);
    await conn.refutePush();
    expect(conn.closed).toBeUndefined();
    conn.send('resume');
    const t = await conn.assertTerminated('remote');
    // handleIn saw the message; its echo went nowhere, as the server had already echoed the close.
    expect(t.state).toEqual({ n: 1 });
    expect(conn.frames).toEqual([]);
  });
});

describe('startServer and connect', () => {
  it('a client talks to the handler over a real socket', async () => {
    await using server = await startServer(Echo);
    const client = await server.connect();
    client.sendText('hi');
    await client.assertReceive(['text', 'hi']);
    client.sendBinary(new Uint8Array([7]));
    await client.assertReceive(['binary', new Uint8Array([7])]);
    client.ping('p');
    await client.assertReceive(['pong', 'p']);
    await client.assertReceive(['text', 'ping:p']);
    const [pid] = server.connections();
    if (pid === undefined) throw new Error('the server lists no connection');
    send(pid, 'from elsewhere');
    await client.assertReceive(['text', 'from elsewhere']);
    expect(client.frames.map(formatFrame)).toEqual([`['text', "hi"]`, `['binary', <1 byte: 07>]`, `['pong', <1 byte: 70>]`, `['text', "ping:p"]`, `['text', "from elsewhere"]`]);
  });

  it('the server closing shows in the client with its code and reason', async () => {
    await using server = await startServer(Echo);
    const client = await server.connect();
    client.sendText('bye');
    await client.assertReceive(['text', 'last words']);
    expect(await client.assertClosed({ code: 4000, reason: 'bye' })).toEqual({ code: 4000, reason: 'bye' });
    await expect(client.closed).resolves.toEqual({ code: 4000, reason: 'bye' });
    expect(() => client.sendText('late')).toThrow(/sendText: the connection is closed \(4000\); nothing more can be sent/);
  });

  it('client assertions fail with what was received', async () => {
    await using server = await startServer(Echo);
    const client = await server.connect();
    client.sendText('one');
    await client.assertReceive(['text', 'one']);
    client.sendText('two');
    await expect(client.refuteReceive(['text', 'two'], { timeout: NEVER })).rejects.toThrow(`refuteReceive: expected no received frame ['text', "two"] for ${NEVER} ms, but got ['text', "two"]`);
    const err = await failure(client.assertReceive(['text', 'three'], { timeout: 30 }));
    expect(err.message).toBe(
      `assertReceive: expected a received frame ['text', "three"] within 30 ms, but none came (the connection is still open).\n` +
        `  Received and not yet asserted: ['text', "two"]`,
    );
    expect(await client.nextFrame()).toEqual(['text', 'two']);
    client.sendText('stop');
    const closedErr = await failure(client.assertClosed({ code: 1011 }, { timeout: NEVER }));
    expect(closedErr.message).toBe('assertClosed: expected a close {"code":1011}, but it closed with 1000');
  });

  it('a client close reaches the handler as a peer close', async () => {
    const ended: CloseReason[] = [];
    await using server = await startServer({ ...Echo, terminate: (reason: CloseReason) => void ended.push(reason) });
    const client = await server.connect();
    expect(await client.close(4002, 'done')).toEqual({ code: 4002, reason: 'done' });
    await expect.poll(() => ended).toEqual(['remote']);
  });

  it('a client drop reaches the handler as a closed TCP connection', async () => {
    const ended: CloseReason[] = [];
    await using server = await startServer({ ...Echo, terminate: (reason: CloseReason) => void ended.push(reason) });
    const client = await server.connect();
    expect(await client.drop()).toEqual({ code: 1006, reason: '' });
    await expect.poll(() => ended).toEqual([{ error: 'closed' }]);
  });

  it('disposing the server closes its clients with 1001', async () => {
    const server = await startServer(Echo);
    const a = await server.connect();
    const b = await server.connect('/other');
    expect(server.clients).toEqual([a, b]);
    await server[Symbol.asyncDispose]();
    expect(await a.closed).toEqual({ code: 1001, reason: '' });
    expect(await b.closed).toEqual({ code: 1001, reason: '' });
  });

  it('a refused upgrade rejects with its status and body', async () => {
    await using server = await startServer(Echo, { path: '/ws' });
    const err = await failure(server.connect('/elsewhere'));
    expect(err).toBeInstanceOf(UpgradeRefusedError);
    expect(err).toMatchObject({ status: 404, body: 'no WebSocket endpoint at /elsewhere' });
    expect(err.message).toBe('the server refused the WebSocket upgrade with HTTP 404: no WebSocket endpoint at /elsewhere');
    await server.connect('/ws');
  });

  it('subprotocols and headers reach the server; the chosen protocol is on the client', async () => {
    await using server = await startServer(Echo, {
      subprotocols: ['chat'],
      args: (req) => req.headers['x-user'],
      checkOrigin: ['https://example.com'],
    });
    const client = await server.connect('/', { protocols: ['other', 'chat'], headers: { origin: 'https://example.com', 'x-user': 'ann' } });
    expect(client.protocol).toBe('chat');
    expect(client.response.statusCode).toBe(101);
    await expect(server.connect('/', { headers: { origin: 'https://evil.example' } })).rejects.toMatchObject({ status: 403 });
  });

  it('connect to a port nobody listens on rejects with the socket error', async () => {
    const server = await startServer(Echo);
    const url = server.url;
    await server.close();
    await expect(connect(url)).rejects.toThrow(/ECONNREFUSED/);
  });

  it("takes an adapter's serve as an option, hands it the options on 127.0.0.1 and a free port, and returns that adapter's server", async () => {
    const given: object[] = [];
    const recording: typeof serve = (handler, opts) => {
      given.push({ ...opts });
      return serve(handler, opts);
    };
    await using server = await startServer(Echo, { serve: recording, path: '/ws', timeout: 5_000 });
    expect(given).toEqual([{ path: '/ws', timeout: 5_000, port: 0, host: '127.0.0.1' }]);
    expect(server.httpServer.listening).toBe(true);
    const client = await server.connect('/ws');
    client.sendText('through the adapter given');
    await client.assertReceive(['text', 'through the adapter given']);
    await expect(startServer(Echo, { serve: 'ws' as never })).rejects.toThrow(/option 'serve' must be an adapter's serve function/);
  });

  it('startServer refuses invalid options as serve does', async () => {
    await expect(startServer(Echo, { timeout: -5 })).rejects.toThrow(/option 'timeout'/);
  });
});
