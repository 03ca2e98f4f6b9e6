/**
 * Telemetry over real ws sockets: the connection channels carry plain,
 * documented fields only; each inbound message is traced on a TracingChannel;
 * a traced connection's handleIn runs in the async context of its upgrade.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { serve } from '../../src/adapters/ws/server.js';
import { upgrade } from '../../src/adapters/ws/upgrade.js';
import { Pid } from '../../src/runtime/pid.js';
import { send } from '../../src/runtime/process.js';
import { ok, push, type WebSock } from '../../src/websock/behaviour.js';
import type { MessageTrace } from '../../src/websock/telemetry.js';
import { TestClient } from '../conformance/client.js';
import { captureReports } from '../support/reports.js';
import { until } from '../support/until.js';

captureReports();
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function listen(name: string): unknown[] {
  const events: unknown[] = [];
  const on = (e: unknown): void => void events.push(e);
  subscribe(name, on);
  cleanups.push(() => unsubscribe(name, on));
  return events;
}

/** Echoes; throws on "boom"; answers "later" after an await. */
const Handler: WebSock<null> = {
  name: 'TelemetryHandler',
  init: () => ok(null),
  handleIn([data, { opcode }], state) {
    if (data === 'boom') throw new Error('boom');
    if (data === 'later') return Promise.resolve(push(['text', 'later done'], state));
    return push([opcode, data] as never, state);
  },
  handleInfo: (_m, state) => ok(state),
};

describe('connection channels on ws', () => {
  it('start, stop and crash carry exactly the documented plain fields', async () => {
    const starts = listen('beamsock:connection:start');
    const stops = listen('beamsock:connection:stop');
    const crashes = listen('beamsock:connection:crash');
    const server = await serve(Handler, { port: 0, subprotocols: ['chat'] });
    cleanups.push(() => server.close());
    const client = await TestClient.open(server.url, { path: '/t?x=1', protocols: 'chat' });
    client.send('boom');
    await client.closeSeen();
    await until(() => stops.length === 1 && crashes.length === 1, 'stop and crash');
    const fields = { handlerName: 'TelemetryHandler', server: 'ws', remoteAddress: '127.0.0.1', path: '/t?x=1', protocol: 'chat' };
    const [start] = starts as Record<string, unknown>[];
    expect(Object.keys(start as object).sort()).toEqual(['compress', 'handlerName', 'path', 'pid', 'protocol', 'remoteAddress', 'server']);
    expect(start).toMatchObject({ ...fields, compress: false });
    expect(start?.['pid']).toBeInstanceOf(Pid);
    const [stop] = stops as Record<string, unknown>[];
    expect(stop).toMatchObject({ ...fields, pid: start?.['pid'], recvTextCount: 1, recvTextBytes: 4 });
    expect(Object.keys(stop as object).filter((k) => !/^(recv|send)[A-Z]/.test(k)).sort()).toEqual(['duration', 'handlerName', 'path', 'pid', 'protocol', 'reason', 'remoteAddress', 'server']);
    const [crash] = crashes as Record<string, unknown>[];
    expect(Object.keys(crash as object).sort()).toEqual(['handlerName', 'path', 'pid', 'protocol', 'reason', 'remoteAddress', 'server']);
    expect(crash).toMatchObject(fields);
    // Plain: every field but the pid and the reason is a primitive, and the whole payload is small as JSON.
    for (const event of [start, stop, crash]) {
      for (const [k, v] of Object.entries(event as object)) if (k !== 'pid' && k !== 'reason') expect(v === undefined || typeof v !== 'object', k).toBe(true);
      expect(JSON.stringify(event).length).toBeLessThan(1_000);
    }
  });
});

