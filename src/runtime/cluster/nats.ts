/**
 * The NATS transport, on `@nats-io/transport-node` 3.x (the maintained nats.js line).
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { StatusListeners, type Transport, type Unsubscribe } from './transport.js';

/** Options for `connectNats`. */
export interface NatsTransportOptions {
  /** Server URL(s), e.g. `'nats://127.0.0.1:4222'`. Default `'127.0.0.1:4222'`. */
  readonly servers?: string | string[];
  /** The connection name the server shows (`connz`). */
  readonly name?: string;
  /** Milliseconds between reconnect attempts. Default 100: a restarted broker is found quickly. */
  readonly reconnectTimeWait?: number;
}

/**
 * Connects to NATS and returns a transport for `startNode`. Reconnects forever; the
 * node treats the time away as an outage (see the README's Cluster section).
 *
 * @example
 * const transport = await connectNats({ servers: 'nats://127.0.0.1:4222' });
 * await startNode({ name: 'chat-1', transport });
 */
export async function connectNats(options: NatsTransportOptions = {}): Promise<Transport> {
  const nc = await connect({
    servers: options.servers ?? '127.0.0.1:4222',
    ...(options.name === undefined ? {} : { name: options.name }),
    maxReconnectAttempts: -1,
    reconnectTimeWait: options.reconnectTimeWait ?? 100,
    reconnectJitter: 20,
  });
  return new NatsTransport(nc);
}

class NatsTransport implements Transport {
  readonly kind = 'nats';
  readonly maxPayload: number;
  private readonly status = new StatusListeners();
  private closing = false;

  constructor(private readonly nc: NatsConnection) {
    this.maxPayload = nc.info?.max_payload ?? 1024 * 1024;
    void this.watch();
  }

  private async watch(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect' || s.type === 'staleConnection') this.status.set('down');
      else if (s.type === 'reconnect') this.status.set('up');
    }
  }

  isUp(): boolean {
    return this.status.status === 'up' && !this.closing;
  }

  publish(subject: string, data: Uint8Array): void {
    try {
      this.nc.publish(subject, data);
    } catch {
      // Closed or closing: the node counts what it could not deliver.
    }
  }

  async subscribe(subject: string, onMessage: (data: Uint8Array) => void): Promise<Unsubscribe> {
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err === null) onMessage(msg.data);
      },
    });
    await this.flush();
    return async () => {
      sub.unsubscribe();
      await this.flush();
    };
  }

  onStatus(listener: (status: 'up' | 'down') => void): () => void {
    return this.status.add(listener);
  }

  async flush(): Promise<void> {
    if (!this.isUp()) return;
    try {
      await this.nc.flush();
    } catch {
      // A flush interrupted by a disconnect: the status change tells the node.
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.nc.close();
    await this.nc.closed();
  }
}
