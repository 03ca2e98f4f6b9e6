import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Pid } from '../../src/runtime/pid.js';
import { exit, processInfo, self, send, spawn, spawnLink } from '../../src/runtime/process.js';
import { MAILBOX_BLOCK } from '../../src/runtime/proc.js';
import { SLICE, currentProc, idle } from '../../src/runtime/scheduler.js';

describe('mailbox order', () => {
  it('keeps each sender\'s messages in the order sent, however senders interleave', async () => {
    const got: [string, number][] = [];
    const receiver = spawn((msg: [string, number]) => {
      got.push(msg);
    });
    const n = 3 * SLICE;
    const burst = spawn((tag: string) => {
      for (let i = 0; i < n; i++) send(receiver, [tag, i]);
    });
    const trickle = spawn(async (tag: string) => {
      for (let i = 0; i < 200; i++) {
        send(receiver, [tag, i]);
        if (i % 20 === 0) await sleep(0);
      }
    });
    send(burst, 'burst');
    send(trickle, 'trickle');
    for (let i = 0; i < n; i++) {
      send(receiver, ['outside', i]);
      if (i === SLICE) await sleep(0);
    }
    await vi.waitFor(() => expect(got).toHaveLength(2 * n + 200), { timeout: 10_000, interval: 5 });
    for (const tag of ['burst', 'trickle', 'outside']) {
      const seq = got.filter(([t]) => t === tag).map(([, i]) => i);
      expect(seq).toEqual([...Array(seq.length).keys()]);
    }
    const tags = new Set(got.slice(0, n).map(([t]) => t));
    expect(tags.size).toBeGreaterThan(1);
  });

  it('keeps order and its length over a backlog many blocks long, with more arriving while it drains', async () => {
    // Past MAILBOX_BLOCK messages the mailbox continues in blocks: order and length must not notice.
    const first = 3 * MAILBOX_BLOCK + 7;
    const more = 2 * MAILBOX_BLOCK;
    const got: number[] = [];
    const lengthErrors: string[] = [];
    let sent = 0;
    const pid = spawn((i: number) => {
      got.push(i);
      const expected = sent - got.length;
      const len = processInfo(pid)?.messageQueueLen;
      if (len !== expected && lengthErrors.length < 5) lengthErrors.push(`at ${i}: ${String(len)} queued, expected ${expected}`);
    });
    for (; sent < first; ) send(pid, sent++);
    expect(processInfo(pid)?.messageQueueLen).toBe(first);
    // The rest arrives in bursts while the backlog is being handled (the drain yields between slices).
    while (sent < first + more) {
      await new Promise((resolve) => setImmediate(resolve));
      for (let k = 0; k < 1000 && sent < first + more; k++) send(pid, sent++);
    }
    await idle();
    expect(lengthErrors).toEqual([]);
    expect(got).toEqual([...Array(first + more).keys()]);
    expect(processInfo(pid)?.messageQueueLen).toBe(0);
    exit(pid, 'kill');
  });
});

describe('one message at a time', () => {
  it('never overlaps async callbacks; messages sent meanwhile wait their turn', async () => {
    const events: string[] = [];
    const sent: string[] = [];
    let active = 0;
    let maxActive = 0;
    let queuedWhileBusy = 0;
    let pid: Pid | undefined;
    const post = (msg: string): void => {
      sent.push(msg);
      send(pid as Pid, msg);
    };
    pid = spawn(async (msg: string) => {
      active++;
      maxActive = Math.max(maxActive, active);
      events.push(`start ${msg}`);
      if (msg.length < 3) post(`${msg}+`);
      await sleep(msg.length % 2 === 0 ? 2 : 0);
      await Promise.resolve();
      queuedWhileBusy = Math.max(queuedWhileBusy, processInfo(self())?.messageQueueLen ?? 0);
      events.push(`end ${msg}`);
      active--;
    });
    post('a');
    post('b');
    const outside = setInterval(() => post('x'), 1);
    await sleep(15);
    clearInterval(outside);
    await vi.waitFor(() => expect(processInfo(pid as Pid)?.status).toBe('waiting'), { timeout: 5_000, interval: 5 });
    expect(maxActive).toBe(1);
    expect(queuedWhileBusy).toBeGreaterThan(0);
    expect(sent.length).toBeGreaterThan(6);
    for (let i = 0; i < events.length; i += 2) {
      const msg = (events[i] as string).slice('start '.length);
      expect(events[i + 1]).toBe(`end ${msg}`);
    }
    const starts = events.filter((e) => e.startsWith('start ')).map((e) => e.slice('start '.length));
    expect(starts).toEqual(sent);
  });

  it('holds messages until an async init has finished', async () => {
    const events: string[] = [];
    const pid = spawn((msg: string) => events.push(msg), {
      init: async () => {
        events.push('init start');
        await sleep(20);
        events.push('init end');
      },
    });
    send(pid, 'first');
    await sleep(5);
    send(pid, 'second');
    await vi.waitFor(() => expect(events).toHaveLength(4), { timeout: 5_000, interval: 5 });
    expect(events).toEqual(['init start', 'init end', 'first', 'second']);
  });
});

