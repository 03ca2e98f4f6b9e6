/**
 * The WebSock conformance suite: what every beamsock server adapter must do, over
 * real sockets on 127.0.0.1 with a real client. An adapter's test file runs it:
 *
 *   conformance({ name: 'ws', start: (handler, opts) => serve(handler, { ...opts, port: 0 }) });
 *
 * It covers every result shape from every callback, every row of the closing
 * table, every upgrade validation message, every connection option, Cowboy's
 * connection commands and the telemetry channels. It uses only describe/it/
 * expect/beforeAll/afterAll, node:net, node:http, node:diagnostics_channel and
 * the `ws` client, so it runs under other runtimes too.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pid } from '../../src/runtime/pid.js';
import {
  exit,
  hibernate,
  isAlive,
  monitor,
  processInfo,
  self,
  send,
  sendAfter,
  spawn,
  spawnLink,
} from '../../src/runtime/process.js';
import { isDown, isExit, type ExitReason } from '../../src/runtime/reasons.js';
import { setLogger, type Logger, type Report } from '../../src/runtime/logger.js';
import { Registry } from '../../src/runtime/registry.js';
import { PubSub } from '../../src/runtime/pubsub.js';
import { ok, push, reply, stop, type CloseReason, type HandleResult, type WebSock } from '../../src/websock/behaviour.js';
import { setActive, setConnectionOptions, setDeflate, setShutdownReason } from '../../src/websock/commands.js';
import type { ConnectionOptions } from '../../src/websock/options.js';
import {
  hostOf,
  inflateMessage,
  clientFrame,
  closePayload,
  Op,
  RawWebSocket,
  rawRequest,
  TestClient,
  within,
  type ConnectOptions,
  type UpgradeSpec,
} from './client.js';
import { gate, inside, pushMessage, Recorder, runIn, scripted, sleep, type Result, type Script, type State } from './handlers.js';

/** What `start` returns: a listening server hosting one handler. */
export interface StartedServer {
  /** `ws://127.0.0.1:port` */
  readonly url: string;
  readonly port: number;
  /** Pids of the live connections. */
  connections(): Pid[];
  /** Graceful shutdown: 1001 to every connection, wait up to `ms` (default: the shutdownTimeout option). */
  close(ms?: number): Promise<void>;
}

/** Connection options plus the value `init` receives. */
export type StartOptions = ConnectionOptions & { readonly args?: unknown };

/** A server adapter as the suite drives it. */
export interface AdapterUnderTest {
  readonly name: string;
  /** Listens on 127.0.0.1 on a free port; rejects (before listening) for invalid options. */
  start(handler: WebSock<State>, options: StartOptions): Promise<StartedServer>;
  /**
   * Where this server cannot behave as the suite expects, and why (the README lists
   * these): the suite then asserts what the server does instead.
   */
  readonly quirks?: Quirks;
}

/** Known, documented differences of a server; each value is the reason. */
export interface Quirks {
  /** The server upgrades HTTP/1.0 requests (it cannot see the HTTP version). */
  readonly upgradesHttp10?: string;
  /** The server's own HTTP parser refuses a request without Host (400, its own body) before beamsock sees it. */
  readonly refusesHostlessItself?: string;
  /** The server always validates UTF-8, so `validateUtf8: false` is refused at start-up. */
  readonly alwaysValidatesUtf8?: string;
  /** The server shows whole messages only, so the bytes of one still arriving do not reset the idle clock. */
  readonly idleSeesMessagesOnly?: string;
  /** The server answers a close frame or a protocol error as it reads it, before the replies to messages read with it. */
  readonly answersCloseAtOnce?: string;
}

const CHANNELS = ['beamsock:upgrade', 'beamsock:connection:start', 'beamsock:connection:stop', 'beamsock:connection:crash'] as const;
type ChannelName = (typeof CHANNELS)[number];
type Published = Record<string, unknown>;

/** Polls `cond` until it holds. */
async function waitUntil(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await sleep(5);
  }
}

/** The error inside a `{ error }` close reason. */
function errorOf(reason: CloseReason | ExitReason): unknown {
  expect(reason).toBeTypeOf('object');
  expect(reason).toHaveProperty('error');
  return (reason as { error: unknown }).error;
}

/** The servers and clients of one test, all torn down when it ends. */
class Session {
  private readonly servers: StartedServer[] = [];
  private readonly clients: TestClient[] = [];
  private readonly raws: RawWebSocket[] = [];

  constructor(private readonly adapter: AdapterUnderTest) {}

  async start(handler: WebSock<State>, options: StartOptions = {}): Promise<StartedServer> {
    const server = await this.adapter.start(handler, options);
    this.servers.push(server);
    return server;
  }

  /** A ws client, connected. */
  async connect(server: StartedServer, opts?: ConnectOptions): Promise<TestClient> {
    const c = this.client(server, opts);
    await within(c.opened, 'the WebSocket handshake');
    return c;
  }

  /** A ws client, handshake under way. */
  client(server: StartedServer, opts?: ConnectOptions): TestClient {
    const c = new TestClient(server.url, opts);
    this.clients.push(c);
    return c;
  }

  /** A raw client, past the handshake. */
  async raw(server: StartedServer, spec?: UpgradeSpec): Promise<RawWebSocket> {
    const r = await RawWebSocket.open(server.url, spec);
    this.raws.push(r);
    return r;
  }

  async dispose(): Promise<void> {
    for (const c of this.clients) c.ws.terminate();
    for (const r of this.raws) r.destroy();
    await Promise.all(this.servers.map((s) => s.close(1_000)));
  }
}

/**
 * Registers the conformance suite for `adapter`.
 *
 * @example
 * conformance({ name: 'ws', start: (h, o) => serve(h, { ...o, port: 0 }) });
 */
export function conformance(adapter: AdapterUnderTest): void {
  const reports: Report[] = [];
  const published: Record<ChannelName, Published[]> = {
    'beamsock:upgrade': [],
    'beamsock:connection:start': [],
    'beamsock:connection:stop': [],
    'beamsock:connection:crash': [],
  };
  const listeners = CHANNELS.map((name) => [name, (msg: unknown) => published[name].push(msg as Published)] as const);
  let previousLogger: Logger;

  /** Runs `fn` with a fresh session, tearing it down afterwards whatever happens. */
  const test = (name: string, fn: (s: Session) => Promise<void>, timeoutMs = 15_000): void => {
    it(
      name,
      async () => {
        const session = new Session(adapter);
        try {
          await fn(session);
        } finally {
          await session.dispose();
        }
      },
      timeoutMs,
    );
  };

  const reportsFor = (pid: Pid, kind: Report['kind']): Report[] =>
    reports.filter((r) => r.kind === kind && 'pid' in r && r.pid === pid);
  const eventsFor = (name: ChannelName, pid: Pid): Published[] => published[name].filter((e) => e['pid'] === pid);

  describe(`WebSock conformance: ${adapter.name}`, () => {
    beforeAll(() => {
      previousLogger = setLogger((r) => reports.push(r));
      for (const [name, fn] of listeners) subscribe(name, fn);
    });
    afterAll(() => {
      setLogger(previousLogger);
      for (const [name, fn] of listeners) unsubscribe(name, fn);
    });

    describeResults(test);
    describeClosing(test, reportsFor, adapter.quirks ?? {});
    describeProcesses(test);
    describeValidation(test, adapter.quirks ?? {});
    describeOptions(test, reportsFor, adapter.quirks ?? {});
    describeCommands(test);
    describeTelemetry(test, eventsFor, published);
  });
}

type TestFn = (name: string, fn: (s: Session) => Promise<void>, timeoutMs?: number) => void;
type Trigger = 'init' | 'handleIn' | 'handleControl' | 'handleInfo';

/** A callback result and what the client must see because of it. */
interface Shape {
  readonly name: string;
  result(state: State): HandleResult<State>;
  check(client: TestClient, rec: Recorder, pid: Pid): Promise<void>;
}

const dataFrames = (c: TestClient): unknown[] => c.events.filter((e) => e.type === 'text' || e.type === 'binary');

