/**
 * Hostile fragmentation, against the echo server on ws, Bun and Deno (each a
 * separate process running `fragments-server.ts`): a message of a million
 * one-byte fragments, and fragments without end. A message is bounded by its
 * size (`maxFrameSize`, on ws with each fragment charged 128 bytes of it) and by
 * time (`maxMessageTime` on ws; on Bun and Deno, which show only whole messages,
 * the idle timeout), never by a fixed count of fragments. Each attack checks
 * the close code the attacker gets, that a well-behaved client on the same
 * server meanwhile gets every echo in order, and the server's peak memory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '../../src/adapters/ws/server.js';
import { Echo } from '../../examples/echo/echo-server.js';
import { Op, RawWebSocket, TestClient } from '../conformance/client.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SERVER = 'test/hostile/fragments-server.ts';
const bin = (name: string): string => path.join(ROOT, 'node_modules', '.bin', name);
// --sloppy-imports: the sources import './x.js' for './x.ts', as tsc and Bun resolve it.
const COMMANDS = {
  ws: [process.execPath, '--conditions=beamsock-source', '--import', 'tsx', SERVER],
  bun: [bin('bun'), '--conditions=beamsock-source', SERVER],
  deno: [bin('deno'), 'run', '-A', '--conditions=beamsock-source', '--sloppy-imports', SERVER],
} as const;

/** A small size bound, so that a million one-byte fragments (1 MB) are over it on every server; times short enough for a test. */
const LIMITS = { maxFrameSize: 256 * 1024, maxMessageTime: 1_000, timeout: 3_000 };
/** What the server may grow by during an attack: the attack's own bytes are 7 MB, and a fragment kept by ws costs about 120. */
const MEMORY_BOUND = 48 * 1024 * 1024;
/** Starting tsx, bun or deno on a loaded machine takes its time. */
const START_MS = 60_000;

/**
 * What the attacker gets, per server. A million one-byte fragments: ws refuses
 * them once they cost more than maxFrameSize (1008, ws's code for too many
 * fragments), Bun and Deno once their payload does (1009). Fragments without
 * end: ws cuts them at maxMessageTime (1008), pings between them or not; Bun and
 * Deno show no piece of a message, so their idle timeout cuts them (1000). On
 * Bun a ping resets that clock, so there the attacker sends no pings: with them,
 * only maxFrameSize bounds the message (see README, Bad input and limits).
 */
const EXPECTED = {
  ws: { million: 1008, endless: 1008, pings: true },
  bun: { million: 1009, endless: 1000, pings: false },
  deno: { million: 1009, endless: 1000, pings: true },
} as const;

/** One server process, with the peak of the memory it reports. */
class ServerProcess {
  url = '';
  private rss: number[] = [];
  private child!: ChildProcess;

  async start(runtime: keyof typeof COMMANDS): Promise<void> {
    const [command, ...args] = COMMANDS[runtime];
    this.child = spawn(command, args, { cwd: ROOT, env: { ...process.env, LIMITS: JSON.stringify(LIMITS) }, stdio: ['ignore', 'pipe', 'inherit'] });
    let buffered = '';
    await new Promise<void>((resolve, reject) => {
      this.child.once('exit', (code) => reject(new Error(`the ${runtime} server exited with ${code} before listening`)));
      this.child.stdout?.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() as string;
        for (const line of lines) {
          const report = JSON.parse(line) as { url?: string; rss?: number };
          if (report.url !== undefined) {
            this.url = report.url;
            resolve();
          }
          if (report.rss !== undefined) this.rss.push(report.rss);
        }
      });
    });
  }

  /** The next memory report. */
  async memory(): Promise<number> {
    const seen = this.rss.length;
    await until(() => this.rss.length > seen);
    return this.rss[this.rss.length - 1] as number;
  }

  /** How many memory reports came so far: `peakSince` takes it. */
  get reports(): number {
    return this.rss.length;
  }

  /** The highest memory reported since `reports` was `mark`. */
  peakSince(mark: number): number {
    return Math.max(...this.rss.slice(mark));
  }

  stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}

/** Resolves once `cond` holds, checking at each turn of the event loop; rejects after 10 s. */
async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out after 10 s');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * A client that sends a text message every 20 ms until told to stop, each echo
 * awaited before the next: what it sent and what came back must be the same
 * list, in order, and it must still be open at the end.
 */
