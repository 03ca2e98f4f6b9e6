/**
 * The in-memory socket of the test kit: the `Transport` a connection writes
 * through, and the peer's end of it. It behaves as the `ws` adapter's socket does
 * where a handler can tell: the pong to a ping goes out before `handleControl`
 * runs, a message over `maxFrameSize` or text that is not UTF-8 closes with 1009 or
 * 1007 and reports a protocol error, the peer's close frame is echoed, nothing is
 * written after a close, and while the connection has paused reading the peer's
 * frames wait, in order, as they would in TCP buffers.
 */
import type { Frame } from '../websock/behaviour.js';
import type { Connection } from '../websock/connection.js';
import { Outbound, type Transport } from '../websock/transport.js';
import { toWire, type FrameLog } from './frames.js';

/**
 * How a connection closed, as its peer saw it.
 *
 * @example
 * const c: ClosedInfo = { code: 1000, reason: '', by: 'server' };
 */
export interface ClosedInfo {
  /**
   * The code of the server's close frame; when the peer closed first, the code it
   * sent (the server echoes it; 1005 for a close frame without one); 1006 when
   * the TCP connection was cut.
   */
  readonly code: number;
  /** The close frame's reason text ('' for none or a cut connection). */
  readonly reason: string;
  /** Who ended the connection: the server (close frame or cut), or the peer (close frame or drop). */
  readonly by: 'server' | 'peer';
}

/**
 * @internal renders a close for an assertion message: "the server closed it with 1000",
 * "the peer closed it with 4000 \"bye\"", "the TCP connection dropped".
 *
 * @returns the sentence, without a final period.
 * @example
 * describeClosed({ code: 1011, reason: '', by: 'server' }); // 'the server closed it with 1011'
 */
export function describeClosed(c: ClosedInfo): string {
  if (c.code === 1006) return c.by === 'server' ? 'the server cut the TCP connection' : 'the TCP connection dropped';
  return `the ${c.by} closed it with ${c.code}${c.reason === '' ? '' : ` ${JSON.stringify(c.reason)}`}`;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A protocol error as `ws` reports it: its message, its `code`, and the close code it sent. */
function wsError(ctor: ErrorConstructor | RangeErrorConstructor, message: string, code: string): Error {
  return Object.assign(new ctor(message), { code });
}

/** @internal the in-memory socket between a test and one connection. */
export class MemoryTransport implements Transport {
  closed: ClosedInfo | undefined;
  /** True once the peer sent its close frame or dropped; it may send nothing more. */
  peerDone = false;
  private conn: Connection<unknown> | undefined;
  private maxFrameSize: number;
  private reading = true;
  private readonly held: (() => void)[] = [];
  private draining = false;

  constructor(
    private readonly log: FrameLog,
    readonly compressed: boolean,
    maxFrameSize: number,
    private readonly validateUtf8: boolean,
  ) {
    this.maxFrameSize = maxFrameSize;
  }

  /** Binds the connection that reads from this socket (it is created after its transport). */
  attach(conn: Connection<unknown>): void {
    this.conn = conn;
  }

  /** True while the connection has stopped reading (flow control or `setActive(false)`). */
  get paused(): boolean {
    return !this.reading;
  }

  // Transport: the server's end ---------------------------------------------------

  write(frames: readonly (Frame | Outbound)[]): void {
    if (this.closed !== undefined) return;
    for (const item of frames) this.log.add(toWire(item instanceof Outbound ? item.frame : item));
  }

  close(code: number, reason: string | Uint8Array): void {
    this.end({ code, reason: typeof reason === 'string' ? reason : Buffer.from(reason).toString(), by: 'server' });
  }

  abort(): void {
    this.end({ code: 1006, reason: '', by: 'server' });
  }

  pause(): void {
    this.reading = false;
  }

  resume(): void {
    this.reading = true;
    // Like a socket's resume: what was held is read after the current callback, not inside it.
    queueMicrotask(() => this.drain());
  }

  bufferedAmount(): number {
    return 0;
  }

  setMaxFrameSize(bytes: number): void {
    this.maxFrameSize = bytes === 0 ? Infinity : bytes;
  }

  // The peer's end ------------------------------------------------------------------

  text(data: string | Uint8Array): void {
    this.read(() => {
      const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
      if (this.tooBig(bytes)) return;
      let text: string;
      if (typeof data === 'string') {
        text = data;
      } else if (this.validateUtf8) {
        try {
          text = strictUtf8.decode(data);
        } catch {
          this.protocolError(wsError(Error, 'Invalid WebSocket frame: invalid UTF-8 sequence', 'WS_ERR_INVALID_UTF8'), 1007);
          return;
        }
      } else {
        text = Buffer.from(data).toString();
      }
      this.connection().received(text, false, bytes);
    });
  }

  binary(data: Uint8Array): void {
    const copy = Buffer.from(data);
    this.read(() => {
      if (!this.tooBig(copy.length)) this.connection().received(copy, true, copy.length);
    });
  }

  ping(data: Buffer): void {
    this.read(() => {
      this.log.add(['pong', data]);
      this.connection().control(data, 'ping');
    });
  }

  pong(data: Buffer): void {
    this.read(() => this.connection().control(data, 'pong'));
  }

  /** The peer's close frame: echoed by the server when read, then the connection hears of it. */
  peerClose(code: number | undefined, reason: string): void {
    this.peerDone = true;
    this.read(() => {
      this.end({ code: code ?? 1005, reason, by: 'peer' });
      this.connection().closed(true, code ?? 1005, reason);
    });
  }

  /** The TCP connection drops: no close frame, and whatever the server had not read is lost. */
  drop(): void {
    this.peerDone = true;
    this.held.length = 0;
    this.end({ code: 1006, reason: '', by: 'peer' });
    this.connection().closed(false, 1006, '');
  }

  private connection(): Connection<unknown> {
    if (this.conn === undefined) throw new Error('MemoryTransport used before attach()');
    return this.conn;
  }

  /** Reads one frame now, or holds it while the connection is not reading. */
  private read(frame: () => void): void {
    if (this.reading && this.held.length === 0) frame();
    else this.held.push(frame);
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.reading && this.held.length > 0 && this.closed === undefined) (this.held.shift() as () => void)();
    } finally {
      this.draining = false;
    }
  }

  private tooBig(bytes: number): boolean {
    if (bytes <= this.maxFrameSize) return false;
    this.protocolError(wsError(RangeError, 'Max payload size exceeded', 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'), 1009);
    return true;
  }

  /** As `ws` does: a close frame with the code and no reason, then the error; nothing more is read. */
  private protocolError(err: Error, code: number): void {
    this.held.length = 0;
    this.end({ code, reason: '', by: 'server' });
    this.connection().protocolError(err, code);
  }

  private end(info: ClosedInfo): void {
    if (this.closed !== undefined) return;
    this.closed = info;
    this.log.end();
  }
}
