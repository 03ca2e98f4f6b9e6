import { describe, expect, it, vi } from 'vitest';
import { exit, hibernate, isAlive, processInfo, self, send } from '../../src/runtime/process.js';
import { idle } from '../../src/runtime/scheduler.js';
import { ok, push, type Frame } from '../../src/websock/behaviour.js';
import { setActive, setConnectionOptions, setDeflate, setShutdownReason } from '../../src/websock/commands.js';
import { Connection, type ConnectionSettings } from '../../src/websock/connection.js';
import type { Transport } from '../../src/websock/transport.js';
import { gate, inside, pushMessage, Recorder, runIn, scripted, type Script } from '../conformance/handlers.js';
import { exitReasonOf } from '../support/exits.js';
import { captureReports } from '../support/reports.js';
import { until } from '../support/until.js';

/** A transport that records what the connection asks of the socket. */
class FakeTransport implements Transport {
  readonly writes: Frame[][] = [];
  readonly closes: [number, string | Uint8Array][] = [];
  aborts = 0;
  pauses = 0;
  resumes = 0;
  paused = false;
  buffered = 0;
  readonly compressed = false;

  write(frames: readonly Frame[]): void {
    this.writes.push([...frames]);
  }
  close(code: number, reason: string | Uint8Array): void {
    this.closes.push([code, reason]);
  }
  abort(): void {
    this.aborts++;
  }
  pause(): void {
    this.paused = true;
    this.pauses++;
  }
  resume(): void {
    this.paused = false;
    this.resumes++;
  }
  bufferedAmount(): number {
    return this.buffered;
  }
  setMaxFrameSize(): void {}
}

const SETTINGS: ConnectionSettings = {
  timeout: 0,
  maxFrameSize: 0,
  activeN: 100,
  maxHeapSize: undefined,
  fullsweepAfter: undefined,
  highWaterMark: Infinity,
  lowWaterMark: 0,
  maxBufferedAmount: Infinity,
};
const META = { handlerName: 'Test', remoteAddress: '127.0.0.1', path: '/', protocol: undefined, server: 'fake' };

function start(script: Script = {}, settings: Partial<ConnectionSettings> = {}) {
  const rec = new Recorder();
  const transport = new FakeTransport();
  const conn = new Connection(scripted(rec, script), null, transport, { ...SETTINGS, ...settings }, META);
  return { rec, transport, conn };
}

/** A handler whose handleIn echoes each text message once `g` is open, so that messages pile up in the mailbox until then. */
function echoOnceOpen(g: ReturnType<typeof gate>): Script {
  return {
    handleIn: async ([data], state) => {
      await g.promise;
      return push(['text', data as string], state);
    },
  };
}

const reports = captureReports('file');

describe('output batching', () => {
  it('frames pushed while handling one batch of messages leave in one write', async () => {
    const { transport, conn } = start();
    await idle();
    conn.received('a', false, 1);
    conn.received(Buffer.from('b'), true, 1);
    conn.received('c', false, 1);
    await idle();
    expect(transport.writes).toEqual([
      [
        ['text', 'a'],
        ['binary', Buffer.from('b')],
        ['text', 'c'],
      ],
    ]);
  });

  it('hibernate() sends frames pushed earlier in the same batch before releasing the buffer', async () => {
    const { transport, conn } = start();
    await idle();
    send(conn.pid, pushMessage(['text', 'before']));
    send(
      conn.pid,
      inside((state) => {
        hibernate();
        return push(['text', 'after'], state);
      }),
    );
    await idle();
    expect(transport.writes.flat()).toEqual([
      ['text', 'before'],
      ['text', 'after'],
    ]);
  });
});

describe('flow control', () => {
  it('activeN waiting messages pause reading; it resumes once half are handled', async () => {
    const g = gate();
    const { transport, conn, rec } = start(echoOnceOpen(g), { activeN: 2 });
    await idle();
    for (let i = 0; i < 6; i++) conn.received(`m${i}`, false, 2);
    expect(transport.paused).toBe(true);
    g.open();
    await rec.nth('handleIn', 5);
    await idle();
    expect(transport.paused).toBe(false);
    expect([transport.pauses, transport.resumes]).toEqual([1, 1]);
    expect(transport.writes.flat().map((f) => f[1])).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
  });

  it('messages past activeN from one read wait outside the mailbox, and enter it, in order, as others are handled', async () => {
    let most = 0;
    const { transport, conn, rec } = start(
      {
        handleIn: ([data], state) => {
          most = Math.max(most, processInfo(self())?.messageQueueLen ?? 0);
          return push(['text', data as string], state);
        },
      },
      { activeN: 3 },
    );
    await idle();
    for (let i = 0; i < 50; i++) conn.received(`m${i}`, false, 2);
    conn.closed(true, 1000, 'bye');
    expect(processInfo(conn.pid)?.messageQueueLen).toBe(3);
    expect(transport.pauses).toBe(1);
    const t = await rec.terminated();
    expect(t.reason).toBe('remote');
    expect(rec.count('handleIn')).toBe(50);
    // At most three messages, and at the end the close that came behind them.
    expect(most).toBeLessThanOrEqual(4);
    expect(transport.writes.flat().map((f) => f[1])).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
  });

  it('setActive(false) keeps reading paused even after flow control would resume it', async () => {
    const { transport, conn } = start({}, { activeN: 1 });
    await idle();
    await runIn(conn.pid, () => setActive(false));
    for (let i = 0; i < 4; i++) conn.received(`m${i}`, false, 2);
    await idle();
    expect(transport.writes.flat()).toHaveLength(4);
    expect(transport.paused).toBe(true);
    await runIn(conn.pid, () => setActive(true));
    expect(transport.paused).toBe(false);
  });
});

