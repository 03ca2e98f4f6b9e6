// Helpers for driving a channels server with the official phoenix client.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer, connect as tcpConnect, type Server, type Socket as TcpSocket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Socket, type Channel, type Push, type SocketOptions } from 'phoenix';
import { WebSocket } from 'ws';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEADLINE_MS = 10_000;

/** A channels server in a child process (Node + ws, or Bun), from fixtures/server.ts. */
export class ServerProc {
  private constructor(
    readonly child: ChildProcessWithoutNullStreams,
    readonly port: number,
  ) {}

  static async start(runtime: 'node' | 'bun', env: Record<string, string> = {}): Promise<ServerProc> {
    const file = 'test/channels/fixtures/server.ts';
    const child =
      runtime === 'bun'
        ? spawn(`${ROOT}node_modules/.bin/bun`, ['--conditions=beamsock-source', file], { cwd: ROOT, env: { ...process.env, ...env } })
        : spawn(process.execPath, ['--conditions=beamsock-source', '--import', 'tsx', file], { cwd: ROOT, env: { ...process.env, ...env } });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /\{"port":(\d+)\}/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`server exited with ${String(code)}: ${out}\n${err}`)));
    });
    return new ServerProc(child, port);
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/socket`;
  }

  broadcast(topic: string, event: string, payload: unknown): void {
    this.child.stdin.write(`${JSON.stringify({ topic, event, payload })}\n`);
  }

  /** Kills the process without warning, as a crashed machine. */
  async kill(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin.end();
    await exited;
  }
}

/** An official phoenix client socket over the ws package. */
export function client(url: string, opts: SocketOptions = {}): Socket {
  const socket = new Socket(url, { transport: WebSocket, reconnectAfterMs: () => 50, rejoinAfterMs: () => 50, ...opts });
  socket.connect();
  return socket;
}

/** Resolves with the reply to a push (`ok` or `error`), rejects on timeout. */
export function answer(push: Push): Promise<{ status: 'ok' | 'error'; response: any }> {
  return new Promise((resolve, reject) => {
    push.receive('ok', (response) => resolve({ status: 'ok', response }));
    push.receive('error', (response) => resolve({ status: 'error', response }));
    push.receive('timeout', () => reject(new Error('no reply before the client timeout')));
  });
}

/** Joins and resolves with the join's reply. */
export function join(channel: Channel): Promise<{ status: 'ok' | 'error'; response: any }> {
  return answer(channel.join());
}

/** The next `event` on `channel`. */
export function next(channel: Channel, event: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' on ${channel.topic} in ${DEADLINE_MS} ms`)), DEADLINE_MS);
    const ref = channel.on(event, (payload) => {
      clearTimeout(timer);
      channel.off(event, ref);
      resolve(payload);
    });
  });
}

/** Resolves when `check` holds, polling on events rather than time where the caller can't. */
export async function until(check: () => boolean, what: string): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > DEADLINE_MS) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A TCP proxy whose current connections can be frozen (nothing passes either way), as a network that goes silent. */
export class FreezableProxy {
  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly pairs: [TcpSocket, TcpSocket, { frozen: boolean }][],
  ) {}

  static async start(targetPort: number): Promise<FreezableProxy> {
    const pairs: [TcpSocket, TcpSocket, { frozen: boolean }][] = [];
    const server = createServer((down) => {
      const up = tcpConnect(targetPort, '127.0.0.1');
      const flag = { frozen: false };
      pairs.push([down, up, flag]);
      down.on('data', (d) => flag.frozen || up.write(d));
      up.on('data', (d) => flag.frozen || down.write(d));
      down.on('close', () => up.destroy());
      up.on('close', () => down.destroy());
      down.on('error', () => undefined);
      up.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return new FreezableProxy(server, (server.address() as { port: number }).port, pairs);
  }

  freeze(): void {
    for (const [, , flag] of this.pairs) flag.frozen = true;
  }

  close(): Promise<void> {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    return new Promise((r) => this.server.close(() => r()));
  }
}