const SHAPES: readonly Shape[] = [
  {
    name: 'push of one frame sends it',
    result: (s) => push(['text', 'one'], s),
    check: async (c) => {
      expect(await c.text()).toBe('one');
    },
  },
  {
    name: 'push of a list sends every frame in order',
    result: (s) => push([['text', 'a'], ['binary', Buffer.from([1, 2, 3])], ['text', 'c']], s),
    check: async (c) => {
      await c.next('text');
      await c.next('binary');
      await c.next('text');
      expect(dataFrames(c)).toEqual([
        { type: 'text', data: 'a' },
        { type: 'binary', data: Buffer.from([1, 2, 3]) },
        { type: 'text', data: 'c' },
      ]);
    },
  },
  {
    name: 'reply sends its frames and ignores its term',
    result: (s) => reply({ ignored: true }, [['text', 'r1'], ['text', 'r2']], s),
    check: async (c) => {
      expect([await c.text(), await c.text()]).toEqual(['r1', 'r2']);
    },
  },
  {
    name: 'ok sends nothing and keeps the connection open',
    result: (s) => ok(s),
    check: async (c, _rec, pid) => {
      send(pid, pushMessage(['text', 'after']));
      expect(await c.text()).toBe('after');
      expect(dataFrames(c)).toEqual([{ type: 'text', data: 'after' }]);
      expect(c.isOpen).toBe(true);
    },
  },
  {
    name: "stop('normal') closes with 1000 and terminate sees normal",
    result: (s) => stop('normal', s),
    check: async (c, rec) => {
      expect((await c.closeSeen()).code).toBe(1000);
      expect((await rec.terminated()).reason).toBe('normal');
    },
  },
  {
    name: 'stop with a close code sends that code',
    result: (s) => stop('normal', { code: 4001 }, s),
    check: async (c, rec) => {
      expect(await c.closeSeen()).toEqual({ code: 4001, reason: '' });
      expect((await rec.terminated()).reason).toBe('normal');
    },
  },
  {
    name: 'stop with { code, reason } sends both',
    result: (s) => stop('normal', { code: 4002, reason: 'bye' }, s),
    check: async (c, rec) => {
      expect(await c.closeSeen()).toEqual({ code: 4002, reason: 'bye' });
      expect((await rec.terminated()).info.sentCode).toBe(4002);
    },
  },
  {
    name: 'stop with [code, null] sends the code alone',
    result: (s) => stop('normal', { code: 4004, reason: null }, s),
    check: async (c) => {
      expect(await c.closeSeen()).toEqual({ code: 4004, reason: '' });
    },
  },
  {
    name: 'stop with a code and frames sends the frames before the close',
    result: (s) => stop('normal', { code: 4003 }, [['text', 'last'], ['binary', new Uint8Array([9])]], s),
    check: async (c) => {
      expect(await c.closeSeen()).toEqual({ code: 4003, reason: '' });
      expect(dataFrames(c)).toEqual([
        { type: 'text', data: 'last' },
        { type: 'binary', data: Buffer.from([9]) },
      ]);
    },
  },
];

/** A handler whose `trigger` callback returns `shape`'s result (after an await when `async`) on 'go'. */
function shapeHandler(rec: Recorder, trigger: Trigger, shape: Shape, async: boolean): WebSock<State> {
  const result = (state: State): Result => (async ? sleep(2).then(() => shape.result(state)) : shape.result(state));
  const script: Script = {};
  switch (trigger) {
    case 'init':
      script.init = () => result(null);
      break;
    case 'handleIn':
      script.handleIn = ([data, { opcode }], s) => (data === 'go' ? result(s) : push([opcode, data], s));
      break;
    case 'handleControl':
      script.handleControl = ([data, { opcode }], s) => (opcode === 'ping' && data.toString() === 'go' ? result(s) : ok(s));
      break;
    case 'handleInfo':
      script.handleInfo = (msg, s) => (msg === 'go' ? result(s) : ok(s));
      break;
  }
  return scripted(rec, script);
}

function fire(trigger: Trigger, client: TestClient, pid: Pid): void {
  switch (trigger) {
    case 'init':
      return;
    case 'handleIn':
      client.send('go');
      return;
    case 'handleControl':
      client.ws.ping('go');
      return;
    case 'handleInfo':
      send(pid, 'go');
      return;
  }
}

function describeResults(test: TestFn): void {
  describe('results', () => {
    for (const trigger of ['init', 'handleIn', 'handleControl', 'handleInfo'] as const) {
      for (const async of [false, true]) {
        describe(`from ${trigger}${async ? ' (returning a promise)' : ''}`, () => {
          for (const shape of SHAPES) {
            test(shape.name, async (s) => {
              const rec = new Recorder();
              const server = await s.start(shapeHandler(rec, trigger, shape, async));
              const client = await s.connect(server);
              const pid = await rec.pid();
              fire(trigger, client, pid);
              await shape.check(client, rec, pid);
            });
          }
        });
      }
    }

    test('frames of every opcode go out with string, bytes and null payloads', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec));
      const client = await s.connect(server);
      send(
        await rec.pid(),
        pushMessage([
          ['text', 'str'],
          ['text', new Uint8Array(Buffer.from('bytes'))],
          ['text', null],
          ['binary', Buffer.from('buf')],
          ['binary', 'from a string'],
          ['binary', null],
          ['ping', 'p'],
          ['ping', null],
          ['pong', new Uint8Array([7])],
          ['pong', null],
        ]),
      );
      const got = await client.received(10);
      expect(got.map((e) => [e.type, e.data.toString()])).toEqual([
        ['text', 'str'],
        ['text', 'bytes'],
        ['text', ''],
        ['binary', 'buf'],
        ['binary', 'from a string'],
        ['binary', ''],
        ['ping', 'p'],
        ['ping', ''],
        ['pong', '\u0007'],
        ['pong', ''],
      ]);
    });

    test('handleIn gets text as a string and binary as a Buffer', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec));
      const client = await s.connect(server);
      client.send('héllo');
      client.send(Buffer.from([0, 255]));
      await rec.nth('handleIn', 1);
      const [text, binary] = rec.of('handleIn').map((c) => c.input as [unknown, { opcode: string }]);
      expect(text).toEqual(['héllo', { opcode: 'text' }]);
      expect(Buffer.isBuffer(binary?.[0])).toBe(true);
      expect(binary).toEqual([Buffer.from([0, 255]), { opcode: 'binary' }]);
    });

    test('handleControl gets pings and pongs, and the pong to a ping goes out before it runs', async (s) => {
      const rec = new Recorder();
      const server = await s.start(
        scripted(rec, { handleControl: ([data, { opcode }], st) => push(['text', `${opcode}:${data.toString()}`], st) }),
      );
      const client = await s.connect(server);
      client.ws.ping('p1');
      expect(await client.text()).toBe('ping:p1');
      client.ws.pong('p2');
      expect(await client.text()).toBe('pong:p2');
      expect(client.events.map((e) => e.type)).toEqual(['pong', 'text', 'text']);
      expect((await client.next('pong')).data.toString()).toBe('p1');
      const inputs = rec.of('handleControl').map((c) => c.input as [Buffer, { opcode: string }]);
      expect(inputs.map(([d, m]) => [Buffer.isBuffer(d), d.toString(), m.opcode])).toEqual([
        [true, 'p1', 'ping'],
        [true, 'p2', 'pong'],
      ]);
    });

    test('handleControl is optional: pings are still answered and the connection goes on', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec, {}, { handleControl: true }));
      const client = await s.connect(server);
      client.ws.ping('still there?');
      expect((await client.next('pong')).data.toString()).toBe('still there?');
      client.ws.pong('unasked');
      client.send('echo');
      expect(await client.text()).toBe('echo');
    });

    test('terminate is optional: stops and crashes still close the connection', async (s) => {
      const rec = new Recorder();
      const server = await s.start(
        scripted(
          rec,
          {
            handleIn: ([data], st) => {
              if (data === 'crash') throw new Error('no terminate to tell');
              return stop('normal', st);
            },
          },
          { terminate: true },
        ),
      );
      const a = await s.connect(server);
      a.send('bye');
      expect((await a.closeSeen()).code).toBe(1000);
      const b = await s.connect(server);
      b.send('crash');
      expect((await b.closeSeen()).code).toBe(1011);
    });

    test('self() is the connection pid in every callback, also after an await', async (s) => {
      const seen: [string, Pid, Pid][] = [];
      const both = async (name: string): Promise<void> => {
        const before = self();
        await sleep(2);
        seen.push([name, before, self()]);
      };
      const handler: WebSock<null> = {
        init: async () => {
          await both('init');
          return ok(null);
        },
        handleIn: async ([data], st) => {
          await both('handleIn');
          return data === 'stop' ? stop('normal', st) : ok(st);
        },
        handleControl: async (_f, st) => {
          await both('handleControl');
          return ok(st);
        },
        handleInfo: async (_m, st) => {
          await both('handleInfo');
          return ok(st);
        },
        terminate: async () => {
          await both('terminate');
        },
      };
      const server = await s.start(handler as WebSock<State>);
      const client = await s.connect(server);
      await waitUntil(() => seen.length === 1, 'init ran');
      const pid = seen[0]?.[1] as Pid;
      expect(server.connections()).toEqual([pid]);
      client.ws.ping();
      await waitUntil(() => seen.length === 2, 'handleControl ran');
      send(pid, 'info');
      await waitUntil(() => seen.length === 3, 'handleInfo ran');
      client.send('stop');
      await client.closeSeen();
      await waitUntil(() => seen.length === 5, 'handleIn and terminate ran');
      expect(seen.map(([name]) => name)).toEqual(['init', 'handleControl', 'handleInfo', 'handleIn', 'terminate']);
      for (const [, before, after] of seen) {
        expect(before).toBe(pid);
        expect(after).toBe(pid);
      }
    });

    test('a callback waiting on a promise holds back the next message until it settles', async (s) => {
      const rec = new Recorder();
      const g = gate();
      const server = await s.start(
        scripted(rec, {
          handleIn: async ([data, { opcode }], st) => {
            if (data === 'first') await g.promise;
            return push([opcode, data], st);
          },
        }),
      );
      const client = await s.connect(server);
      const pid = await rec.pid();
      client.send('first');
      await rec.nth('handleIn', 0);
      client.send('second');
      send(pid, pushMessage(['text', 'info']));
      await sleep(100);
      expect(rec.count('handleIn')).toBe(1);
      expect(rec.count('handleInfo')).toBe(0);
      expect(client.events).toEqual([]);
      g.open();
      const got = [await client.text(), await client.text(), await client.text()];
      expect(got[0]).toBe('first');
      expect(new Set(got)).toEqual(new Set(['first', 'second', 'info']));
    });

    test('a result that is not a WebSock result closes with 1011 and says what was expected', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec, { handleIn: () => ({ type: 'push' }) as unknown as HandleResult<State> }));
      const client = await s.connect(server);
      client.send('x');
      expect((await client.closeSeen()).code).toBe(1011);
      const err = errorOf((await rec.terminated()).reason);
      expect(err).toBeInstanceOf(TypeError);
    });

    test('an ill-formed frame in a push closes with 1011 naming the bad opcode', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec, { handleIn: (_f, st) => push(['close', 'x'] as never, st) }));
      const client = await s.connect(server);
      client.send('x');
      expect((await client.closeSeen()).code).toBe(1011);
      expect(String(errorOf((await rec.terminated()).reason))).toMatch(/opcode.*"close"/);
    });
  });
}

