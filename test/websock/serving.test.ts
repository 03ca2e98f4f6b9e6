import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DynamicSupervisor } from '../../src/runtime/dynamic-supervisor.js';
import type { Pid } from '../../src/runtime/pid.js';
import { isAlive, processInfo } from '../../src/runtime/process.js';
import type { Frame } from '../../src/websock/behaviour.js';
import type { Connection } from '../../src/websock/connection.js';
import { normalizeOptions, type ConnectionOptions } from '../../src/websock/options.js';
import { Serving, handlerName } from '../../src/websock/serving.js';
import type { ConnectionMeta, Transport } from '../../src/websock/transport.js';
import type { UpgradeRequest } from '../../src/websock/upgrade-validation.js';
import { Recorder, scripted } from '../conformance/handlers.js';
import { exitReasonOf } from '../support/exits.js';

/**
 * A socket that finishes the closing handshake when told: `close()` records the
 * code, and `peerAnswers` (default true) makes the peer echo it at once, as a
 * well-behaved client does; `abort()` is the server cutting it.
 */
class Socket implements Transport {
  readonly closes: number[] = [];
  aborted = false;
  readonly compressed = false;
  conn: Connection<unknown> | undefined;

  constructor(
    private readonly serving: Serving<unknown, unknown>,
    private readonly peerAnswers = true,
  ) {}

  write(_frames: readonly Frame[]): void {}
  close(code: number): void {
    this.closes.push(code);
    if (this.peerAnswers) queueMicrotask(() => this.gone(true, code));
  }
  abort(): void {
    this.aborted = true;
    this.gone(false, 1006);
  }
  pause(): void {}
  resume(): void {}
  bufferedAmount(): number {
    return 0;
  }
  setMaxFrameSize(): void {}

  private gone(remote: boolean, code: number): void {
    const conn = this.conn as Connection<unknown>;
    conn.closed(remote, code, '');
    this.serving.ended(conn);
  }
}

const META: ConnectionMeta = { handlerName: 'Test', remoteAddress: '127.0.0.1', path: '/ws', protocol: undefined, server: 'test' };

function upgradeRequest(headers: Record<string, string> = {}, method = 'GET'): UpgradeRequest {
  return {
    method,
    httpVersion: '1.1',
    headers: { host: 'example.com', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13', ...headers },
  };
}

const servings: Serving<unknown, unknown>[] = [];
function serving(rec: Recorder, options: ConnectionOptions & { args?: unknown; maxConnections?: number } = {}): Serving<unknown, unknown> {
  const { args, maxConnections, ...connection } = options;
  const s = new Serving<unknown, unknown>({ server: 'test', handler: scripted(rec) as never, options: normalizeOptions(connection), args, maxConnections });
  servings.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servings.splice(0).map((s) => s.close(1_000)));
});

function start(s: Serving<unknown, unknown>, args: unknown = null, peerAnswers = true): { socket: Socket; conn: Connection<unknown> } {
  const socket = new Socket(s, peerAnswers);
  const conn = s.start(socket, META, args);
  socket.conn = conn;
  return { socket, conn };
}

async function childOf(sup: Pid, pid: Pid): Promise<void> {
  while (!(await DynamicSupervisor.whichChildren(sup)).some((c) => c.pid === pid)) await new Promise((r) => setTimeout(r, 5));
}

const upgrades: unknown[] = [];
const onUpgrade = (e: unknown): void => void upgrades.push(e);
beforeAll(() => subscribe('beamsock:upgrade', onUpgrade));
afterAll(() => unsubscribe('beamsock:upgrade', onUpgrade));
afterEach(() => {
  upgrades.length = 0;
});

describe('Serving.admit', () => {
  it('refuses an invalid upgrade with its status and reason, and publishes the refusal', () => {
    const s = serving(new Recorder());
    expect(s.admit(upgradeRequest({}, 'POST'), null, '/ws')).toEqual({ ok: false, status: 400, reason: 'HTTP method POST unsupported', headers: undefined });
    expect(upgrades).toEqual([{ server: 'test', path: '/ws', status: 400, reason: 'HTTP method POST unsupported' }]);
  });

  it("accepts with the chosen subprotocol and init's args: given ones first, else the args option, called with the server's request", () => {
    const fromRequest = serving(new Recorder(), { subprotocols: ['v2'], args: (req: unknown) => `args of ${String(req)}` });
    expect(fromRequest.admit(upgradeRequest({ 'sec-websocket-protocol': 'v1, v2' }), 'request 1', '/ws')).toEqual({ ok: true, protocol: 'v2', args: 'args of request 1' });
    expect(fromRequest.admit(upgradeRequest(), 'request 2', '/ws', 'given')).toEqual({ ok: true, protocol: undefined, args: 'given' });
    expect(serving(new Recorder(), { args: 42 }).admit(upgradeRequest(), null, '/ws')).toMatchObject({ ok: true, args: 42 });
    expect(upgrades).toEqual([]);
  });

  it('answers 500 with the error when an application function throws, publishing its message', () => {
    const boom = new Error('session store down');
    const s = serving(new Recorder(), {
      args: () => {
        throw boom;
      },
    });
    expect(s.admit(upgradeRequest(), null, '/ws')).toEqual({ ok: false, status: 500, reason: 'internal server error while upgrading', error: boom });
    expect(upgrades).toEqual([{ server: 'test', path: '/ws', status: 500, reason: 'session store down' }]);
  });

  it('refuses every upgrade with 503 once close() was called', async () => {
    const s = serving(new Recorder());
    const closing = s.close();
    expect(s.admit(upgradeRequest(), null, '/ws')).toMatchObject({ ok: false, status: 503, reason: 'the server is shutting down' });
    await closing;
  });

  it("names a bad maxConnections when it is made", () => {
    expect(() => serving(new Recorder(), { maxConnections: -1 })).toThrow("option 'maxConnections' must be a positive integer or Infinity, got -1");
  });
});

