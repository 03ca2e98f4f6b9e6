/**
 * The Redis transport, on `redis` 6.x (node-redis): one connection for commands
 * (PUBLISH) and one subscriber connection, as Redis pub/sub requires.
 */
import { createClient } from 'redis';
import { StatusListeners, type Transport, type Unsubscribe } from './transport.js';

/** Options for `connectRedis`. */
export interface RedisTransportOptions {
  /** `redis://host:port`. Default `'redis://127.0.0.1:6379'`. */
  readonly url?: string;
  /** Milliseconds between reconnect attempts. Default 100. */
  readonly reconnectDelay?: number;
}

type Client = ReturnType<typeof createClient>;

/**
 * Connects to Redis (two connections) and returns a transport for `startNode`.
 * Reconnects forever and resubscribes by itself. Commands are never queued while
 * Redis is away (`disableOfflineQueue`): the node's outbox holds and retransmits them.
 *
 * @example
 * const transport = await connectRedis({ url: 'redis://127.0.0.1:6379' });
 * await startNode({ name: 'chat-1', transport });
 */
export async function connectRedis(options: RedisTransportOptions = {}): Promise<Transport> {
  const delay = options.reconnectDelay ?? 100;
  const pub: Client = createClient({
    url: options.url ?? 'redis://127.0.0.1:6379',
    socket: { reconnectStrategy: () => delay },
    disableOfflineQueue: true,
  });
  const sub = pub.duplicate();
  const transport = new RedisTransport(pub, sub);
  await Promise.all([pub.connect(), sub.connect()]);
  return transport;
}

class RedisTransport implements Transport {
  readonly kind = 'redis';
  // Redis accepts 512 MB; beamsock keeps NATS's default so both transports cut alike.
  readonly maxPayload = 1024 * 1024;
  private readonly status = new StatusListeners();
  private closing = false;

  constructor(
    private readonly pub: Client,
    private readonly sub: Client,
  ) {
    for (const c of [pub, sub]) {
      // Without an 'error' listener node-redis would throw on every failed reconnect.
      c.on('error', () => this.update());
      c.on('end', () => this.update());
      c.on('reconnecting', () => this.update());
      c.on('ready', () => this.update());
    }
  }

  private update(): void {
    if (this.closing) return;
    this.status.set(this.pub.isReady && this.sub.isReady ? 'up' : 'down');
  }

  isUp(): boolean {
    return this.status.status === 'up' && !this.closing;
  }

  publish(subject: string, data: Uint8Array): void {
    if (!this.pub.isReady) return;
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.pub.publish(subject, buf).catch(() => {
      // Lost with the connection: the node detects it and retransmits.
    });
  }

  async subscribe(subject: string, onMessage: (data: Uint8Array) => void): Promise<Unsubscribe> {
    const listener = (message: Buffer): void => onMessage(message);
    await this.sub.subscribe(subject, listener, true);
    return async () => {
      if (this.sub.isReady) await this.sub.unsubscribe(subject, listener, true);
    };
  }

  onStatus(listener: (status: 'up' | 'down') => void): () => void {
    return this.status.add(listener);
  }

  async flush(): Promise<void> {
    if (!this.pub.isReady) return;
    try {
      // Commands on one connection complete in order: a PING answered means every PUBLISH before it was.
      await this.pub.ping();
    } catch {
      // Interrupted by a disconnect: the status change tells the node.
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await Promise.all(
      [this.pub, this.sub].map(async (c) => {
        if (c.isOpen && c.isReady) await c.close();
        else c.destroy();
      }),
    );
  }
}