function describeClosing(test: TestFn, reportsFor: (pid: Pid, kind: Report['kind']) => Report[], quirks: Quirks): void {
  describe('the closing table', () => {
    const table: readonly [string, ExitReason, number, CloseReason][] = [
      ["stop('normal')", 'normal', 1000, 'normal'],
      ["stop({ shutdown: 'restart' })", { shutdown: 'restart' }, 1012, 'normal'],
      ["stop({ shutdown: 'disconnected' })", { shutdown: 'disconnected' }, 1000, 'normal'],
      ["stop('boom')", 'boom', 1011, { error: 'boom' }],
      ["stop({ shutdown: 'other' })", { shutdown: 'other' }, 1011, { error: { shutdown: 'other' } }],
      ["stop('shutdown')", 'shutdown', 1011, { error: 'shutdown' }],
    ];
    for (const [name, reason, code, terminateReason] of table) {
      test(`${name} closes with ${code} and terminate sees ${JSON.stringify(terminateReason)}`, async (s) => {
        const rec = new Recorder();
        const server = await s.start(scripted(rec, { handleIn: (_f, st) => stop(reason, st) }));
        const client = await s.connect(server);
        client.send('stop');
        expect((await client.closeSeen()).code).toBe(code);
        const t = await rec.terminated();
        expect(t.reason).toEqual(terminateReason);
        expect(t.info).toEqual({ remoteCode: undefined, remoteReason: undefined, sentCode: code });
      });
    }

    test('a close detail overrides the code of any reason, and terminate still sees the reason', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec, { handleIn: (_f, st) => stop('boom', { code: 4000, reason: 'custom' }, st) }));
      const client = await s.connect(server);
      client.send('stop');
      expect(await client.closeSeen()).toEqual({ code: 4000, reason: 'custom' });
      expect((await rec.terminated()).reason).toEqual({ error: 'boom' });
    });

    test('a close reason given as bytes is sent as is', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec, { handleIn: (_f, st) => stop('normal', { code: 1000, reason: Buffer.from('über') }, st) }));
      const client = await s.connect(server);
      client.send('stop');
      expect(await client.closeSeen()).toEqual({ code: 1000, reason: 'über' });
    });

    for (const [what, detail, message] of [
      ['code 999', { code: 999 }, /close code 999/],
      ['code 1005 (never sent)', { code: 1005 }, /close code 1005/],
      ['a reason over 123 bytes', { code: 4000, reason: 'x'.repeat(124) }, /123/],
    ] as const) {
      test(`a stop with ${what} closes with 1011 and terminate gets the error, not a wire violation`, async (s) => {
        const rec = new Recorder();
        const server = await s.start(scripted(rec, { handleIn: (_f, st) => stop('normal', detail, st) }));
        const client = await s.connect(server);
        client.send('stop');
        expect((await client.closeSeen()).code).toBe(1011);
        const err = errorOf((await rec.terminated()).reason);
        expect(err).toBeInstanceOf(Error);
        expect((err as Error).message).toMatch(message);
      });
    }

    for (const callback of ['init', 'handleIn', 'handleControl', 'handleInfo'] as const) {
      for (const mode of ['throws', 'rejects'] as const) {
        const title =
          callback === 'init'
            ? `init that ${mode} closes its connection with 1011, reports one crash, runs no terminate (there is no state) and leaves others alone`
            : `${callback} that ${mode} closes its connection with 1011, reports one crash and leaves others alone`;
        test(title, async (s) => {
          const rec = new Recorder();
          const message = `boom in ${callback}`;
          const fail = (): Result => {
            if (mode === 'throws') throw new Error(message);
            return sleep(2).then(() => Promise.reject(new Error(message)));
          };
          let crashInit = false;
          const server = await s.start(
            scripted(rec, {
              init: (args) => (crashInit ? fail() : ok(args ?? null)),
              handleIn: ([data, { opcode }], st) => (data === 'crash' ? fail() : push([opcode, data], st)),
              handleControl: ([data], st) => (data.toString() === 'crash' ? fail() : ok(st)),
              handleInfo: (msg, st) => (msg === 'crash' ? fail() : ok(st)),
            }),
          );
          const bystander = await s.connect(server);
          const bystanderPid = await rec.pid(0);
          crashInit = callback === 'init';
          const victim = s.client(server);
          const victimPid = await rec.pid(1);
          if (callback !== 'init') await within(victim.opened, 'the handshake');
          if (callback === 'handleIn') victim.send('crash');
          if (callback === 'handleControl') victim.ws.ping('crash');
          if (callback === 'handleInfo') send(victimPid, 'crash');
          expect((await victim.closeSeen()).code).toBe(1011);
          if (callback !== 'init') {
            const t = await rec.terminated(victimPid);
            expect((errorOf(t.reason) as Error).message).toBe(message);
            expect(t.info.sentCode).toBe(1011);
          }
          await waitUntil(() => !isAlive(victimPid), 'the crashed connection exited');
          expect(reportsFor(victimPid, 'crash')).toHaveLength(1);
          expect((reportsFor(victimPid, 'crash')[0] as { reason: unknown }).reason).toMatchObject({ error: { message } });
          expect(rec.count('terminate', victimPid)).toBe(callback === 'init' ? 0 : 1);
          bystander.send('still here');
          expect(await bystander.text()).toBe('still here');
          expect(rec.count('terminate', bystanderPid)).toBe(0);
          expect(server.connections()).toEqual([bystanderPid]);
        });
      }
    }

    test('terminate runs at most once, however many endings race', async (s) => {
      const rec = new Recorder();
      const server = await s.start(
        scripted(rec, {
          handleIn: (_f, st) => stop('normal', st),
          terminate: async () => {
            await sleep(20);
          },
        }),
      );
      const client = await s.connect(server);
      const pid = await rec.pid();
      client.send('stop');
      client.ws.close(4000);
      send(pid, 'late');
      await rec.terminated();
      await server.close(2_000);
      await waitUntil(() => !isAlive(pid), 'the connection exited');
      await sleep(20);
      expect(rec.count('terminate')).toBe(1);
    });

    test('a terminate that throws is still run only once and the socket still closes', async (s) => {
      const rec = new Recorder();
      const server = await s.start(
        scripted(rec, {
          handleIn: (_f, st) => stop('normal', st),
          terminate: () => {
            throw new Error('terminate failed');
          },
        }),
      );
      const client = await s.connect(server);
      const pid = await rec.pid();
      client.send('stop');
      expect((await client.closeSeen()).code).toBe(1000);
      await waitUntil(() => !isAlive(pid), 'the connection exited');
      expect(rec.count('terminate')).toBe(1);
    });

    test('a peer close is echoed with its code, and terminate sees remote with the peer code and reason', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec));
      const client = await s.connect(server);
      client.ws.close(4000, 'client leaving');
      expect((await client.closeSeen()).code).toBe(4000);
      const t = await rec.terminated();
      expect(t.reason).toBe('remote');
      expect(t.info).toMatchObject({ remoteCode: 4000, remoteReason: 'client leaving' });
    });

    for (const [what, last, code, reason] of [
      ['a close frame', clientFrame(Op.CLOSE, closePayload(4000, 'bye')), 4000, 'remote'],
      ['a frame with RSV2 set (a protocol error)', clientFrame(Op.TEXT, 'x', { rsv: 2 }), 1002, 'error'],
      ['a reserved opcode (a protocol error)', clientFrame(0x3, 'x'), 1002, 'error'],
    ] as const) {
      test(`"hello" and ${what} in one read: the reply goes out before the close frame`, async (s) => {
        const rec = new Recorder();
        const server = await s.start(scripted(rec));
        const raw = await s.raw(server);
        await rec.pid();
        raw.writeBytes(Buffer.concat([clientFrame(Op.TEXT, 'hello'), last]));
        const first = await raw.nextFrame();
        const t = await rec.terminated();
        expect(rec.count('handleIn')).toBe(1);
        if (reason === 'remote') expect(t.reason).toBe('remote');
        else expect(errorOf(t.reason)).toBeInstanceOf(Error);
        if (quirks.answersCloseAtOnce !== undefined) {
          // Known difference: ${quirks.answersCloseAtOnce}
          expect([first.opcode, first.payload.readUInt16BE(0)]).toEqual([Op.CLOSE, code]);
          return;
        }
        expect([first.opcode, first.payload.toString()]).toEqual([Op.TEXT, 'hello']);
        expect((await raw.closeFrame()).code).toBe(code);
      });
    }

    test('a peer close without a code is echoed without one, and terminate sees 1005', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec));
      const raw = await s.raw(server);
      raw.sendClose();
      expect(await raw.closeFrame()).toEqual({ code: 1005, reason: '' });
      const t = await rec.terminated();
      expect(t.reason).toBe('remote');
      expect(t.info).toMatchObject({ remoteCode: 1005 });
    });

    test("a dropped TCP connection ends with terminate({ error: 'closed' }) and no close code sent", async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec));
      const raw = await s.raw(server);
      await rec.pid();
      raw.destroy();
      const t = await rec.terminated();
      expect(t.reason).toEqual({ error: 'closed' });
      expect(t.info).toEqual({ remoteCode: undefined, remoteReason: undefined, sentCode: undefined });
    });

    test("an idle connection closes with 1000 and terminate sees 'timeout'", async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec), { timeout: 150 });
      const client = await s.connect(server);
      expect(await client.closeSeen()).toEqual({ code: 1000, reason: '' });
      const t = await rec.terminated();
      expect(t.reason).toBe('timeout');
      expect(t.info.sentCode).toBe(1000);
    });

    test('inbound data resets the idle clock', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec), { timeout: 500 });
      const client = await s.connect(server);
      for (let i = 0; i < 24; i++) {
        client.send(`keepalive ${i}`);
        await sleep(50);
      }
      // 1200 ms of traffic, more than twice the timeout: still open.
      expect(client.isOpen).toBe(true);
      expect(rec.count('terminate')).toBe(0);
      expect((await rec.terminated(undefined, 5_000)).reason).toBe('timeout');
    });

    test('pings from the peer reset the idle clock too', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec), { timeout: 500 });
      const client = await s.connect(server);
      for (let i = 0; i < 24; i++) {
        client.ws.ping();
        await sleep(50);
      }
      expect(client.isOpen).toBe(true);
      expect((await rec.terminated(undefined, 5_000)).reason).toBe('timeout');
    });

    test('the bytes of one frame still arriving reset the idle clock: a slow upload is not idle', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec), { timeout: 500 });
      const raw = await s.raw(server);
      await rec.pid();
      const frame = clientFrame(Op.BINARY, Buffer.alloc(24 * 1024, 7));
      const piece = Math.ceil(frame.length / 24);
      // 24 pieces 50 ms apart: 1,200 ms of upload, more than twice the timeout.
      for (let at = 0; at < frame.length && rec.count('terminate') === 0; at += piece) {
        raw.writeBytes(frame.subarray(at, at + piece));
        await sleep(50);
      }
      if (quirks.idleSeesMessagesOnly !== undefined) {
        // Known difference: ${quirks.idleSeesMessagesOnly}
        expect((await rec.terminated()).reason).toBe('timeout');
        return;
      }
      const echoed = await raw.nextFrame();
      expect([echoed.opcode, echoed.payload.length]).toEqual([Op.BINARY, 24 * 1024]);
      expect(rec.count('terminate')).toBe(0);
    });

    test('fragments of a message still arriving reset the idle clock', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec), { timeout: 500 });
      const raw = await s.raw(server);
      await rec.pid();
      for (let i = 0; i < 24 && rec.count('terminate') === 0; i++) {
        raw.send(i === 0 ? Op.TEXT : Op.CONTINUATION, `${i},`, { fin: false });
        await sleep(50);
      }
      if (quirks.idleSeesMessagesOnly !== undefined) {
        // Known difference: ${quirks.idleSeesMessagesOnly}
        expect((await rec.terminated()).reason).toBe('timeout');
        return;
      }
      raw.send(Op.CONTINUATION, 'end');
      const echoed = await raw.nextFrame();
      expect(echoed.payload.toString()).toBe(`${Array.from({ length: 24 }, (_, i) => `${i},`).join('')}end`);
      expect(rec.count('terminate')).toBe(0);
    });

    test('messages sent to the connection pid do not reset the idle clock', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec), { timeout: 300 });
      await s.connect(server);
      const pid = await rec.pid();
      const ticker = setInterval(() => send(pid, 'tick'), 20);
      try {
        expect((await rec.terminated(undefined, 10_000)).reason).toBe('timeout');
      } finally {
        clearInterval(ticker);
      }
      expect(rec.of('handleInfo').length).toBeGreaterThanOrEqual(2);
    });

    test("exit(pid, 'kill') cuts the socket without a close frame (the peer sees 1006) and runs no terminate, as on the BEAM", async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec));
      const client = await s.connect(server);
      const pid = await rec.pid();
      exit(pid, 'kill');
      expect((await client.closeSeen()).code).toBe(1006);
      await waitUntil(() => !isAlive(pid) && !server.connections().includes(pid), 'the killed connection was gone');
      expect(rec.count('terminate')).toBe(0);
    });

    test("server shutdown closes every connection with 1001 and terminate sees 'shutdown'", async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec));
      const a = await s.connect(server);
      const b = await s.connect(server);
      await rec.pid(1);
      await server.close();
      expect((await a.closeSeen()).code).toBe(1001);
      expect((await b.closeSeen()).code).toBe(1001);
      const reasons = rec.of('terminate').map((c) => [c.input, c.info?.sentCode]);
      expect(reasons).toEqual([
        ['shutdown', 1001],
        ['shutdown', 1001],
      ]);
      expect(server.connections()).toEqual([]);
    });

    const violations: readonly {
      name: string;
      code: number;
      options?: StartOptions;
      act(raw: RawWebSocket): void;
    }[] = [
      { name: 'a message over maxFrameSize', code: 1009, options: { maxFrameSize: 100 }, act: (r) => r.send(Op.TEXT, 'x'.repeat(101)) },
      {
        name: 'a fragmented message over maxFrameSize',
        code: 1009,
        options: { maxFrameSize: 100 },
        act: (r) => {
          r.send(Op.TEXT, 'x'.repeat(60), { fin: false });
          r.send(Op.CONTINUATION, 'x'.repeat(60));
        },
      },
      { name: 'invalid UTF-8 in a text message', code: 1007, act: (r) => r.send(Op.TEXT, Buffer.from([0x61, 0xc3, 0x28])) },
      {
        name: 'invalid UTF-8 in a close reason',
        code: 1007,
        act: (r) => r.send(Op.CLOSE, Buffer.from([0x03, 0xe8, 0xff])),
      },
      { name: 'an unmasked frame', code: 1002, act: (r) => r.send(Op.TEXT, 'x', { mask: false }) },
      { name: 'a reserved opcode', code: 1002, act: (r) => r.send(0x3, 'x') },
      { name: 'a reserved control opcode', code: 1002, act: (r) => r.send(0xb, 'x') },
      { name: 'RSV2 set', code: 1002, act: (r) => r.send(Op.TEXT, 'x', { rsv: 2 }) },
      { name: 'RSV3 set', code: 1002, act: (r) => r.send(Op.BINARY, 'x', { rsv: 1 }) },
      { name: 'RSV1 set without permessage-deflate', code: 1002, act: (r) => r.send(Op.TEXT, 'x', { rsv: 4 }) },
      { name: 'a fragmented ping', code: 1002, act: (r) => r.send(Op.PING, 'x', { fin: false }) },
      { name: 'a ping over 125 bytes', code: 1002, act: (r) => r.send(Op.PING, 'x'.repeat(126)) },
      { name: 'a continuation with no message started', code: 1002, act: (r) => r.send(Op.CONTINUATION, 'x') },
      {
        name: 'a new message inside a fragmented one',
        code: 1002,
        act: (r) => {
          r.send(Op.TEXT, 'a', { fin: false });
          r.send(Op.TEXT, 'b');
        },
      },
      { name: 'a close frame with code 1005', code: 1002, act: (r) => r.sendClose(1005) },
      { name: 'a close frame with code 999', code: 1002, act: (r) => r.sendClose(999) },
      { name: 'a close frame with a one-byte payload', code: 1002, act: (r) => r.send(Op.CLOSE, Buffer.from([3])) },
    ];
    for (const v of violations) {
      test(`${v.name} closes with ${v.code} and terminate gets { error }`, async (s) => {
        const rec = new Recorder();
        const server = await s.start(scripted(rec), v.options ?? {});
        const raw = await s.raw(server);
        const pid = await rec.pid();
        v.act(raw);
        expect((await raw.closeFrame()).code).toBe(v.code);
        const t = await rec.terminated();
        expect(errorOf(t.reason)).toBeInstanceOf(Error);
        expect(t.info.sentCode).toBe(v.code);
        expect(rec.count('handleIn')).toBe(0);
        await waitUntil(() => !isAlive(pid), 'the connection exited');
      });
    }

    test('a message of exactly maxFrameSize is accepted', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec), { maxFrameSize: 100 });
      const client = await s.connect(server);
      client.send('y'.repeat(100));
      expect(await client.text()).toBe('y'.repeat(100));
    });

    test('fragmented messages reach handleIn whole', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec));
      const raw = await s.raw(server);
      raw.send(Op.TEXT, 'frag', { fin: false });
      raw.send(Op.PING, 'mid');
      raw.send(Op.CONTINUATION, 'men', { fin: false });
      raw.send(Op.CONTINUATION, 'ted');
      const pong = await raw.nextFrame();
      expect([pong.opcode, pong.payload.toString()]).toEqual([Op.PONG, 'mid']);
      const echoed = await raw.nextFrame();
      expect([echoed.opcode, echoed.payload.toString()]).toEqual([Op.TEXT, 'fragmented']);
    });
  });
}