describe('slices', () => {
  it('a busy process yields to the next one after SLICE messages', async () => {
    const order: string[] = [];
    const a = spawn(() => order.push('a'));
    const b = spawn(() => order.push('b'));
    for (let i = 0; i < 2 * SLICE; i++) send(a, i);
    for (let i = 0; i < 2 * SLICE; i++) send(b, i);
    await idle();
    expect(order).toHaveLength(4 * SLICE);
    const runs: string[] = [];
    let count = 0;
    for (let i = 0; i < order.length; i++) {
      count++;
      if (order[i] !== order[i + 1]) {
        runs.push(`${order[i]}x${count}`);
        count = 0;
      }
    }
    expect(runs).toEqual([`ax${SLICE}`, `bx${SLICE}`, `ax${SLICE}`, `bx${SLICE}`]);
  });

  it('idle() resolves once every queued message of every process is handled', async () => {
    let handled = 0;
    const pids: Pid[] = [];
    for (let i = 0; i < 100; i++) pids.push(spawn(() => handled++));
    for (let round = 0; round < 100; round++) for (const pid of pids) send(pid, round);
    expect(handled).toBe(0);
    await idle();
    expect(handled).toBe(10_000);
    for (const pid of pids) expect(processInfo(pid)?.status).toBe('waiting');
  });

  it('idle() also waits for a callback still awaiting, and for the messages queued behind it', async () => {
    const log: string[] = [];
    const pid = spawn(async (msg: string) => {
      await sleep(30);
      await sleep(1);
      log.push(msg);
    });
    send(pid, 'a');
    send(pid, 'b');
    await idle();
    expect(log).toEqual(['a', 'b']);
    expect(processInfo(pid)?.status).toBe('waiting');
    exit(pid, 'kill');
  });

  it('idle() does not wait for the callback of a process killed while it awaited', async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const pid = spawn(async () => {
      started();
      await new Promise(() => undefined);
    });
    send(pid, 'go');
    await running;
    exit(pid, 'kill');
    await idle();
    expect(processInfo(pid)).toBeUndefined();
  });

  it('idle() does not wait for a process its own callback got killed before that callback returned a promise', async () => {
    const pid = spawn(async () => {
      const child = spawnLink(() => undefined);
      exit(child, 'boom'); // the link takes this process down at once
      await sleep(1);
    });
    send(pid, 'go');
    await idle();
    expect(processInfo(pid)).toBeUndefined();
    const later = spawn(async () => void (await sleep(1)));
    send(later, 'go');
    await idle();
    expect(processInfo(later)?.status).toBe('waiting');
    exit(later, 'kill');
  });

  it('idle() does not wait for a callback that crashed', async () => {
    const pid = spawn(async () => {
      await sleep(1);
      throw new Error('boom');
    });
    send(pid, 'go');
    await idle();
    expect(processInfo(pid)).toBeUndefined();
  });

  it('currentProc() is null outside processes', async () => {
    expect(currentProc()).toBeNull();
    let inside: unknown;
    const pid = spawn(() => {
      inside = currentProc()?.pid;
    });
    send(pid, 'go');
    await idle();
    expect(inside).toBe(pid);
    expect(currentProc()).toBeNull();
  });
});

describe('fairness: a busy process cannot starve timers or sockets', () => {
  let server: Server;
  let serverSide: Socket;
  let client: Socket;
  let onData: (queued: number) => void = () => {};
  let watched: Pid | undefined;

  beforeAll(async () => {
    server = createServer((s) => {
      serverSide = s;
      s.on('data', () => onData(watched === undefined ? -1 : (processInfo(watched)?.messageQueueLen ?? -1)));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('server has no port');
    client = createConnection({ port: address.port, host: '127.0.0.1' });
    await Promise.all([once(client, 'connect'), once(server, 'connection')]);
  });

  afterAll(async () => {
    client.destroy();
    serverSide.destroy();
    server.close();
    await once(server, 'close');
  });

  it('with a million queued messages, a timer fires and socket data is read while messages are still queued', async () => {
    const total = 1_000_000;
    let handled = 0;
    let timerSawQueued = -1;
    let socketSawQueued = -1;
    let handledAtTimer = -1;
    let handledAtSocket = -1;
    const pid = spawn((_msg: number) => {
      handled++;
      if (handled === 1) {
        // Armed from inside the first message: they can only run if the drain yields.
        setTimeout(() => {
          timerSawQueued = processInfo(pid)?.messageQueueLen ?? -1;
          handledAtTimer = handled;
        }, 1);
        client.write('ping');
      }
    });
    watched = pid;
    onData = (queued) => {
      if (socketSawQueued === -1) {
        socketSawQueued = queued;
        handledAtSocket = handled;
      }
    };
    for (let i = 0; i < total; i++) send(pid, i);
    expect(processInfo(pid)?.messageQueueLen).toBe(total);
    await vi.waitFor(() => expect(handled).toBe(total), { timeout: 15_000, interval: 10 });
    expect(timerSawQueued).toBeGreaterThan(0);
    expect(socketSawQueued).toBeGreaterThan(0);
    expect(handledAtTimer).toBeLessThan(total);
    expect(handledAtSocket).toBeLessThan(total);
    expect(timerSawQueued + handledAtTimer).toBe(total);
  });

  it('a process that keeps sending itself messages does not starve a timer or a socket', async () => {
    let spins = 0;
    let stop = false;
    let timerFired = false;
    let socketRead = false;
    let queuedWhenStopped = -1;
    const spinner = spawn((msg: string) => {
      if (msg === 'arm') {
        setTimeout(() => {
          timerFired = true;
        }, 5);
        client.write('ping');
      }
      spins++;
      if (!stop) send(self(), 'spin');
    });
    watched = spinner;
    onData = () => {
      socketRead = true;
    };
    send(spinner, 'arm');
    await vi.waitFor(
      () => {
        expect(timerFired && socketRead).toBe(true);
      },
      { timeout: 10_000, interval: 1 },
    );
    queuedWhenStopped = processInfo(spinner)?.messageQueueLen ?? -1;
    stop = true;
    await idle();
    expect(queuedWhenStopped).toBe(1);
    expect(spins).toBeGreaterThan(SLICE);
    exit(spinner, 'kill');
  });
});