describe('tracing:beamsock:connection:message', () => {
  function trace(): { events: [string, MessageTrace][] } {
    const events: [string, MessageTrace][] = [];
    const tc = tracingChannel<object, MessageTrace>('beamsock:connection:message');
    const handlers = {
      start: (m: MessageTrace) => void events.push(['start', { ...m }]),
      end: (m: MessageTrace) => void events.push(['end', { ...m }]),
      asyncStart: (m: MessageTrace) => void events.push(['asyncStart', { ...m }]),
      asyncEnd: (m: MessageTrace) => void events.push(['asyncEnd', { ...m }]),
      error: (m: MessageTrace) => void events.push(['error', { ...m }]),
    };
    tc.subscribe(handlers);
    cleanups.push(() => tc.unsubscribe(handlers));
    return { events };
  }

  it('traces each handleIn: start and end around it, asyncStart and asyncEnd when its promise settles, error when it throws', async () => {
    const { events } = trace();
    const server = await serve(Handler, { port: 0 });
    cleanups.push(() => server.close());
    const client = await TestClient.open(server.url, { path: '/m' });
    client.send('hi');
    expect(await client.text()).toBe('hi');
    client.send(Buffer.from([1, 2, 3]));
    await client.next('binary');
    client.send('later');
    expect(await client.text()).toBe('later done');
    client.send('boom');
    await client.closeSeen();
    await until(() => events.filter(([n]) => n === 'end').length === 4, 'four ends');
    expect(events.map(([n, m]) => `${n}:${m.opcode}:${m.bytes}`)).toEqual([
      'start:text:2', 'end:text:2',
      'start:binary:3', 'end:binary:3',
      'start:text:5', 'end:text:5', 'asyncStart:text:5', 'asyncEnd:text:5',
      'start:text:4', 'error:text:4', 'end:text:4',
    ]);
    const [, first] = events[0] as [string, MessageTrace];
    expect(first).toMatchObject({ handlerName: 'TelemetryHandler', server: 'ws', path: '/m', remoteAddress: '127.0.0.1', protocol: undefined });
    expect(first.pid).toBeInstanceOf(Pid);
    expect((events[1] as [string, MessageTrace])[1].result).toMatchObject({ type: 'push' });
    expect((events[7] as [string, MessageTrace])[1].result).toMatchObject({ type: 'push' });
    expect(((events[9] as [string, MessageTrace])[1].error as Error).message).toBe('boom');
  });

  it('runs a traced handleIn in the async context of its own upgrade, so a store bound at start has the upgrade’s as parent', async () => {
    trace();
    const request = new AsyncLocalStorage<string>();
    const span = new AsyncLocalStorage<{ parent: string | undefined; opcode: string }>();
    const tc = tracingChannel<object, MessageTrace>('beamsock:connection:message');
    tc.start.bindStore(span, (m) => ({ parent: request.getStore(), opcode: m.opcode }));
    cleanups.push(() => tc.start.unbindStore(span));
    const seen: string[] = [];
    const Spy: WebSock<null> = {
      init: () => {
        seen.push(`init ${request.getStore()}`);
        return ok(null);
      },
      async handleIn([data], state) {
        seen.push(`in ${data} ${request.getStore()} ${JSON.stringify(span.getStore())}`);
        await new Promise((r) => setTimeout(r, 1));
        seen.push(`after await ${data} ${request.getStore()}`);
        return push(['text', String(data)], state);
      },
      handleInfo: (_m, state) => ok(state),
    };
    const http = createServer();
    let n = 0;
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      request.run(`request ${++n}`, () => void upgrade(req, socket, head, Spy, null));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((r) => http.close(r)));
    const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const a = await TestClient.open(url);
    const b = await TestClient.open(url);
    cleanups.push(() => a.ws.terminate(), () => b.ws.terminate());
    a.send('a');
    b.send('b');
    await a.text();
    await b.text();
    expect(seen.filter((s) => s.startsWith('init'))).toEqual(['init request 1', 'init request 2']);
    expect(seen).toContain('in a request 1 {"parent":"request 1","opcode":"text"}');
    expect(seen).toContain('in b request 2 {"parent":"request 2","opcode":"text"}');
    expect(seen).toContain('after await a request 1');
    expect(seen).toContain('after await b request 2');
  });

  it('untraced, it reaches no callback; traced or not, handleInfo and terminate run in the scheduler’s context, as the README says', async () => {
    const request = new AsyncLocalStorage<string>();
    const seen: string[] = [];
    let terminated!: () => void;
    const gone = new Promise<void>((r) => (terminated = r));
    const Spy: WebSock<null, unknown, string> = {
      init: () => {
        seen.push(`init ${String(request.getStore())}`);
        return ok(null);
      },
      handleIn: ([data], state) => {
        seen.push(`in ${String(data)} ${String(request.getStore())}`);
        return push(['text', String(data)], state);
      },
      handleInfo: (msg, state) => {
        seen.push(`info ${msg} ${String(request.getStore())}`);
        return push(['text', msg], state);
      },
      terminate: () => {
        seen.push(`terminate ${String(request.getStore())}`);
        terminated();
      },
    };
    const http = createServer();
    let pid: Pid | undefined;
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const authorize = (): boolean => {
        seen.push(`authorize ${String(request.getStore())}`);
        return true;
      };
      request.run('the upgrade', () => void upgrade(req, socket, head, Spy, null, { authorize }).then((p) => (pid = p)));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((r) => http.close(r)));
    const client = await TestClient.open(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`);
    client.send('hi');
    await client.text();
    await until(() => pid !== undefined, 'upgrade() resolved with the pid');
    send(pid as Pid, 'ding');
    await client.text();
    client.ws.close();
    await gone;
    expect(seen).toEqual(['authorize the upgrade', 'init undefined', 'in hi undefined', 'info ding undefined', 'terminate undefined']);
  });
});