function describeProcesses(test: TestFn): void {
  describe('the connection as a process', () => {
    test('connections() lists the pid each connection runs as, until it ends', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec));
      const a = await s.connect(server);
      await s.connect(server);
      const pids = [await rec.pid(0), await rec.pid(1)];
      expect(new Set(server.connections())).toEqual(new Set(pids));
      a.ws.close();
      await rec.terminated(pids[0]);
      await waitUntil(() => server.connections().length === 1, 'the closed connection left connections()');
      expect(server.connections()).toEqual([pids[1]]);
    });

    test('send(pid, msg) drives handleInfo, in the order sent', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec, { handleInfo: (msg, st) => push(['text', String(msg)], st) }));
      const client = await s.connect(server);
      const pid = await rec.pid();
      for (let i = 0; i < 20; i++) send(pid, i);
      const got: string[] = [];
      for (let i = 0; i < 20; i++) got.push(await client.text());
      expect(got).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    });

    test('init receives the args given to the server', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec), { args: { room: 'lobby' } });
      await s.connect(server);
      expect((await rec.nth('init')).input).toEqual({ room: 'lobby' });
    });

    test('DOWN and EXIT messages of monitored and linked processes arrive in handleInfo', async (s) => {
      const rec = new Recorder();
      let workers: { monitored: Pid; linked: Pid } | undefined;
      const server = await s.start(
        scripted(rec, {
          init: () => {
            const monitored = spawn(() => undefined);
            monitor(monitored);
            const linked = spawnLink(() => undefined);
            workers = { monitored, linked };
            return ok(null);
          },
          handleInfo: (msg, st) => {
            if (isDown(msg)) return push(['text', `DOWN ${String(msg.reason)}`], st);
            if (isExit(msg)) return push(['text', `EXIT ${String(msg.reason)}`], st);
            return ok(st);
          },
        }),
      );
      const client = await s.connect(server);
      await rec.pid();
      const { monitored, linked } = workers as { monitored: Pid; linked: Pid };
      exit(monitored, 'gone');
      expect(await client.text()).toBe('DOWN gone');
      exit(linked, 'crashed');
      expect(await client.text()).toBe('EXIT crashed');
      const infos = rec.of('handleInfo').map((c) => c.input);
      expect(infos[0]).toMatchObject({ type: 'DOWN', pid: monitored, reason: 'gone' });
      expect(infos[1]).toMatchObject({ type: 'EXIT', from: linked, reason: 'crashed' });
      client.send('alive');
      expect(await client.text()).toBe('alive');
    });

    test('a connection registered in a Registry is found by key, and its entry vanishes when it closes', async (s) => {
      const registry = new Registry<string, string>({ keys: 'unique' });
      try {
        const rec = new Recorder();
        const server = await s.start(
          scripted(rec, {
            init: () => {
              registry.register('user:42', 'meta');
              return ok(null);
            },
          }),
        );
        const client = await s.connect(server);
        const pid = await rec.pid();
        expect(registry.lookup('user:42')).toEqual([[pid, 'meta']]);
        registry.dispatch('user:42', (entries) => {
          for (const [p] of entries) send(p, pushMessage(['text', 'found you']));
        });
        expect(await client.text()).toBe('found you');
        client.ws.close();
        await rec.terminated();
        await waitUntil(() => !isAlive(pid), 'the connection exited');
        expect(registry.lookup('user:42')).toEqual([]);
      } finally {
        registry.close();
      }
    });

    test('a connection subscribed to a PubSub topic gets broadcasts in handleInfo', async (s) => {
      const pubsub = new PubSub();
      try {
        const rec = new Recorder();
        const server = await s.start(
          scripted(rec, {
            init: () => {
              pubsub.subscribe('news');
              return ok(null);
            },
            handleInfo: (msg, st) => push(['text', `news: ${String(msg)}`], st),
          }),
        );
        const a = await s.connect(server);
        const b = await s.connect(server);
        await rec.pid(1);
        void pubsub.broadcast('news', 'hello');
        expect(await a.text()).toBe('news: hello');
        expect(await b.text()).toBe('news: hello');
        b.ws.close();
        await rec.nth('terminate');
        await waitUntil(() => pubsub.subscriberCount('news') === 1, 'the closed connection left the topic');
      } finally {
        pubsub.close();
      }
    });

    test("setShutdownReason makes the connection process exit with { shutdown: reason }, as a monitor sees", async (s) => {
      const rec = new Recorder();
      const server = await s.start(
        scripted(rec, {
          handleIn: (_f, st) => {
            setShutdownReason('kicked');
            return stop('normal', st);
          },
        }),
      );
      const client = await s.connect(server);
      const pid = await rec.pid();
      const downs: unknown[] = [];
      spawn((m) => void downs.push(m), { init: () => void monitor(pid) });
      client.send('kick');
      expect((await client.closeSeen()).code).toBe(1000);
      await waitUntil(() => downs.length === 1, 'the DOWN message');
      expect(downs[0]).toMatchObject({ type: 'DOWN', pid, reason: { shutdown: 'kicked' } });
    });

    test('a connection that closes normally exits normal, as a monitor sees', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec));
      const client = await s.connect(server);
      const pid = await rec.pid();
      const downs: unknown[] = [];
      spawn((m) => void downs.push(m), { init: () => void monitor(pid) });
      client.ws.close(1000);
      await waitUntil(() => downs.length === 1, 'the DOWN message');
      expect(downs[0]).toMatchObject({ reason: 'normal' });
    });

    test('hibernate() leaves the connection hibernated between messages, and frames pushed before it still go out', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec));
      const client = await s.connect(server);
      const pid = await rec.pid();
      send(pid, pushMessage(['text', 'before']));
      send(
        pid,
        inside((st) => {
          hibernate();
          return push(['text', 'during'], st);
        }),
      );
      expect([await client.text(), await client.text()]).toEqual(['before', 'during']);
      await waitUntil(() => processInfo(pid)?.status === 'hibernated', 'the connection hibernated');
      client.send('after');
      expect(await client.text()).toBe('after');
    });
  });
}