function wellBehaved(url: string): { stop(): Promise<{ sent: string[]; got: string[]; open: boolean }> } {
  let stopping = false;
  const sent: string[] = [];
  const got: string[] = [];
  const running = (async () => {
    const client = await TestClient.open(url);
    try {
      for (let i = 0; !stopping; i++) {
        sent.push(`hello ${i}`);
        client.send(`hello ${i}`);
        got.push(await client.text());
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } catch (e) {
      // The message names every frame so far: the lists compared in the test say it shorter.
      got.push(`(${(e as Error).message.slice(0, 80)}...)`);
    }
    const open = client.isOpen;
    client.ws.close();
    await client.closeSeen();
    return open;
  })();
  return {
    async stop() {
      stopping = true;
      return { sent, got, open: await running };
    },
  };
}

/** A masked client frame of one byte (mask 0: the payload goes as is). */
function oneByteFrame(opcode: number, fin: boolean): Buffer {
  return Buffer.from([(fin ? 0x80 : 0) | opcode, 0x81, 0, 0, 0, 0, 0x61]);
}

describe.each(['ws', 'bun', 'deno'] as const)('fragments against %s', (runtime) => {
  const server = new ServerProcess();
  beforeAll(() => server.start(runtime), START_MS);
  afterAll(() => server.stop());

  /**
   * Runs `attack` on a fresh raw connection while a well-behaved client echoes,
   * and returns the close code the attacker got; checks that the client got every
   * echo and stayed open, and that the server grew by less than MEMORY_BOUND.
   */
  async function underAttack(attack: (attacker: RawWebSocket) => Promise<number>): Promise<number> {
    const before = await server.memory();
    const mark = server.reports;
    const client = wellBehaved(server.url);
    const attacker = await RawWebSocket.open(server.url);
    let code: number;
    try {
      code = await attack(attacker);
    } finally {
      attacker.destroy();
    }
    await server.memory();
    const { sent, got, open } = await client.stop();
    expect(got.slice(-3)).toEqual(sent.slice(-3));
    expect(got.length).toBe(sent.length);
    expect(open).toBe(true);
    expect(server.peakSince(mark) - before).toBeLessThan(MEMORY_BOUND);
    return code;
  }

  it(`a message of a million one-byte fragments is refused with ${EXPECTED[runtime].million}; a well-behaved client gets every echo; memory stays bounded`, async () => {
    const code = await underAttack(async (attacker) => {
      const frames = Buffer.alloc(7 * 1_000_000);
      for (let i = 0; i < 1_000_000; i++) oneByteFrame(i === 0 ? Op.TEXT : Op.CONTINUATION, i === 999_999).copy(frames, i * 7);
      attacker.writeBytes(frames);
      return (await attacker.closeFrame()).code;
    });
    expect(code).toBe(EXPECTED[runtime].million);
  }, 60_000);

  it(`fragments without end (${EXPECTED[runtime].pings ? 'with' : 'without'} pings between) are cut with ${EXPECTED[runtime].endless}; a well-behaved client gets every echo; memory stays bounded`, async () => {
    const code = await underAttack(async (attacker) => {
      attacker.writeBytes(oneByteFrame(Op.TEXT, false));
      // One more fragment (and a ping) every 50 ms, until the server closes: bytes keep coming, the message never ends.
      const trickle = setInterval(() => {
        attacker.writeBytes(oneByteFrame(Op.CONTINUATION, false));
        if (EXPECTED[runtime].pings) attacker.send(Op.PING, 'still here');
      }, 50);
      try {
        return (await attacker.closeFrame()).code;
      } finally {
        clearInterval(trickle);
      }
    });
    expect(code).toBe(EXPECTED[runtime].endless);
  }, 60_000);

  it('a message in fragments over 600 ms, within maxMessageTime, is echoed whole', async () => {
    const sender = await RawWebSocket.open(server.url);
    for (let i = 0; i < 12; i++) {
      sender.send(i === 0 ? Op.TEXT : Op.CONTINUATION, `${i},`, { fin: i === 11 });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const echo = await sender.nextFrame();
    expect([echo.opcode, echo.payload.toString()]).toEqual([Op.TEXT, '0,1,2,3,4,5,6,7,8,9,10,11,']);
    sender.sendClose(1000);
    expect((await sender.closeFrame()).code).toBe(1000);
  });

  it('pings alone for twice maxMessageTime leave the connection open: no message is unfinished', async () => {
    const pinger = await RawWebSocket.open(server.url);
    for (let i = 0; i < 20; i++) {
      pinger.send(Op.PING, `${i}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    pinger.send(Op.TEXT, 'after the pings');
    for (;;) {
      const frame = await pinger.nextFrame();
      if (frame.opcode === Op.PONG) continue;
      expect([frame.opcode, frame.payload.toString()]).toEqual([Op.TEXT, 'after the pings']);
      break;
    }
    pinger.sendClose(1000);
    expect((await pinger.closeFrame()).code).toBe(1000);
  });
});

describe('ws: the fragment budget follows maxFrameSize (128 bytes a fragment), not a fixed count', () => {
  /** Sends `count` fragments of `size` bytes as one binary message, in one write. */
  function fragmented(raw: RawWebSocket, count: number, size: number): void {
    const payload = Buffer.alloc(size, 0x62);
    const frame = (i: number): Buffer => Buffer.concat([Buffer.from([(i === count - 1 ? 0x80 : 0) | (i === 0 ? Op.BINARY : Op.CONTINUATION), 0x80 | size, 0, 0, 0, 0]), payload]);
    raw.writeBytes(Buffer.concat(Array.from({ length: count }, (_, i) => frame(i))));
  }

  it('20,000 fragments of 64 bytes (over ws\'s own 16,384) are one message under a 4 MiB maxFrameSize; 40,000 of one byte cost more than it (1008)', async () => {
    const server = await serve(Echo, { port: 0, maxFrameSize: 4 * 1024 * 1024 });
    try {
      const raw = await RawWebSocket.open(server.url);
      fragmented(raw, 20_000, 64);
      const echo = await raw.nextFrame();
      expect([echo.opcode, echo.payload.length]).toEqual([Op.BINARY, 20_000 * 64]);
      fragmented(raw, 40_000, 1);
      expect((await raw.closeFrame()).code).toBe(1008);
      raw.destroy();
    } finally {
      await server.close();
    }
  });
});
