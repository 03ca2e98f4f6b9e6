import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { serve, type BeamsockServer } from '../../../src/adapters/ws/server.js';
import { push } from '../../../src/websock/behaviour.js';
import { setConnectionOptions } from '../../../src/websock/commands.js';
import { TestClient } from '../../conformance/client.js';
import { Recorder, runIn, scripted } from '../../conformance/handlers.js';
import { OP, RawSocket, clientFrame } from '../../hostile/support.js';

const SRC = fileURLToPath(new URL('../../../src', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

describe("only ws's public API", () => {
  // A member access (`ws._socket`), a computed one (`ws['_receiver']`) or a type that declares one (`_socket: Socket`).
  it('no source file that uses ws touches a member whose name starts with _', () => {
    const users = sourceFiles(SRC).filter((f) => f.includes(`${path.sep}adapters${path.sep}ws${path.sep}`) || /from 'ws'/.test(readFileSync(f, 'utf8')));
    expect(users.length).toBeGreaterThanOrEqual(3);
    const touches = users.flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .flatMap((line, i) => (/\._[A-Za-z]|\[\s*['"`]_[A-Za-z]|^\s*(readonly\s+)?_[A-Za-z]\w*\??\s*:/.test(line) ? [`${path.relative(SRC, f)}:${i + 1}: ${line.trim()}`] : [])),
    );
    // The one exception, documented in transport.ts: quietReceiver reads `_receiver`, and does nothing without it.
    const allowed = (t: string): boolean => /^adapters\/ws\/transport\.ts:\d+: const receiver = \(ws as unknown as \{ readonly _receiver\?: unknown \}\)\._receiver;$/.test(t);
    expect(touches.filter((t) => !allowed(t))).toEqual([]);
    expect(touches.filter(allowed)).toHaveLength(1);
  });
});

describe('a clean close on ws', () => {
  /** One upgrade, a close frame (1000), and the TCP close; resolves once the socket closed. */
  async function life(port: number): Promise<void> {
    const raw = await RawSocket.open(port);
    await raw.write(clientFrame(OP.close, Buffer.from([0x03, 0xe8])));
    await raw.ended;
  }

  /** Calls of `end()` on a stream already finished or destroyed (each builds an error and drops it) while `fn` runs: a frame parser's (a Writable) or a socket's. */
  async function wastedEnds(fn: () => Promise<void>): Promise<number> {
    let wasted = 0;
    const counting = (end: Writable['end']): Writable['end'] =>
      function (this: Writable, ...args: unknown[]) {
        if (args.length === 0 && (this.writableFinished || this.destroyed)) wasted++;
        return (end as (...a: unknown[]) => Writable).apply(this, args);
      } as Writable['end'];
    const writableEnd = Writable.prototype.end;
    const socketEnd = net.Socket.prototype.end;
    Writable.prototype.end = counting(writableEnd);
    net.Socket.prototype.end = counting(socketEnd) as typeof socketEnd;
    try {
      await fn();
    } finally {
      Writable.prototype.end = writableEnd;
      net.Socket.prototype.end = socketEnd;
    }
    return wasted;
  }

  it('builds none of the three errors bare ws builds for its finished frame parser and socket', async () => {
    // Bare ws, for comparison: its receiver is ended again on the socket's 'end' and 'close', the socket on 'end'.
    const http: Server = createServer();
    const wss = new WebSocketServer({ server: http });
    // Its 'close' comes after ws's socket 'end' and 'close' listeners ran.
    const bareClosed = new Promise<void>((resolve) => wss.on('connection', (ws) => ws.on('close', () => resolve())));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const bare = await wastedEnds(async () => {
      await life((http.address() as AddressInfo).port);
      await bareClosed;
    });
    wss.close();
    await new Promise((resolve) => http.close(resolve));
    expect(bare).toBe(3);

    const rec = new Recorder();
    const beamsock = await serve(scripted(rec), { port: 0 });
    try {
      const wasted = await wastedEnds(async () => {
        await life(beamsock.port);
        // terminate runs on ws's 'close', after the same listeners.
        await rec.terminated(await rec.pid());
      });
      expect(wasted).toBe(0);
    } finally {
      await beamsock.close(1_000);
    }
  });
});

describe('maxFrameSize at run time on ws', () => {
  let server: BeamsockServer | undefined;
  afterEach(async () => {
    await server?.close(1_000);
    server = undefined;
  });

  it('cannot be raised over the limit ws was started with: the command throws a RangeError naming both', async () => {
    const rec = new Recorder();
    server = await serve(scripted(rec), { port: 0, maxFrameSize: 100 });
    await TestClient.open(server.url);
    const pid = await rec.pid();
    await expect(runIn(pid, () => setConnectionOptions({ maxFrameSize: 1000 }))).rejects.toThrow(/1000.*100.*only lower/);
    await expect(runIn(pid, () => setConnectionOptions({ maxFrameSize: 0 }))).rejects.toThrow(RangeError);
    await runIn(pid, () => setConnectionOptions({ maxFrameSize: 100 }));
  });

  it('lowered, then back up to the limit ws has: the larger message passes again', async () => {
    const rec = new Recorder();
    server = await serve(
      scripted(rec, {
        handleIn: ([data, { opcode }], st) => {
          if (data === 'low') setConnectionOptions({ maxFrameSize: 10 });
          if (data === 'high') setConnectionOptions({ maxFrameSize: 100 });
          return push([opcode, data], st);
        },
      }),
      { port: 0, maxFrameSize: 100 },
    );
    const c = await TestClient.open(server.url);
    c.send('low');
    expect(await c.text()).toBe('low');
    c.send('high');
    expect(await c.text()).toBe('high');
    c.send('x'.repeat(100));
    expect(await c.text()).toBe('x'.repeat(100));
    c.ws.close(1000);
    await c.closeSeen();
  });
});
