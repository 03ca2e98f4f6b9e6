/**
 * Inflate bombs: a permessage-deflate message of a few hundred KiB on the wire
 * that inflates to hundreds of MiB, in one frame and spread over fragments. The
 * server stops inflating at `maxFrameSize` and closes with 1009 (Message Too
 * Big), holding no more than a few MiB; Deno, which negotiates no compression,
 * drops the connection at the compressed frame (RSV1 set) without a close frame.
 */
import { describe, expect, it } from 'vitest';
import { clientFrame, inflateBomb, MiB, OP, RawSocket, RUNTIMES, scaled, serverFor, TEST_TIMEOUT_MS, underAttack } from './support.js';

/** Inflated size of the bomb: its compressed size stays under the 1 MiB maxFrameSize. */
const BOMB_MIB = scaled(256, 900);
/** What the server may grow by while it is bombed: far under the bomb's inflated size. */
const MEMORY_BOUND = 64 * MiB;

describe.each(RUNTIMES)('inflate bombs on %s', (runtime) => {
  const target = serverFor(runtime);
  const expected = runtime === 'deno' ? undefined : 1009;
  const answer = expected === undefined ? 'cut without a close frame' : `closed with ${expected}`;

  const bombard = (frames: (bomb: Buffer) => Buffer[]): Promise<void> =>
    underAttack(target(), MEMORY_BOUND, async () => {
      const attacker = await RawSocket.open(target().port, { deflate: true });
      expect(attacker.extensions.includes('permessage-deflate')).toBe(runtime !== 'deno');
      for (const frame of frames(inflateBomb(BOMB_MIB))) await attacker.write(frame);
      expect(await attacker.closed()).toBe(expected);
    });

  it(`a bomb in one frame is ${answer}, the server growing by less than 64 MiB`, () => bombard((bomb) => [clientFrame(OP.binary, bomb, { rsv1: true })]), TEST_TIMEOUT_MS);

  it(`a bomb in 1 KiB fragments is ${answer}, the server growing by less than 64 MiB`, () =>
    bombard((bomb) => {
      const frames: Buffer[] = [];
      for (let at = 0; at < bomb.length; at += 1024) {
        const first = at === 0;
        const last = at + 1024 >= bomb.length;
        frames.push(clientFrame(first ? OP.binary : 0, bomb.subarray(at, at + 1024), { fin: last, rsv1: first }));
      }
      return frames;
    }), TEST_TIMEOUT_MS);
});
