/**
 * Slowloris: clients that connect and send nothing, or trickle an upgrade
 * request's head a few bytes at a time, to hold connections open for ever.
 * On ws, `serve()`'s `upgradeTimeout` (1 s here; 10 s by default) cuts them with
 * 408 Request Timeout; Bun cuts them without an answer after its own fixed 10 s
 * (within its 4 s timer tick). Deno.serve has no timer on a request head, so
 * there the attackers stay: what is checked is that they cost the bystander
 * nothing and the server little. Bun's and Deno's `serve()` refuse the option.
 *
 * A trickler may get a reset instead of its 408 (on ws) or its FIN (on Bun):
 * the server answers and lets go at once, and a client still writing has bytes
 * the server never read, so the kernel resets the connection (RFC 1122
 * 4.2.2.13), which may overtake the answer. Of 2,000 tricklers a fifth (Bun)
 * to two fifths (ws) ended that way here; a silent client never does.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Answer, DEADLINE_MS, MiB, rawConnection, scaled, serverFor, TEST_TIMEOUT_MS, underAttack, UPGRADE_TIMEOUT_MS } from './support.js';

/** Attackers of each kind at once. */
const ATTACKERS = scaled(20, 2_000);
const MEMORY_BOUND = 64 * MiB;
/** The head a trickler sends, never finished: it sends one more header line every 100 ms. */
const HEAD = `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n`;

/**
 * Attackers opened at a time, each wave once the last has connected. A burst
 * of thousands overflows the listen queue (511 on Node), and a client whose
 * handshake the server's kernel then dropped believes it is connected to
 * nothing: a silent one would wait for ever (seen: about 100 in 4,000).
 */
const WAVE = 200;

type Attacker = ReturnType<typeof rawConnection>;

/**
 * Opens the silent and the trickling attackers together, in waves; the
 * trickling ones keep sending header lines until cut. Resolves once all have
 * connected.
 */
async function slowloris(port: number): Promise<{ answers(): Promise<{ silent: Answer[]; trickling: Answer[] }>; held(): boolean; stop(): void }> {
  const silent: Attacker[] = [];
  const trickling: Attacker[] = [];
  const timer = setInterval(() => {
    for (const { socket } of trickling) if (socket.writable) socket.write(socket.bytesWritten === 0 ? HEAD : `X-Slow-${socket.bytesWritten}: ${'a'.repeat(8)}\r\n`);
  }, 100);
  const open = (into: Attacker[]): Attacker => {
    const attacker = rawConnection(port);
    // Should the server's kernel drop one anyway, the first probe is answered with a reset: the test fails rather than hangs.
    attacker.socket.setKeepAlive(true, 1_000);
    into.push(attacker);
    return attacker;
  };
  for (let opened = 0; opened < ATTACKERS; opened += WAVE / 2) {
    const wave = Array.from({ length: Math.min(WAVE / 2, ATTACKERS - opened) }, () => [open(silent), open(trickling)]).flat();
    await Promise.all(wave.map((a) => a.connected));
  }
  const all = [...silent, ...trickling];
  return {
    async answers() {
      const answered = { silent: await Promise.all(silent.map((a) => a.answer)), trickling: await Promise.all(trickling.map((a) => a.answer)) };
      clearInterval(timer);
      return answered;
    },
    held: () => all.every(({ socket }) => !socket.destroyed),
    stop() {
      clearInterval(timer);
      for (const { socket } of all) socket.destroy();
    },
  };
}

/** What each kind of attacker read before it was cut. */
async function cutAnswers(port: number): Promise<{ silent: Answer[]; trickling: Answer[] }> {
  return (await slowloris(port)).answers();
}

const REQUEST_TIMEOUT = /^HTTP\/1\.1 408 Request Timeout\r\n/;

describe('slowloris on ws, upgradeTimeout 1 s', () => {
  const target = serverFor('ws', UPGRADE_TIMEOUT_MS);

  it(`${ATTACKERS} silent and ${ATTACKERS} trickling clients get 408 and are cut, the bystander losing nothing`, () =>
    underAttack(target(), MEMORY_BOUND, async () => {
      const started = Date.now();
      const { silent, trickling } = await cutAnswers(target().port);
      for (const { text } of silent) expect(text).toMatch(REQUEST_TIMEOUT);
      for (const { text, reset } of trickling) if (!reset) expect(text).toMatch(REQUEST_TIMEOUT);
      expect(trickling.some(({ text }) => REQUEST_TIMEOUT.test(text)), 'a trickler answered 408').toBe(true);
      // Cut by the timeout, not refused at once (no timing bound: a loaded machine is slow).
      expect(Date.now() - started).toBeGreaterThanOrEqual(UPGRADE_TIMEOUT_MS);
    }), TEST_TIMEOUT_MS);
});

describe('slowloris on bun, its own 10 s', () => {
  const target = serverFor('bun');

  it(`${ATTACKERS} silent and ${ATTACKERS} trickling clients are cut without an answer, the bystander losing nothing`, () =>
    underAttack(target(), MEMORY_BOUND, async () => {
      const { silent, trickling } = await cutAnswers(target().port);
      for (const { text } of [...silent, ...trickling]) expect(text).toBe('');
    }), TEST_TIMEOUT_MS);
});

describe('slowloris on deno', () => {
  const target = serverFor('deno');

  it(`${ATTACKERS} silent and ${ATTACKERS} trickling clients held open cost the bystander nothing and the server under 64 MiB`, () =>
    underAttack(target(), MEMORY_BOUND, async () => {
      const attackers = await slowloris(target().port);
      // The attackers hold their connections while the bystander keeps talking.
      await new Promise((r) => setTimeout(r, 2_000));
      expect(attackers.held(), 'every attacker still connected').toBe(true);
      attackers.stop();
      await attackers.answers();
    }), TEST_TIMEOUT_MS);
});

describe.each([
  ['bun', "option 'upgradeTimeout' cannot be honoured on Bun: Bun cuts a connection that has not sent a whole request head after its own 10 s"],
  ['deno', "option 'upgradeTimeout' cannot be honoured on Deno: Deno.serve has no timer on a request head"],
] as const)('serve() on %s', (runtime, message) => {
  it('refuses upgradeTimeout at start-up, saying why', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const [bin, ...args] = runtime === 'bun' ? [path.join(root, 'node_modules', '.bin', 'bun')] : [path.join(root, 'node_modules', '.bin', 'deno'), 'run', '-A', '--sloppy-imports'];
    const child = spawn(bin as string, [...args, 'test/hostile/server.ts'], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', HOSTILE_FORCE_UPGRADE_TIMEOUT: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(output).toContain(message);
  }, DEADLINE_MS * 2);
});
