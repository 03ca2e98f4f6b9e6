/**
 * A well-behaved client in a process of its own (so the load client's work does
 * not show in its figures): one connection to 127.0.0.1:`port` (argv[2]) that
 * sends a 32-byte echo every `INTERVAL_MS`, whether or not the last came back,
 * and times each round trip from when it was sent. A server that stalls for a
 * second so delays every message sent in that second, as a user would feel it
 * (a client that waited for each echo would count the stall once). Over IPC,
 * `'window'` answers the round trips completed since the previous `'window'` as a
 * `LatencyWindow` and starts a new window. Exits when its parent goes.
 */
import { echoFrame, openClients } from './load-client.js';

const INTERVAL_MS = 2;

/** Round trips of one window, in ms. */
export interface LatencyWindow {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * The p50, p99 and largest of `times`.
 *
 * @example
 * summarize([1, 2, 3]); // { count: 3, p50: 2, p99: 3, max: 3 }
 */
export function summarize(times: readonly number[]): LatencyWindow {
  const s = [...times].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  return { count: s.length, p50: at(0.5), p99: at(0.99), max: s[s.length - 1] ?? NaN };
}

async function main(port: number): Promise<void> {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('bench/latency-client.ts is started by bench/stall.ts (it needs the IPC channel)');
  const [client] = await openClients(port, 1);
  if (client === undefined) throw new Error('no connection');
  const frame = echoFrame();
  let times: number[] = [];
  // Send times of the echoes in flight, oldest first: the server answers in order.
  const sent: number[] = [];
  let oldest = 0;
  client.onFrames = (n) => {
    const now = performance.now();
    for (let i = 0; i < n; i++) times.push(now - (sent[oldest++] as number));
    if (oldest === sent.length) {
      sent.length = 0;
      oldest = 0;
    }
  };
  const ticker = setInterval(() => {
    sent.push(performance.now());
    client.socket.write(frame);
  }, INTERVAL_MS);
  process.on('disconnect', () => {
    clearInterval(ticker);
    process.exit(0);
  });
  process.on('message', () => {
    const window = summarize(times);
    times = [];
    send(window);
  });
  send('ready');
}

if (process.argv[1]?.endsWith('latency-client.ts') === true) await main(Number(process.argv[2]));