function describeValidation(test: TestFn, quirks: Quirks): void {
  describe('upgrade validation over the wire', () => {
    if (quirks.upgradesHttp10 !== undefined) {
      test(`HTTP/1.0 is upgraded (known difference: ${quirks.upgradesHttp10})`, async (s) => {
        const server = await s.start(scripted(new Recorder()));
        expect((await rawRequest(server.url, { httpVersion: '1.0' })).status).toBe(101);
      });
    }
    if (quirks.refusesHostlessItself !== undefined) {
      test(`no Host header is refused with 400 by the server itself (known difference: ${quirks.refusesHostlessItself})`, async (s) => {
        const rec = new Recorder();
        const server = await s.start(scripted(rec));
        expect((await rawRequest(server.url, { headers: { Host: undefined } })).status).toBe(400);
        expect(rec.count('init')).toBe(0);
      });
    }
    const refusals: readonly (readonly [string, (url: string) => UpgradeSpec, number, (url: string) => string])[] = [
      ['a POST', () => ({ method: 'POST' }), 400, () => 'HTTP method POST unsupported'],
      ...(quirks.upgradesHttp10 === undefined
        ? ([['HTTP/1.0', () => ({ httpVersion: '1.0' }), 400, () => 'HTTP version HTTP/1.0 unsupported']] as const)
        : []),
      ...(quirks.refusesHostlessItself === undefined
        ? ([['no Host header', () => ({ headers: { Host: undefined } }), 400, () => "'host' header is absent"]] as const)
        : []),
      [
        'an Upgrade header that is not websocket',
        () => ({ headers: { Upgrade: 'h2c' } }),
        400,
        () => `'upgrade' header must contain 'websocket', got ["h2c"]`,
      ],
      ['no Sec-WebSocket-Key', () => ({ headers: { 'Sec-WebSocket-Key': undefined } }), 400, () => "'sec-websocket-key' header is absent"],
      [
        'a malformed Sec-WebSocket-Key',
        () => ({ headers: { 'Sec-WebSocket-Key': 'short' } }),
        400,
        () => `'sec-websocket-key' header must be a base64-encoded 16-byte value, got "short"`,
      ],
      [
        'a foreign Origin',
        () => ({ headers: { Origin: 'http://evil.example' } }),
        403,
        (url) => `origin 'http://evil.example' is not allowed for host '${hostOf(url)}'`,
      ],
    ];
    for (const [what, spec, status, reason] of refusals) {
      test(`${what} is refused with ${status} and the reason as the body`, async (s) => {
        const rec = new Recorder();
        const server = await s.start(scripted(rec));
        const res = await rawRequest(server.url, spec(server.url));
        expect(res.status).toBe(status);
        expect(res.body).toBe(reason(server.url));
        expect(res.headers['content-type']).toMatch(/^text\/plain/);
        expect(rec.count('init')).toBe(0);
        expect(server.connections()).toEqual([]);
      });
    }

    for (const [what, version, got] of [
      ['a wrong Sec-WebSocket-Version', '12', '["12"]'],
      ['no Sec-WebSocket-Version', undefined, '[]'],
    ] as const) {
      test(`${what} is refused with 426 naming version 13`, async (s) => {
        const server = await s.start(scripted(new Recorder()));
        const res = await rawRequest(server.url, { headers: { 'Sec-WebSocket-Version': version } });
        expect(res.status).toBe(426);
        expect(res.headers['sec-websocket-version']).toBe('13');
        expect(res.body).toBe(`'sec-websocket-version' header must equal '13', got ${got}`);
      });
    }

    for (const [what, header] of [
      ['Connection: upgrade', 'Connection'],
      ['an Upgrade header', 'Upgrade'],
    ] as const) {
      test(`a request without ${what} is not upgraded`, async (s) => {
        const rec = new Recorder();
        const server = await s.start(scripted(rec));
        const res = await rawRequest(server.url, { headers: { [header]: undefined } });
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(rec.count('init')).toBe(0);
      });
    }

    test('header names and tokens are matched case-insensitively', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec));
      const raw = await s.raw(server, { headers: { Connection: 'keep-alive, UPGRADE', Upgrade: 'WebSocket' } });
      expect(raw.response.status).toBe(101);
      await rec.pid();
    });

    test('the first subprotocol the client offers that the server lists is chosen', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec), { subprotocols: ['v2', 'v1'] });
      const client = await s.connect(server, { protocols: ['v1', 'v2'] });
      expect(client.ws.protocol).toBe('v1');
      expect(processInfo(await rec.pid())?.details['protocol']).toBe('v1');
    });

    test('a subprotocol function chooses from what the client offers', async (s) => {
      const offers: string[][] = [];
      const server = await s.start(scripted(new Recorder()), {
        subprotocols: (offered) => {
          offers.push([...offered]);
          return offered.includes('chat') ? 'chat' : false;
        },
      });
      const client = await s.connect(server, { protocols: ['mqtt', 'chat'] });
      expect(client.ws.protocol).toBe('chat');
      expect(offers).toEqual([['mqtt', 'chat']]);
    });

    test('no acceptable subprotocol upgrades without a Sec-WebSocket-Protocol header', async (s) => {
      const server = await s.start(scripted(new Recorder()), { subprotocols: ['v1'] });
      const raw = await s.raw(server, { headers: { 'Sec-WebSocket-Protocol': 'other' } });
      expect(raw.response.headers['sec-websocket-protocol']).toBeUndefined();
    });

    test('a subprotocol function that throws refuses the upgrade without taking the server down', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec), {
        subprotocols: () => {
          throw new Error('subprotocol lookup failed');
        },
      });
      const res = await rawRequest(server.url, { headers: { 'Sec-WebSocket-Protocol': 'v1' } });
      expect(res.status).toBe(500);
      expect(rec.count('init')).toBe(0);
      const client = await s.connect(server);
      client.send('server still up');
      expect(await client.text()).toBe('server still up');
    });

    test('the headers option is carried into the 101 response', async (s) => {
      const server = await s.start(scripted(new Recorder()), { headers: { 'X-Served-By': 'beamsock', 'Set-Cookie': 'a=1' } });
      const client = await s.connect(server);
      const res = await client.opened;
      expect(res.headers['x-served-by']).toBe('beamsock');
      expect(res.headers['set-cookie']).toEqual(['a=1']);
    });
  });
}

