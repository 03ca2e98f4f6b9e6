// The parts of the official `phoenix` client (1.8, which ships no types) that beamsock's tests and examples use.
declare module 'phoenix' {
  export interface SocketOptions {
    transport?: unknown;
    params?: Record<string, unknown> | (() => Record<string, unknown>);
    vsn?: string;
    authToken?: string;
    encode?: (msg: { join_ref: string | null; ref: string | null; topic: string; event: string; payload: unknown }, cb: (encoded: unknown) => void) => void;
    decode?: (raw: unknown, cb: (msg: unknown) => void) => void;
    heartbeatIntervalMs?: number;
    reconnectAfterMs?: (tries: number) => number;
    rejoinAfterMs?: (tries: number) => number;
    timeout?: number;
    logger?: (kind: string, msg: string, data: unknown) => void;
  }
  export class Push {
    receive(status: 'ok' | 'error' | 'timeout', callback: (response: any) => void): Push;
  }
  export class Channel {
    readonly topic: string;
    state: string;
    join(timeout?: number): Push;
    leave(timeout?: number): Push;
    push(event: string, payload: unknown, timeout?: number): Push;
    on(event: string, callback: (payload: any, ref?: string, joinRef?: string) => void): number;
    off(event: string, ref?: number): void;
    onClose(callback: (payload: any) => void): void;
    onError(callback: (reason: any) => void): number;
    joinRef(): string;
  }
  export class Socket {
    constructor(endPoint: string, opts?: SocketOptions);
    connect(params?: unknown): void;
    disconnect(callback?: () => void, code?: number, reason?: string): void;
    channel(topic: string, params?: Record<string, unknown> | (() => Record<string, unknown>)): Channel;
    onOpen(callback: () => void): string;
    onClose(callback: (event: { code: number; reason: string }) => void): string;
    onError(callback: (error: unknown) => void): string;
    isConnected(): boolean;
    endPointURL(): string;
  }
  export interface PresenceMeta {
    phx_ref: string;
    [key: string]: unknown;
  }
  export class Presence {
    constructor(channel: Channel, opts?: { events?: { state: string; diff: string } });
    onSync(callback: () => void): void;
    onJoin(callback: (key: string, current: unknown, newPres: { metas: PresenceMeta[] }) => void): void;
    onLeave(callback: (key: string, current: unknown, leftPres: { metas: PresenceMeta[] }) => void): void;
    list<T = { metas: PresenceMeta[] }>(chooser?: (key: string, presence: { metas: PresenceMeta[] }) => T): T[];
  }
}
