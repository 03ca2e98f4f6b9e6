import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '../../../src/adapters/ws/server.js';
import { upgrade } from '../../../src/adapters/ws/upgrade.js';
import type { Pid } from '../../../src/runtime/pid.js';
import { isAlive, processInfo, whereis } from '../../../src/runtime/process.js';
import { DynamicSupervisor } from '../../../src/runtime/dynamic-supervisor.js';
import { connectionSupervisor } from '../../../src/websock/supervision.js';
import { setLogger, type Logger } from '../../../src/runtime/logger.js';
import type { ConnectionOptions } from '../../../src/websock/options.js';
import { RawWebSocket, rawRequest, TestClient, within } from '../../conformance/client.js';
import { Recorder, scripted } from '../../conformance/handlers.js';

/**
 * A user's own node:http server: ordinary routes, and WebSocket upgrades on
 * some paths with per-path options, each through `upgrade()`.
 */
const rec = new Recorder();
const handler = scripted(rec);
const routes: Record<string, ConnectionOptions> = {
  '/ws': {},
  '/small': { maxFrameSize: 10 },
  '/late': { earlyValidateUpgrade: false },
  '/picky': {
    checkOrigin: () => {
      throw new Error('origin service down');
    },
  },
};
const upgrades: Promise<Pid | undefined>[] = [];
let server: Server;
let url: string;
let previousLogger: Logger;