function describeOptions(test: TestFn, reportsFor: (pid: Pid, kind: Report['kind']) => Report[], quirks: Quirks): void {
  describe('options', () => {
    test('compress negotiates permessage-deflate and a compressed echo works', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec), { compress: true });
      const client = await s.connect(server, { perMessageDeflate: true });
      const res = await client.opened;
      expect(res.headers['sec-websocket-extensions']).toMatch(/^permessage-deflate/);
      const big = 'compress me '.repeat(1000);
      client.send(big);
      expect(await client.text()).toBe(big);
      expect(processInfo(await rec.pid())?.details['compress']).toBe(true);
    });

    test('with compress, the server sends compressed frames and inflates the client ones', async (s) => {
      const server = await s.start(scripted(new Recorder()), { compress: true });
      const raw = await s.raw(server, { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate' } });
      expect(raw.response.headers['sec-websocket-extensions']).toMatch(/^permessage-deflate/);
      raw.sendCompressed('hello, deflate');
      const f = await raw.nextFrame();
      expect(f.rsv & 4).toBe(4);
      expect(inflateMessage(f.payload)).toBe('hello, deflate');
    });

    test('without compress, an offer of permessage-deflate is declined', async (s) => {
      const server = await s.start(scripted(new Recorder()));
      const client = await s.connect(server, { perMessageDeflate: true });
      expect((await client.opened).headers['sec-websocket-extensions']).toBeUndefined();
      client.send('plain');
      expect(await client.text()).toBe('plain');
    });

    test('deflateOptions shape the negotiation and the threshold', async (s) => {
      const server = await s.start(scripted(new Recorder()), {
        compress: true,
        deflateOptions: { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 100, level: 9 },
      });
      const raw = await s.raw(server, { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' } });
      const ext = raw.response.headers['sec-websocket-extensions'] ?? '';
      expect(ext).toMatch(/server_no_context_takeover/);
      expect(ext).toMatch(/client_no_context_takeover/);
      raw.send(Op.TEXT, 'tiny');
      const small = await raw.nextFrame();
      expect([small.rsv & 4, small.payload.toString()]).toEqual([0, 'tiny']);
      const large = 'z'.repeat(500);
      raw.send(Op.TEXT, large);
      const big = await raw.nextFrame();
      expect(big.rsv & 4).toBe(4);
      expect(inflateMessage(big.payload)).toBe(large);
    });

    test('deflateOptions.serverMaxWindowBits is announced to the client', async (s) => {
      const server = await s.start(scripted(new Recorder()), { compress: true, deflateOptions: { serverMaxWindowBits: 10 } });
      const raw = await s.raw(server, { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate' } });
      expect(raw.response.headers['sec-websocket-extensions']).toMatch(/server_max_window_bits=10/);
    });

    test('every deflateOptions strategy, level and memLevel compresses', async (s) => {
      for (const strategy of ['default', 'filtered', 'huffmanOnly', 'rle', 'fixed'] as const) {
        const server = await s.start(scripted(new Recorder()), {
          compress: true,
          deflateOptions: { strategy, level: 1, memLevel: 9 },
        });
        const raw = await s.raw(server, { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate' } });
        raw.send(Op.TEXT, `strategy ${strategy}`);
        const f = await raw.nextFrame();
        expect([strategy, f.rsv & 4, inflateMessage(f.payload)]).toEqual([strategy, 4, `strategy ${strategy}`]);
      }
    });

    if (quirks.alwaysValidatesUtf8 !== undefined) {
      test(`validateUtf8: false is refused at start-up (known difference: ${quirks.alwaysValidatesUtf8})`, async (s) => {
        await expect(s.start(scripted(new Recorder()), { validateUtf8: false })).rejects.toThrow(/validateUtf8/);
      });
    } else test('validateUtf8: false hands invalid UTF-8 text to handleIn instead of closing', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec), { validateUtf8: false });
      const raw = await s.raw(server);
      raw.send(Op.TEXT, Buffer.from([0x61, 0xff, 0x62]));
      const call = await rec.nth('handleIn');
      expect(call.input).toEqual(['a\ufffdb', { opcode: 'text' }]);
      const echoed = await raw.nextFrame();
      expect(echoed.opcode).toBe(Op.TEXT);
      expect(rec.count('terminate')).toBe(0);
    });

    test('fullsweepAfter is set on the connection process', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec), { fullsweepAfter: 10 });
      await s.connect(server);
      expect(processInfo(await rec.pid())?.fullsweepAfter).toBe(10);
    });

    test('maxHeapSize kills a connection whose peer stops reading: a max_heap_size report, the socket cut, no terminate', async (s) => {
      const rec = new Recorder();
      const chunk = Buffer.alloc(256 * 1024, 1);
      const server = await s.start(
        scripted(rec, {
          handleInfo: (msg, st) => {
            if (msg !== 'pump') return ok(st);
            sendAfter(self(), 'pump', 1);
            return push(['binary', chunk], st);
          },
        }),
        { maxHeapSize: 1024 * 1024 },
      );
      const raw = await s.raw(server);
      const pid = await rec.pid();
      expect(processInfo(pid)?.maxHeapSize.size).toBe(1024 * 1024);
      raw.pause();
      send(pid, 'pump');
      await waitUntil(() => !isAlive(pid), 'the connection was killed', 10_000);
      expect(rec.count('terminate', pid)).toBe(0);
      const heap = reportsFor(pid, 'max_heap_size');
      expect(heap).toHaveLength(1);
      expect(heap[0]).toMatchObject({ limit: 1024 * 1024, killed: true });
      await waitUntil(() => !server.connections().includes(pid), 'the connection left connections()');
    });

    test('activeN pauses reading while that many messages wait for a slow handler, and resumes after', async (s) => {
      const rec = new Recorder();
      const g = gate();
      const server = await s.start(
        scripted(rec, {
          handleIn: async ([data, { opcode }], st) => {
            await g.promise;
            return push([opcode, data], st);
          },
        }),
        { activeN: 2 },
      );
      const client = await s.connect(server);
      const pid = await rec.pid();
      expect(processInfo(pid)?.details['paused']).toBe(false);
      for (let i = 0; i < 10; i++) client.send(`m${i}`);
      await waitUntil(() => processInfo(pid)?.details['paused'] === true, 'reading paused');
      g.open();
      const got: string[] = [];
      for (let i = 0; i < 10; i++) got.push(await client.text());
      expect(got).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
      expect(processInfo(pid)?.details['paused']).toBe(false);
    });

    test('activeN counts messages, not reads: a burst of 3,000 tiny frames never queues more than activeN', async (s) => {
      const rec = new Recorder();
      let most = 0;
      const server = await s.start(
        scripted(rec, {
          handleIn: ([data, { opcode }], st) => {
            most = Math.max(most, processInfo(self())?.messageQueueLen ?? 0);
            return push([opcode, data], st);
          },
        }),
        { activeN: 10 },
      );
      const raw = await s.raw(server);
      await rec.pid();
      const count = 3_000;
      raw.writeBytes(Buffer.concat(Array.from({ length: count }, (_, i) => clientFrame(Op.BINARY, Buffer.from([i >> 8, i & 255, 0, 0])))));
      for (let i = 0; i < count; i++) {
        const f = await raw.nextFrame();
        expect(f.payload.readUInt16BE(0)).toBe(i);
      }
      // Messages waiting behind the one being handled: never more than activeN, however many one read held.
      expect(most).toBeGreaterThan(1);
      expect(most).toBeLessThanOrEqual(10);
    });

    test('earlyValidateUpgrade: false still refuses what cannot be upgraded, with a 4xx', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec), { earlyValidateUpgrade: false });
      const res = await rawRequest(server.url, { method: 'POST' });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.body).not.toBe('HTTP method POST unsupported');
      expect(rec.count('init')).toBe(0);
      const client = await s.connect(server);
      client.send('valid upgrades still work');
      expect(await client.text()).toBe('valid upgrades still work');
    });

    const origins: readonly [string, StartOptions['checkOrigin'], string, boolean][] = [
      ['true allows the same host', true, 'http://HOST', true],
      ['true refuses another port', true, 'http://127.0.0.1:1', false],
      ['false allows any origin', false, 'http://evil.example', true],
      ['a list allows a listed origin', ['https://app.example.com', '//*.example.org'], 'https://app.example.com', true],
      ['a list allows a wildcard subdomain', ['https://app.example.com', '//*.example.org'], 'http://a.b.example.org', true],
      ['a list refuses an unlisted origin', ['https://app.example.com'], 'https://app.example.com.evil.example', false],
      ['a function decides', (origin: string) => origin.endsWith('.trusted.example'), 'https://x.trusted.example', true],
      ['a function refuses', (origin: string) => origin.endsWith('.trusted.example'), 'https://trusted.example.evil', false],
    ];
    for (const [what, checkOrigin, origin, allowed] of origins) {
      test(`checkOrigin ${what}`, async (s) => {
        const server = await s.start(scripted(new Recorder()), { checkOrigin });
        const res = await rawRequest(server.url, { headers: { Origin: origin.replace('HOST', hostOf(server.url)) } });
        expect(res.status).toBe(allowed ? 101 : 403);
      });
    }

    test('requests without an Origin header pass the default origin check', async (s) => {
      const server = await s.start(scripted(new Recorder()));
      const res = await rawRequest(server.url, { headers: { Origin: undefined } });
      expect(res.status).toBe(101);
    });

    test('shutdownTimeout bounds how long close() waits for a peer that never answers the close', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec), { shutdownTimeout: 200 });
      const raw = await s.raw(server);
      await rec.pid();
      const started = Date.now();
      await server.close();
      // The default of 15 s would blow far past this generous bound.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect((await raw.closeFrame()).code).toBe(1001);
      await within(raw.ended, 'the server to cut the connection');
      expect((await rec.terminated()).reason).toBe('shutdown');
    });

    test('a connection stuck in a callback when shutdownTimeout runs out goes down with the server', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec, { handleIn: () => new Promise<never>(() => undefined) }), { shutdownTimeout: 200 });
      const client = await s.connect(server);
      const pid = await rec.pid();
      client.send('hang');
      await rec.nth('handleIn');
      await server.close();
      await client.closeSeen();
      await waitUntil(() => !isAlive(pid), 'the stuck connection exited');
      expect(server.connections()).toEqual([]);
    });

    for (const [what, options, pattern] of [
      ['an unknown option', { timout: 100 }, /unknown option 'timout'.*'timeout'/],
      ['a negative timeout', { timeout: -1 }, /'timeout'/],
      ['a non-boolean compress', { compress: 'yes' }, /'compress'/],
      ['a fractional maxFrameSize', { maxFrameSize: 1.5 }, /'maxFrameSize'/],
      ['an unknown deflate option', { deflateOptions: { windowBits: 9 } }, /'windowBits'/],
      ['an activeN of 0', { activeN: 0 }, /'activeN'/],
      ['a header the handshake owns', { headers: { Upgrade: 'x' } }, /'Upgrade'/],
    ] as const) {
      test(`${what} is refused at start-up, naming it`, async (s) => {
        await expect(s.start(scripted(new Recorder()), options as StartOptions)).rejects.toThrow(pattern);
      });
    }
  });
}