describe('maxHeapSize', () => {
  it('a connection holding more outbound bytes than allowed is killed: aborted, no close frame, no terminate', async () => {
    const { transport, conn, rec } = start({}, { maxHeapSize: { size: 1_000, kill: true, errorLogger: true } });
    await idle();
    transport.buffered = 5_000;
    conn.received('x', false, 1);
    await rec.nth('handleIn');
    await idle();
    expect(isAlive(conn.pid)).toBe(false);
    expect(transport.aborts).toBe(1);
    expect(transport.closes).toEqual([]);
    expect(rec.count('terminate')).toBe(0);
    expect(reports.filter((r) => r.kind === 'max_heap_size' && r.pid === conn.pid)).toHaveLength(1);
  });
});

describe('backpressure', () => {
  const MARKS = { highWaterMark: 1_000, lowWaterMark: 100, maxBufferedAmount: 10_000 };

  /** A connection that pushed a frame with 5,000 bytes unwritten: paused, under its limit. */
  async function pausedByOutput(): Promise<ReturnType<typeof start>> {
    const started = start({}, MARKS);
    await idle();
    started.transport.buffered = 5_000;
    send(started.conn.pid, pushMessage(['text', 'out']));
    await idle();
    expect(started.transport.paused).toBe(true);
    return started;
  }

  it('over highWaterMark unwritten bytes the socket stops being read; a drain to lowWaterMark reads it again', async () => {
    const { transport, conn, rec } = start({}, MARKS);
    await idle();
    transport.buffered = 1_001;
    conn.received('x', false, 1);
    await rec.nth('handleIn');
    await idle();
    expect(transport.paused).toBe(true);
    expect(processInfo(conn.pid)?.details['paused']).toBe(true);
    transport.buffered = 101;
    conn.drained();
    expect(transport.paused).toBe(true);
    transport.buffered = 100;
    conn.drained();
    expect(transport.paused).toBe(false);
    expect([transport.pauses, transport.resumes]).toEqual([1, 1]);
    expect(isAlive(conn.pid)).toBe(true);
  });

  it('a connection paused by its output reads again once it drained even when the server reports no drain (the drain poll)', async () => {
    const { transport } = await pausedByOutput();
    transport.buffered = 0;
    await until(() => !transport.paused, 'the poll to resume reading');
    expect([transport.pauses, transport.resumes]).toEqual([1, 1]);
  });

  it('setActive(true) does not read a socket held paused by its unwritten output, nor does a drain one the handler paused', async () => {
    const { transport, conn } = await pausedByOutput();
    await runIn(conn.pid, () => setActive(false));
    await runIn(conn.pid, () => setActive(true));
    expect(transport.paused).toBe(true);
    await runIn(conn.pid, () => setActive(false));
    transport.buffered = 0;
    conn.drained();
    expect(transport.paused).toBe(true);
    await runIn(conn.pid, () => setActive(true));
    expect(transport.paused).toBe(false);
  });

  it('a connection paused both by its unwritten output and by a full mailbox reads again only once both have cleared', async () => {
    const g = gate();
    const { transport, conn, rec } = start(echoOnceOpen(g), { ...MARKS, activeN: 2 });
    await idle();
    transport.buffered = 5_000;
    send(conn.pid, pushMessage(['text', 'out']));
    await idle();
    for (let i = 0; i < 4; i++) conn.received(`m${i}`, false, 2);
    expect(transport.paused).toBe(true);
    // The mailbox empties; the output has not drained: still paused.
    g.open();
    await rec.nth('handleIn', 3);
    await idle();
    expect(transport.paused).toBe(true);
    expect(processInfo(conn.pid)?.details['paused']).toBe(true);
    transport.buffered = 0;
    conn.drained();
    expect(transport.paused).toBe(false);
    expect(processInfo(conn.pid)?.details['paused']).toBe(false);
  });

  it('one write past maxBufferedAmount to a connection not yet paused pauses it, no more (an echo of a maximal message)', async () => {
    const { transport, conn } = start({}, MARKS);
    await idle();
    transport.buffered = 20_000;
    send(conn.pid, pushMessage(['text', 'a large echo']));
    await idle();
    expect(transport.paused).toBe(true);
    expect(transport.closes).toEqual([]);
    expect(isAlive(conn.pid)).toBe(true);
  });

  it('past maxBufferedAmount, once paused, the connection closes with 1008, reports it, and terminate sees { error: backpressure }', async () => {
    const { transport, conn, rec } = await pausedByOutput();
    const exited = exitReasonOf(conn.pid);
    transport.buffered = 10_001;
    send(conn.pid, pushMessage(['text', 'one too many']));
    expect(await exited).toEqual({ shutdown: 'backpressure' });
    expect(transport.closes).toEqual([[1008, '']]);
    expect(transport.aborts).toBe(0);
    expect((await rec.nth('terminate')).input).toEqual({ error: 'backpressure' });
    expect(reports.filter((r) => r.kind === 'backpressure' && r.pid === conn.pid)).toEqual([
      { kind: 'backpressure', pid: conn.pid, server: 'fake', held: 'outbound', bytes: 10_001, limit: 10_000, code: 1008 },
    ]);
  });

  it('inbound bytes an adapter holds for a paused connection are bounded by maxBufferedAmount too', async () => {
    const { transport, conn } = start({}, MARKS);
    await idle();
    const exited = exitReasonOf(conn.pid);
    conn.holding(10_000);
    expect(isAlive(conn.pid)).toBe(true);
    conn.holding(10_001);
    expect(await exited).toEqual({ shutdown: 'backpressure' });
    expect(transport.closes).toEqual([[1008, '']]);
    expect(reports.filter((r) => r.kind === 'backpressure' && r.pid === conn.pid).map((r) => r.kind === 'backpressure' && r.held)).toEqual(['inbound']);
  });

  it('what one slice pushes is written as it passes highWaterMark, not all at the slice end, so the limit sees it', async () => {
    const { transport, conn } = start({}, MARKS);
    await idle();
    for (let i = 0; i < 5; i++) send(conn.pid, pushMessage(['binary', Buffer.alloc(600)]));
    await idle();
    expect(transport.writes.map((w) => w.length)).toEqual([2, 2, 1]);
  });

  it('without marks (highWaterMark and maxBufferedAmount 0) a slice leaves in one write and nothing pauses', async () => {
    const { transport, conn } = start();
    await idle();
    transport.buffered = 1e9;
    for (let i = 0; i < 5; i++) send(conn.pid, pushMessage(['binary', Buffer.alloc(600)]));
    await idle();
    expect(transport.writes.map((w) => w.length)).toEqual([5]);
    expect(transport.paused).toBe(false);
  });
});