beforeAll(async () => {
  previousLogger = setLogger(() => undefined);
  server = createServer((req, res) => {
    if (req.url === '/health') res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    else res.writeHead(404).end();
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const opts = routes[path];
    if (opts === undefined) {
      socket.destroy();
      return;
    }
    const result = upgrade(req, socket, head, handler, { path }, opts);
    result.catch(() => undefined);
    upgrades.push(result);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  setLogger(previousLogger);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Resolves once `pid` is a child of `sup`, which adopts it after it started. */
async function joined(sup: Pid, pid: Pid): Promise<void> {
  await within(
    (async () => {
      while (!(await DynamicSupervisor.whichChildren(sup)).some((c) => c.pid === pid)) await new Promise((r) => setTimeout(r, 5));
    })(),
    'the connection to join its supervisor',
  );
}

/** The promise `upgrade()` returned for the latest upgrade request. */
function lastUpgrade(): Promise<Pid | undefined> {
  const last = upgrades.at(-1);
  if (last === undefined) throw new Error('no upgrade happened');
  return last;
}

describe('upgrade() on a node:http server of your own', () => {
  it('serves ordinary HTTP routes beside WebSocket upgrades', async () => {
    const client = await TestClient.open(url, { path: '/ws' });
    const res = await fetch(`http://127.0.0.1:${new URL(url).port}/health`);
    expect([res.status, await res.text()]).toEqual([200, 'ok']);
    client.send('still open');
    expect(await client.text()).toBe('still open');
    client.ws.close();
    await client.closeSeen();
  });

  it('resolves with the pid of the connection, whose init gets the args', async () => {
    const before = rec.count('init');
    const client = await TestClient.open(url, { path: '/ws?x=1' });
    const pid = await lastUpgrade();
    const init = await rec.nth('init', before);
    expect(init.self).toBe(pid);
    expect(init.input).toEqual({ path: '/ws' });
    client.ws.close();
    await client.closeSeen();
  });

  it('resolves with undefined for a refused upgrade, which gets 400 and the reason', async () => {
    const res = await rawRequest(url, { path: '/ws', method: 'POST' });
    expect([res.status, res.body]).toEqual([400, 'HTTP method POST unsupported']);
    expect(await lastUpgrade()).toBeUndefined();
  });

  it('applies the options given for each path', async () => {
    const small = await TestClient.open(url, { path: '/small' });
    const ws = await TestClient.open(url, { path: '/ws' });
    ws.send('more than ten bytes');
    expect(await ws.text()).toBe('more than ten bytes');
    small.send('more than ten bytes');
    expect((await small.closeSeen()).code).toBe(1009);
    ws.ws.close();
    await ws.closeSeen();
  });

  it('is a temporary child of the default connection supervisor, whose shutdown closes it with 1001', async () => {
    const client = await TestClient.open(url, { path: '/ws' });
    const pid = (await lastUpgrade()) as Pid;
    const sup = await connectionSupervisor();
    await joined(sup, pid);
    expect(whereis('beamsock.connections')).toBe(sup);
    await DynamicSupervisor.terminateChild(sup, pid);
    expect((await client.closeSeen()).code).toBe(1001);
    expect((await rec.terminated(pid)).reason).toBe('shutdown');
    expect(isAlive(pid)).toBe(false);
  });

  it('never runs a connection unsupervised: once the default supervisor is stopped, the next upgrade starts a new one', async () => {
    const first = await TestClient.open(url, { path: '/ws' });
    const firstPid = (await lastUpgrade()) as Pid;
    const stopped = await connectionSupervisor();
    await joined(stopped, firstPid);
    await DynamicSupervisor.stop(stopped);
    expect((await first.closeSeen()).code).toBe(1001);
    const client = await TestClient.open(url, { path: '/ws' });
    const pid = (await lastUpgrade()) as Pid;
    const sup = await connectionSupervisor();
    expect(sup).not.toBe(stopped);
    expect(whereis('beamsock.connections')).toBe(sup);
    await joined(sup, pid);
    expect(processInfo(pid)?.parent).toBe(sup);
    client.ws.close();
    await client.closeSeen();
  });

  it('answers 500 and rejects when a checkOrigin function throws, and the server keeps serving', async () => {
    const res = await rawRequest(url, { path: '/picky', headers: { Origin: 'http://a.example' } });
    expect(res.status).toBe(500);
    await expect(lastUpgrade()).rejects.toThrow('origin service down');
    const client = await TestClient.open(url, { path: '/ws' });
    client.ws.close();
    await client.closeSeen();
  });

  it('throws at once, naming the option, for invalid options', () => {
    const req = { headers: {}, method: 'GET', httpVersion: '1.1' } as IncomingMessage;
    const socket = { destroy: () => undefined } as unknown as Duplex;
    expect(() => upgrade(req, socket, Buffer.alloc(0), handler, null, { maxFramSize: 1 } as ConnectionOptions)).toThrow(
      /unknown option 'maxFramSize'.*'maxFrameSize'/,
    );
  });
});

describe('upgrade() with earlyValidateUpgrade: false', () => {
  it("leaves validation to ws, which does not require Host", async () => {
    const raw = await RawWebSocket.open(url, { path: '/late', headers: { Host: undefined } });
    expect(raw.response.status).toBe(101);
    const pid = await lastUpgrade();
    expect(pid).toBeDefined();
    raw.destroy();
    await rec.terminated(pid);
  });

  it("answers ws's own refusal with 400 and ws's message, and resolves undefined", async () => {
    const res = await rawRequest(url, { path: '/late', method: 'POST' });
    expect([res.status, res.body]).toEqual([400, 'Invalid HTTP method']);
    expect(await within(lastUpgrade(), 'the upgrade promise')).toBeUndefined();
  });

  it('accepts Sec-WebSocket-Version 8, as ws does, where early validation requires 13', async () => {
    const early = await rawRequest(url, { path: '/ws', headers: { 'Sec-WebSocket-Version': '8' } });
    expect(early.status).toBe(426);
    const raw = await RawWebSocket.open(url, { path: '/late', headers: { 'Sec-WebSocket-Version': '8' } });
    expect(raw.response.status).toBe(101);
    raw.destroy();
  });
});

describe('serve() with an args function', () => {
  it('answers 500 when the function throws, and keeps serving', async () => {
    let calls = 0;
    const server = await serve(handler, {
      port: 0,
      args: () => {
        if (++calls === 1) throw new Error('no session');
        return 'second';
      },
    });
    try {
      expect((await rawRequest(server.url, {})).status).toBe(500);
      const client = await TestClient.open(server.url);
      client.send('up');
      expect(await client.text()).toBe('up');
      expect(rec.of('init').at(-1)?.input).toBe('second');
    } finally {
      await server.close(1_000);
    }
  });
});