function describeCommands(test: TestFn): void {
  describe("Cowboy's connection commands", () => {
    test('setActive(false) stops reading until setActive(true)', async (s) => {
      const rec = new Recorder();
      const server = await s.start(
        scripted(rec, {
          handleIn: ([data, { opcode }], st) => {
            if (data === 'pause') {
              setActive(false);
              return push(['text', 'paused'], st);
            }
            return push([opcode, data], st);
          },
        }),
      );
      const client = await s.connect(server);
      const pid = await rec.pid();
      client.send('pause');
      expect(await client.text()).toBe('paused');
      expect(processInfo(pid)?.details['paused']).toBe(true);
      client.send('a');
      client.send('b');
      await sleep(150);
      expect(rec.count('handleIn')).toBe(1);
      await runIn(pid, () => setActive(true));
      expect([await client.text(), await client.text()]).toEqual(['a', 'b']);
      expect(processInfo(pid)?.details['paused']).toBe(false);
    });

    test('setDeflate(false) sends the next frames uncompressed, setDeflate(true) compresses again', async (s) => {
      const big = 'deflate me '.repeat(200);
      const server = await s.start(
        scripted(new Recorder(), {
          handleIn: ([data], st) => {
            setDeflate(data === 'packed');
            return push(['text', big], st);
          },
        }),
        { compress: true },
      );
      const raw = await s.raw(server, { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate' } });
      raw.send(Op.TEXT, 'packed');
      const first = await raw.nextFrame();
      expect(first.rsv & 4).toBe(4);
      expect(inflateMessage(first.payload)).toBe(big);
      raw.send(Op.TEXT, 'plain');
      const second = await raw.nextFrame();
      expect(second.rsv & 4).toBe(0);
      expect(second.payload.toString()).toBe(big);
      raw.send(Op.TEXT, 'packed');
      expect((await raw.nextFrame()).rsv & 4).toBe(4);
    });

    test('setDeflate is ignored when permessage-deflate was not negotiated', async (s) => {
      const server = await s.start(
        scripted(new Recorder(), {
          handleIn: ([data], st) => {
            setDeflate(true);
            return push(['text', data as string], st);
          },
        }),
        { compress: true },
      );
      const raw = await s.raw(server);
      raw.send(Op.TEXT, 'x'.repeat(2000));
      const f = await raw.nextFrame();
      expect([f.rsv, f.payload.length]).toEqual([0, 2000]);
    });

    test('setConnectionOptions({ timeout }) changes the idle timeout at run time', async (s) => {
      const rec = new Recorder();
      const server = await s.start(
        scripted(rec, {
          handleIn: (_f, st) => {
            setConnectionOptions({ timeout: 150 });
            return push(['text', 'shortened'], st);
          },
        }),
      );
      const client = await s.connect(server);
      const pid = await rec.pid();
      expect(processInfo(pid)?.details['timeout']).toBe(60_000);
      client.send('shorten');
      expect(await client.text()).toBe('shortened');
      expect((await client.closeSeen()).code).toBe(1000);
      expect((await rec.terminated()).reason).toBe('timeout');
    });

    test('setConnectionOptions({ timeout: 0 }) turns the idle timeout off', async (s) => {
      const rec = new Recorder();
      const server = await s.start(
        scripted(rec, {
          handleIn: (_f, st) => {
            setConnectionOptions({ timeout: 0 });
            return push(['text', 'no timeout'], st);
          },
        }),
        { timeout: 200 },
      );
      const client = await s.connect(server);
      client.send('off');
      expect(await client.text()).toBe('no timeout');
      await sleep(600);
      expect(client.isOpen).toBe(true);
    });

    test('setConnectionOptions({ maxFrameSize }) changes the largest accepted message at run time', async (s) => {
      const rec = new Recorder();
      const server = await s.start(
        scripted(rec, {
          handleIn: ([data, { opcode }], st) => {
            if (data === 'limit') setConnectionOptions({ maxFrameSize: 10 });
            return push([opcode, data], st);
          },
        }),
      );
      const client = await s.connect(server);
      client.send('x'.repeat(50));
      expect(await client.text()).toBe('x'.repeat(50));
      client.send('limit');
      expect(await client.text()).toBe('limit');
      client.send('x'.repeat(11));
      expect((await client.closeSeen()).code).toBe(1009);
      expect(errorOf((await rec.terminated()).reason)).toBeInstanceOf(Error);
    });

    test('setConnectionOptions({ maxFrameSize }) also limits compressed messages once inflated', async (s) => {
      const server = await s.start(
        scripted(new Recorder(), {
          handleIn: ([data, { opcode }], st) => {
            if (data === 'limit') setConnectionOptions({ maxFrameSize: 1000 });
            return push([opcode, data], st);
          },
        }),
        { compress: true },
      );
      const client = await s.connect(server, { perMessageDeflate: true });
      client.send('limit');
      expect(await client.text()).toBe('limit');
      // 100 kB of one letter deflates to a few hundred bytes on the wire.
      client.send('a'.repeat(100_000));
      expect((await client.closeSeen()).code).toBe(1009);
    });

    test('commands refuse ill-typed arguments with a TypeError', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec));
      await s.connect(server);
      const pid = await rec.pid();
      await expect(runIn(pid, () => setActive('yes' as never))).rejects.toThrow(TypeError);
      await expect(runIn(pid, () => setConnectionOptions({ idle: 5 } as never))).rejects.toThrow(/'idle'/);
      await expect(runIn(pid, () => setConnectionOptions({ timeout: -5 }))).rejects.toThrow(/'timeout'/);
    });
  });
}

