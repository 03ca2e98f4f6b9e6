/**
 * A ping flood from a client that never reads: every ping asks for a pong the
 * client will not take, so pongs pile up on the server unless something bounds
 * them. Each server bounds it its own way: ws cuts the connection (no close
 * frame) a few MiB into the flood, Bun reads it all but stops queueing pongs at
 * 16 MiB unwritten (it drops the rest), Deno stops reading and TCP holds the
 * attacker back. Either way the server grows by less than the bound while the
 * bystander loses nothing.
 */
import { describe, expect, it } from 'vitest';
import { clientFrame, MiB, OP, RawSocket, RUNTIMES, scaled, serverFor, TEST_TIMEOUT_MS, underAttack } from './support.js';

/** Bytes of pings the attacker tries to send: far over what the kernel's socket buffers hold (tens of MiB on loopback). */
const FLOOD_BYTES = scaled(64, 2048) * MiB;
/**
 * Bun, which reads the whole flood, holds its 16 MiB of pongs and the garbage of
 * the ping events between collections: about 50 MiB, the same for 64 MiB and
 * 2 GiB of pings (what makes it a bound rather than a backlog).
 */
const MEMORY_BOUND = 96 * MiB;
/** A write the kernel has not taken for this long: the server stopped reading. */
const STALLED_MS = 3_000;
/** How each server ends the flood. */
const OUTCOME: Record<(typeof RUNTIMES)[number], Outcome> = { ws: 'cut', bun: 'absorbed', deno: 'held back' };
type Outcome = 'absorbed' | 'cut' | 'held back';

describe.each(RUNTIMES)('ping flood on %s', (runtime) => {
  const target = serverFor(runtime);

  it(`pings from a client that never reads are ${OUTCOME[runtime]}, the server growing by less than ${MEMORY_BOUND / MiB} MiB`, () =>
    underAttack(target(), MEMORY_BOUND, async () => {
      const attacker = await RawSocket.open(target().port, { read: false });
      const batch = Buffer.concat(Array.from({ length: 512 }, () => clientFrame(OP.ping, Buffer.alloc(125, 0x70))));
      let sent = 0;
      let outcome: Outcome = 'absorbed';
      while (sent < FLOOD_BYTES) {
        const stalled = new Promise<'held back'>((r) => setTimeout(() => r('held back'), STALLED_MS).unref());
        const r = await Promise.race([attacker.write(batch).then(() => (attacker.socket.destroyed ? 'cut' : 'written') as 'cut' | 'written'), stalled, attacker.ended.then(() => 'cut' as const)]);
        if (r !== 'written') {
          outcome = r;
          break;
        }
        sent += batch.length;
      }
      attacker.socket.destroy();
      expect(outcome).toBe(OUTCOME[runtime]);
    }), TEST_TIMEOUT_MS);
});
