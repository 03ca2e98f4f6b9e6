/**
 * Brokers for the cluster tests: the shared NATS and Redis (with a unique cluster
 * name per run, so no test depends on a fresh broker), and private ones on spare
 * ports that a fault test may kill and restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { connectNats } from '../../src/runtime/cluster/nats.js';
import { connectRedis } from '../../src/runtime/cluster/redis.js';
import type { Transport } from '../../src/runtime/cluster/transport.js';

export type BrokerKind = 'nats' | 'redis';
export const BROKERS: BrokerKind[] = ['nats', 'redis'];

/** The shared broker's URL. */
export function sharedUrl(kind: BrokerKind): string {
  return kind === 'nats' ? 'nats://127.0.0.1:4222' : 'redis://127.0.0.1:6379';
}

/** A transport of `kind` to `url`. */
export function connectTo(kind: BrokerKind, url: string): Promise<Transport> {
  return kind === 'nats' ? connectNats({ servers: url }) : connectRedis({ url });
}

/** A cluster name no earlier run used: subjects and channels are prefixed with it. */
export function uniqueCluster(): string {
  return `t${process.pid}x${randomBytes(4).toString('hex')}`;
}

/** A port nothing listens on right now. */
export async function sparePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** A broker process of our own, on a spare port. */
export class PrivateBroker {
  private child: ChildProcess | undefined;
  private constructor(
    readonly kind: BrokerKind,
    readonly port: number,
  ) {}

  static async start(kind: BrokerKind): Promise<PrivateBroker> {
    const b = new PrivateBroker(kind, await sparePort());
    await b.restart();
    return b;
  }

  get url(): string {
    return this.kind === 'nats' ? `nats://127.0.0.1:${this.port}` : `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the broker process (again) on the same port; resolves once it accepts clients. */
  async restart(): Promise<void> {
    const [cmd, args, ready] =
      this.kind === 'nats'
        ? (['/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(this.port)], 'Server is ready'] as const)
        : (['redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], 'Ready to accept connections'] as const);
    const child = spawn(cmd, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      const onData = (chunk: Buffer): void => {
        seen += chunk.toString();
        if (seen.includes(ready)) {
          child.stdout?.off('data', onData);
          child.stderr?.off('data', onData);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => reject(new Error(`${cmd} exited with ${String(code)} before it was ready: ${seen}`)));
    });
    child.stdout?.resume();
    child.stderr?.resume();
  }

  /** SIGKILLs the broker; resolves once it is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}