function describeTelemetry(
  test: TestFn,
  eventsFor: (name: ChannelName, pid: Pid) => Published[],
  published: Record<ChannelName, Published[]>,
): void {
  describe('telemetry (node:diagnostics_channel)', () => {
    test('stop reports the duration and per-frame-type counts and bytes (Bandit’s pinned example)', async (s) => {
      const rec = new Recorder();
      const server = await s.start(scripted(rec));
      const client = await s.connect(server);
      const pid = await rec.pid();
      client.send('1234');
      client.send(Buffer.from('12345'));
      client.ws.ping('123456');
      client.ws.pong('1234567');
      await rec.nth('handleControl', 1);
      await client.next('binary');
      client.ws.close(1000);
      await rec.terminated();
      await waitUntil(() => eventsFor('beamsock:connection:stop', pid).length === 1, 'the stop event');
      const stopEvent = eventsFor('beamsock:connection:stop', pid)[0] as Published;
      expect(stopEvent).toMatchObject({
        reason: 'remote',
        recvTextCount: 1,
        recvTextBytes: 4,
        recvBinaryCount: 1,
        recvBinaryBytes: 5,
        recvPingCount: 1,
        recvPingBytes: 6,
        recvPongCount: 1,
        recvPongBytes: 7,
        recvCloseCount: 1,
        sendTextCount: 1,
        sendTextBytes: 4,
        sendBinaryCount: 1,
        sendBinaryBytes: 5,
        sendPongCount: 1,
        sendPongBytes: 6,
        sendPingCount: 0,
      });
      expect(stopEvent['duration']).toBeTypeOf('number');
      expect(stopEvent['duration'] as number).toBeGreaterThanOrEqual(0);
      expect(eventsFor('beamsock:connection:start', pid)).toHaveLength(1);
      expect(eventsFor('beamsock:connection:start', pid)[0]).toMatchObject({ compress: false });
    });

    test('upgrade is published for accepted and refused upgrades', async (s) => {
      const server = await s.start(scripted(new Recorder()));
      const before = published['beamsock:upgrade'].length;
      await s.connect(server, { path: '/accepted' });
      await rawRequest(server.url, { method: 'POST', path: '/refused' });
      await waitUntil(() => published['beamsock:upgrade'].length >= before + 2, 'two upgrade events');
      const events = published['beamsock:upgrade'].slice(before);
      expect(events).toContainEqual(expect.objectContaining({ path: '/accepted', status: 101 }));
      expect(events).toContainEqual(
        expect.objectContaining({ path: '/refused', status: 400, reason: 'HTTP method POST unsupported' }),
      );
    });

    test('crash is published when a callback throws, and stop carries the error reason', async (s) => {
      const rec = new Recorder();
      const server = await s.start(
        scripted(rec, {
          handleIn: () => {
            throw new Error('telemetry boom');
          },
        }),
      );
      const client = await s.connect(server);
      const pid = await rec.pid();
      client.send('x');
      await client.closeSeen();
      await waitUntil(() => eventsFor('beamsock:connection:crash', pid).length === 1, 'the crash event');
      const crash = eventsFor('beamsock:connection:crash', pid)[0] as Published;
      expect((errorOf(crash['reason'] as ExitReason) as Error).message).toBe('telemetry boom');
      const stopEvent = eventsFor('beamsock:connection:stop', pid)[0] as Published;
      expect((errorOf(stopEvent['reason'] as CloseReason) as Error).message).toBe('telemetry boom');
    });

    test('stop reports timeout and shutdown endings', async (s) => {
      const rec = new Recorder();
      const idle = await s.start(scripted(rec), { timeout: 100 });
      await s.connect(idle);
      const idlePid = await rec.pid(0);
      await rec.terminated(idlePid);
      const busy = await s.start(scripted(rec));
      await s.connect(busy);
      const busyPid = await rec.pid(1);
      await busy.close();
      await waitUntil(() => eventsFor('beamsock:connection:stop', busyPid).length === 1, 'the stop event');
      expect(eventsFor('beamsock:connection:stop', idlePid)[0]).toMatchObject({ reason: 'timeout' });
      expect(eventsFor('beamsock:connection:stop', busyPid)[0]).toMatchObject({ reason: 'shutdown' });
    });
  });
}