describe('Serving.start', () => {
  it('starts the connection under its own supervisor, publishes the upgrade and lists it until its socket is gone', async () => {
    const rec = new Recorder();
    const s = serving(rec);
    const { socket, conn } = start(s, 'hello');
    expect((await rec.nth('init', 0)).input).toBe('hello');
    const sup = await s.supervisor;
    await childOf(sup, conn.pid);
    expect(processInfo(conn.pid)?.parent).toBe(sup);
    expect(s.connections()).toEqual([conn.pid]);
    expect(upgrades).toEqual([{ server: 'test', path: '/ws', status: 101 }]);
    conn.closed(true, 1000, '');
    s.ended(conn);
    expect(s.connections()).toEqual([]);
    await exitReasonOf(conn.pid);
    expect(socket.aborted).toBe(false);
  });

  it('closes a connection over maxConnections with 1013', async () => {
    const rec = new Recorder();
    const s = serving(rec, { maxConnections: 1 });
    const first = start(s);
    await childOf(await s.supervisor, first.conn.pid);
    const second = start(s);
    expect((await rec.terminated(second.conn.pid)).reason).toEqual({ error: 'max_children' });
    expect(second.socket.closes).toEqual([1013]);
  });
});

describe('Serving.close', () => {
  it('closes every connection with 1001 and resolves as soon as their sockets are gone, not at its timeout', async () => {
    const rec = new Recorder();
    const s = serving(rec);
    const conns = [start(s), start(s)];
    await Promise.all(conns.map(async ({ conn }) => childOf(await s.supervisor, conn.pid)));
    const sup = await s.supervisor;
    const t0 = performance.now();
    await s.close(60_000);
    expect(performance.now() - t0).toBeLessThan(30_000);
    for (const { socket, conn } of conns) {
      expect(socket.closes).toEqual([1001]);
      expect(socket.aborted).toBe(false);
      expect((await rec.terminated(conn.pid)).reason).toBe('shutdown');
    }
    expect(isAlive(sup)).toBe(false);
    expect(s.connections()).toEqual([]);
  });

  it('cuts a socket whose peer never answers the close, after timeoutMs', async () => {
    const rec = new Recorder();
    const s = serving(rec);
    const { socket, conn } = start(s, null, false);
    await childOf(await s.supervisor, conn.pid);
    await s.close(100);
    expect(socket.closes).toEqual([1001]);
    expect(socket.aborted).toBe(true);
    expect(isAlive(conn.pid)).toBe(false);
  });

  it('leaves no timer behind once it resolved', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const s = serving(new Recorder());
    const { conn } = start(s);
    await childOf(await s.supervisor, conn.pid);
    const before = timers();
    await s.close(60_000);
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('shuts down at once a connection admitted before close() but started after it (1001, terminate shutdown)', async () => {
    const rec = new Recorder();
    const s = serving(rec);
    expect(s.admit(upgradeRequest(), null, '/ws')).toMatchObject({ ok: true });
    await s.close();
    const { socket, conn } = start(s);
    expect((await rec.terminated(conn.pid)).reason).toBe('shutdown');
    expect(socket.closes).toEqual([1001]);
    expect(isAlive(conn.pid)).toBe(false);
  });

  it('returns the same promise to every call', () => {
    const s = serving(new Recorder());
    expect(s.close()).toBe(s.close(5));
  });
});

describe('a shared Serving (upgrade())', () => {
  it('puts connections under beamsock.connections, and under a new one once that was stopped', async () => {
    const rec = new Recorder();
    const s = new Serving<unknown, unknown>({ server: 'test', handler: scripted(rec) as never, options: normalizeOptions({}), shared: true });
    const first = start(s);
    const sup1 = await s.supervisor;
    await childOf(sup1, first.conn.pid);
    await DynamicSupervisor.stop(sup1);
    expect(first.socket.closes).toEqual([1001]);
    const second = start(s);
    const sup2 = await s.supervisor;
    expect(sup2).not.toBe(sup1);
    expect(isAlive(sup2)).toBe(true);
    await childOf(sup2, second.conn.pid);
    expect(processInfo(second.conn.pid)?.parent).toBe(sup2);
    expect(s.connections()).toEqual([]);
    await DynamicSupervisor.stop(sup2);
  });
});

describe('handlerName', () => {
  it("names a handler by its own name field, then its class, else 'WebSock'", () => {
    class Lobby {}
    expect(handlerName({ name: 'ChatServer' })).toBe('ChatServer');
    expect(handlerName(new Lobby())).toBe('Lobby');
    expect(handlerName({})).toBe('WebSock');
  });
});
