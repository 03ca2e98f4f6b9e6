/**
 * The one small interface between a beamsock node and a message broker. A transport
 * carries opaque bytes on named subjects, at most once; everything beamsock promises
 * on top (order per pair, no silent gap, retransmission) is built by the node
 * (`node.ts`), because the broker clients drop messages without telling (nats.js
 * empties its outbound buffer on every reconnect attempt; node-redis loses what it
 * wrote before noticing a dead socket).
 */

/** `up`: connected and subscribed; `down`: the broker is unreachable (the client keeps retrying). */
export type TransportStatus = 'up' | 'down';

/** Bytes on subjects through a broker. Implementations: `connectNats`, `connectRedis`. */
export interface Transport {
  /** `'nats'` or `'redis'`, for reports. */
  readonly kind: string;
  /** The largest message the broker accepts, in bytes. */
  readonly maxPayload: number;
  /** True while connected. */
  isUp(): boolean;
  /**
   * Sends bytes to every subscriber of `subject`. Never throws and never waits: what
   * is published while the broker is away may be lost, which the node detects by
   * sequence numbers and repairs by retransmission.
   */
  publish(subject: string, data: Uint8Array): void;
  /** Calls `onMessage` for each message on `subject` (in publish order per publisher); resolves once the broker has the subscription. */
  subscribe(subject: string, onMessage: (data: Uint8Array) => void): Promise<Unsubscribe>;
  /** Calls `listener` on each change of status; returns a function that stops it. */
  onStatus(listener: (status: TransportStatus) => void): () => void;
  /** Resolves once what was published so far has reached the broker (or the broker is down). */
  flush(): Promise<void>;
  /** Closes the connections; afterwards nothing of the transport keeps the process alive. */
  close(): Promise<void>;
}

/** Stops one subscription. */
export type Unsubscribe = () => Promise<void>;

/** @internal the status bookkeeping both transports share. */
export class StatusListeners {
  private readonly listeners = new Set<(status: TransportStatus) => void>();
  private current: TransportStatus = 'up';

  get status(): TransportStatus {
    return this.current;
  }

  add(listener: (status: TransportStatus) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  set(status: TransportStatus): void {
    if (status === this.current) return;
    this.current = status;
    for (const l of this.listeners) l(status);
  }
}
