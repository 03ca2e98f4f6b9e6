import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BROKERS, PrivateBroker, connectTo, sharedUrl, uniqueCluster } from './brokers.js';
import type { Transport, TransportStatus } from '../../src/runtime/cluster/transport.js';

function nextMessages(n: number): { push: (d: Uint8Array) => void; done: Promise<Uint8Array[]> } {
  const got: Uint8Array[] = [];
  let resolve!: (v: Uint8Array[]) => void;
  const done = new Promise<Uint8Array[]>((r) => (resolve = r));
  return {
    push: (d) => {
      got.push(d);
      if (got.length === n) resolve(got);
    },
    done,
  };
}

function nextStatus(t: Transport, want: TransportStatus): Promise<void> {
  return new Promise((resolve) => {
    const stop = t.onStatus((s) => {
      if (s === want) {
        stop();
        resolve();
      }
    });
  });
}

describe.each(BROKERS)('%s transport', (kind) => {
  const opened: Transport[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((t) => t.close()));
  });
  const open = async (url = sharedUrl(kind)): Promise<Transport> => {
    const t = await connectTo(kind, url);
    opened.push(t);
    return t;
  };

  it('carries bytes from one connection to another, in order, only on the subscribed subject', async () => {
    const [a, b] = [await open(), await open()];
    const subject = `${uniqueCluster()}.n.b`;
    const rx = nextMessages(1000);
    const other: Uint8Array[] = [];
    await b.subscribe(subject, rx.push);
    await b.subscribe(`${subject}x`, (d) => other.push(d));
    expect(a.isUp()).toBe(true);
    expect(a.maxPayload).toBeGreaterThanOrEqual(1024 * 1024);
    for (let i = 0; i < 1000; i++) a.publish(subject, new Uint8Array([i & 0xff, i >> 8]));
    const got = await rx.done;
    expect(got.map((d) => d[0]! | (d[1]! << 8))).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(other).toEqual([]);
  });

  it('stops delivering after unsubscribe', async () => {
    const [a, b] = [await open(), await open()];
    const subject = `${uniqueCluster()}.n.b`;
    const seen: number[] = [];
    const unsub = await b.subscribe(subject, (d) => seen.push(d[0]!));
    const marker = nextMessages(1);
    await b.subscribe(`${subject}.end`, marker.push);
    a.publish(subject, new Uint8Array([1]));
    await a.flush();
    await unsub();
    a.publish(subject, new Uint8Array([2]));
    a.publish(`${subject}.end`, new Uint8Array([0]));
    await marker.done;
    expect(seen).toEqual([1]);
  });

  it('reports down when its broker dies and up once it is back, then carries messages again (resubscribed)', async () => {
    const broker = await PrivateBroker.start(kind);
    try {
      const [a, b] = [await open(broker.url), await open(broker.url)];
      const subject = `${uniqueCluster()}.n.b`;
      const got: number[] = [];
      let onGot = (): void => {};
      await b.subscribe(subject, (d) => {
        got.push(d[0]!);
        onGot();
      });
      const down = Promise.all([nextStatus(a, 'down'), nextStatus(b, 'down')]);
      await broker.kill();
      await down;
      expect(a.isUp()).toBe(false);
      a.publish(subject, new Uint8Array([7])); // never throws while down
      const up = Promise.all([nextStatus(a, 'up'), nextStatus(b, 'up')]);
      await broker.restart();
      await up;
      // The subscriber may resubscribe a moment after its 'up': publish until one arrives.
      const arrived = new Promise<void>((resolve) => (onGot = resolve));
      const timer = setInterval(() => a.publish(subject, new Uint8Array([9])), 50);
      await arrived;
      clearInterval(timer);
      expect(got).toContain(9);
    } finally {
      await broker.kill();
    }
  });

  it('closes cleanly: a process that closed its transport exits by itself', async () => {
    const child = fork(fileURLToPath(new URL('./fixtures/transport-exit.ts', import.meta.url)), [kind, sharedUrl(kind)], {
      execArgv: ['--conditions=beamsock-source', '--import', 'tsx'],
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(out).toBe('closed\n');
    expect(code).toBe(0);
  });
});