describe('ends without terminate', () => {
  it("exit(pid, 'kill') aborts the socket and runs no terminate: a killed process runs no more code", async () => {
    const { transport, conn, rec } = start();
    await idle();
    exit(conn.pid, 'kill');
    expect(isAlive(conn.pid)).toBe(false);
    expect(transport.aborts).toBe(1);
    expect(transport.closes).toEqual([]);
    expect(rec.count('terminate')).toBe(0);
  });

  it('an init that throws closes with 1011 and runs no terminate: there is no state to give it', async () => {
    const { transport, conn, rec } = start({
      init: () => {
        throw new Error('no');
      },
    });
    await idle();
    expect(isAlive(conn.pid)).toBe(false);
    expect(transport.closes).toEqual([[1011, '']]);
    expect(rec.count('terminate')).toBe(0);
  });

  it('an init that rejects runs no terminate either; one that returned ok does', async () => {
    const failing = start({ init: () => Promise.reject(new Error('no')) });
    const fine = start({ init: () => Promise.resolve(ok('ready')) });
    await failing.rec.nth('init');
    await fine.rec.nth('init');
    await idle();
    exit(fine.conn.pid, 'shutdown');
    expect((await fine.rec.terminated()).state).toBe('ready');
    expect(isAlive(failing.conn.pid)).toBe(false);
    expect(failing.rec.count('terminate')).toBe(0);
  });
});

describe('connection commands', () => {
  it('refuse to run outside a connection process, naming themselves', () => {
    expect(() => setActive(true)).toThrow(/setActive\(\) must be called from a WebSock callback/);
    expect(() => setDeflate(true)).toThrow(/setDeflate\(\)/);
    expect(() => setConnectionOptions({ timeout: 1 })).toThrow(/setConnectionOptions\(\)/);
    expect(() => setShutdownReason('x')).toThrow(/setShutdownReason\(\)/);
  });
});

describe('idle timeout', () => {
  it('a connection that idled out is let out of the wheel once, however many ticks pass before its process handles it', async () => {
    const g = gate();
    const { conn, transport, rec } = start({ handleInfo: async (_msg, state) => (await g.promise, ok(state)) }, { timeout: 40 });
    await idle();
    const idleOut = vi.spyOn(conn, 'idleOut');
    // Busy in handleInfo, the process cannot handle its timeout yet.
    send(conn.pid, 'block');
    await rec.nth('handleInfo');
    await until(() => idleOut.mock.calls.length > 0, 'the idle timeout');
    // The wheel ticks every 10 ms for a 40 ms timeout: ten more ticks pass, the timeout already in the mailbox.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(idleOut).toHaveBeenCalledTimes(1);
    g.open();
    await until(() => transport.closes.length > 0, 'the close');
    expect(transport.closes).toEqual([[1000, '']]);
  });
});
