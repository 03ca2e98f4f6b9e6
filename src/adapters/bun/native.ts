/**
 * The parts of Bun's server API the adapter uses, typed structurally so that
 * beamsock needs neither `bun-types` nor the `Bun` global to compile. Bun's own
 * `Server` and `ServerWebSocket` satisfy these interfaces.
 */

/** Bun's `ServerWebSocket` (Bun 1.4): one upgraded connection. `data` is what `server.upgrade` was given. */
export interface BunSocket<D> {
  readonly data: D;
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  readonly remoteAddress: string;
  /** -1: queued behind backpressure, 0: dropped or empty, >0: bytes written. */
  sendText(data: string, compress?: boolean): number;
  sendBinary(data: Uint8Array, compress?: boolean): number;
  ping(data?: string | Uint8Array): number;
  pong(data?: string | Uint8Array): number;
  /** Sends a close frame; Bun calls the `close` handler at once, with this code and reason. */
  close(code?: number, reason?: string): void;
  /** Cuts the TCP connection without a close frame. */
  terminate(): void;
  /** Subscribes to a topic of the server's `publish`. */
  subscribe(topic: string): void;
  /** Unsubscribes from a topic; what was published to it before is still written. */
  unsubscribe(topic: string): void;
  /** Runs `callback` with writes gathered into one syscall. */
  cork<T>(callback: (ws: BunSocket<D>) => T): T;
  getBufferedAmount(): number;
  /** Stops reading from the socket (absent from older Bun releases). */
  pause?(): void;
  resume?(): void;
}

/** What `Bun.serve` hands `fetch` as its second argument, as far as upgrading goes. */
export interface BunUpgrader {
  upgrade(req: Request, options?: { headers?: Record<string, string>; data?: unknown }): boolean;
}

/** Bun's `perMessageDeflate` compressor and decompressor settings. */
export type BunCompressor = 'shared' | 'dedicated' | '3KB' | '4KB' | '8KB' | '16KB' | '32KB' | '64KB' | '128KB' | '256KB';

/** Bun's `websocket` option of `Bun.serve`: the handlers and the per-server limits. */
export interface BunWebSocketHandler<D> {
  open(ws: BunSocket<D>): void;
  message(ws: BunSocket<D>, message: string | Buffer): void;
  close(ws: BunSocket<D>, code: number, reason: string): void;
  drain(ws: BunSocket<D>): void;
  ping(ws: BunSocket<D>, data: Buffer): void;
  pong(ws: BunSocket<D>, data: Buffer): void;
  readonly maxPayloadLength: number;
  readonly backpressureLimit: number;
  readonly closeOnBackpressureLimit: boolean;
  readonly idleTimeout: number;
  readonly sendPings: boolean;
  readonly publishToSelf: boolean;
  readonly perMessageDeflate: false | { readonly compress: BunCompressor; readonly decompress: BunCompressor };
}

/** The server `Bun.serve` returns, as far as `serve` uses it. */
export interface BunServer extends BunUpgrader {
  readonly port: number;
  readonly hostname: string;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
  /**
   * Sends `data` (a string as text, bytes as binary) to every socket subscribed
   * to `topic`, compressed where `compress` and the socket negotiated it; Bun
   * writes it when its event loop next turns, before anything sent to a socket later.
   */
  publish(topic: string, data: string | Uint8Array, compress?: boolean): number;
  /** The client's address for a request of this server; null once its socket is gone. */
  requestIP(req: Request): { readonly address: string; readonly family: string; readonly port: number } | null;
}

/** `Bun.serve`'s options, as far as `serve` uses them. */
export interface BunServeOptions<D> {
  readonly port: number;
  readonly hostname: string;
  /** Sets SO_REUSEPORT: several processes listen on one port, the kernel spreads connections (Linux only). */
  readonly reusePort?: boolean;
  fetch(req: Request, server: BunServer): Response | Promise<Response | undefined> | undefined;
  readonly websocket: BunWebSocketHandler<D>;
}

/** The `Bun` global, as far as the adapter uses it. */
export interface BunGlobal {
  serve<D>(options: BunServeOptions<D>): BunServer;
}

/**
 * The `Bun` global, or a TypeError telling a Node user where to go instead.
 * @internal
 */
export function bunRuntime(what: string): BunGlobal {
  const bun = (globalThis as { Bun?: BunGlobal }).Bun;
  if (bun === undefined) {
    throw new TypeError(`${what} needs the Bun runtime (globalThis.Bun is undefined); on Node, use serve() from 'beamsock/ws'`);
  }
  return bun;
}
