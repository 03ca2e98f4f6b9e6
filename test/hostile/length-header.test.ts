/**
 * Oversized length headers: a frame that declares 2^62 payload bytes and sends
 * nothing more is refused from its header alone, without waiting for (or
 * reserving room for) the payload; a frame one byte over `maxFrameSize` gets
 * 1009 on every server (ws and Bun refuse it from its header; Deno reads a
 * message whole, up to its own 64 MiB, before beamsock can check it).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clientFrame, lengthHeader, MAX_FRAME, MiB, OP, RawSocket, RUNTIMES, serverFor, TEST_TIMEOUT_MS, underAttack } from './support.js';

const MEMORY_BOUND = 32 * MiB;

/** What each server answers a length over its limit with: Deno cuts the connection without a close frame. */
const ANSWER: Record<(typeof RUNTIMES)[number], number | undefined> = { ws: 1009, bun: 1009, deno: undefined };

describe.each(RUNTIMES)('oversized length headers on %s', (runtime) => {
  const target = serverFor(runtime);
  const expected = ANSWER[runtime];
  const answer = expected === undefined ? 'cut without a close frame' : `closed with ${expected}`;

  it(`a frame declaring 2^62 bytes is ${answer}`, () =>
    underAttack(target(), MEMORY_BOUND, async () => {
      const attacker = await RawSocket.open(target().port);
      await attacker.write(Buffer.concat([lengthHeader(OP.binary, 2n ** 62n), randomBytes(4), randomBytes(16)]));
      expect(await attacker.closed()).toBe(expected);
    }), TEST_TIMEOUT_MS);

  it('a frame one byte over maxFrameSize is closed with 1009', () =>
    underAttack(target(), MEMORY_BOUND, async () => {
      const attacker = await RawSocket.open(target().port);
      await attacker.write(clientFrame(OP.binary, Buffer.alloc(MAX_FRAME + 1)));
      expect(await attacker.closed()).toBe(1009);
    }), TEST_TIMEOUT_MS);
});
