/**
 * Connection options: what `upgrade` accepts for one WebSocket (websock_adapter's
 * options in camelCase, plus origin, subprotocol, response-header and shutdown
 * settings), their defaults, validation and normalisation, and subprotocol
 * selection. Adapters read `ResolvedOptions` and say in their docs how they honour
 * each option; none silently changes an option's meaning.
 */
import { rejectUnknownOptions } from '../runtime/options.js';
import type { MaxHeapSize } from '../runtime/process.js';
import { validateCheckOrigin, type CheckOriginOption } from './origin.js';
import { describeValue, inspectString, splitList, type UpgradeRequest } from './upgrade-validation.js';

/** zlib strategies, named as in zlib (`Z_FILTERED` is `'filtered'`). */
export type DeflateStrategy = 'default' | 'filtered' | 'huffmanOnly' | 'rle' | 'fixed';

/**
 * permessage-deflate (RFC 7692) settings, used when `compress` is on. Each says
 * where it goes in `ws`'s `perMessageDeflate` option.
 */
export interface DeflateOptions {
  /** zlib level, 0 (store) to 9 (smallest). Default 6, zlib's own. ws: `zlibDeflateOptions.level`. */
  readonly level?: number;
  /** zlib memory level, 1 to 9: more memory, faster and smaller. Default 8. ws: `zlibDeflateOptions.memLevel`. */
  readonly memLevel?: number;
  /** zlib strategy. Default `'default'`. ws: `zlibDeflateOptions.strategy` as `zlib.constants.Z_*`. */
  readonly strategy?: DeflateStrategy;
  /**
   * Reset the server's compression context after every message: less memory per
   * connection, larger messages. Default false: the context is kept unless the
   * client's offer asks otherwise (which is always taken). See
   * `permessage-deflate.ts` for how offers are taken.
   */
  readonly serverNoContextTakeover?: boolean;
  /** Ask the client to reset its context after every message. Default false (unless the client offers to). */
  readonly clientNoContextTakeover?: boolean;
  /**
   * The LZ77 window (2^bits bytes, 8-15) the server compresses with; an offer
   * that demands a smaller one is declined (the next offer is read). Default:
   * whatever the client offers, else 15.
   */
  readonly serverMaxWindowBits?: number;
  /**
   * The window (8-15) asked of the client; an offer without
   * `client_max_window_bits` (the client cannot limit its window) is declined.
   * Default: the client's choice.
   */
  readonly clientMaxWindowBits?: number;
  /**
   * Messages shorter than this many bytes go uncompressed. Default 1024. ws:
   * `threshold`, which it applies only when server context takeover is off (with a
   * shared context even short messages compress well).
   */
  readonly threshold?: number;
}

/** `DeflateOptions` with every key present; the window sizes stay undefined unless set. */
export interface ResolvedDeflateOptions {
  readonly level: number;
  readonly memLevel: number;
  readonly strategy: DeflateStrategy;
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  readonly serverMaxWindowBits: number | undefined;
  readonly clientMaxWindowBits: number | undefined;
  readonly threshold: number;
}

/**
 * The subprotocols a server speaks: a list, from which the first name the client
 * offers is chosen (client preference), or a function given the offered names and
 * the request that returns one of them or `false` for none.
 */
export type SubprotocolsOption =
  | readonly string[]
  | ((offered: readonly string[], req: UpgradeRequest) => string | false);

/** The options of one WebSocket upgrade; every key is optional. */
export interface ConnectionOptions {
  /**
   * Close a connection after this many ms without inbound data. Default 60_000;
   * 0 or Infinity for none. At most 2^31-1 (timers overflow beyond).
   */
  readonly timeout?: number;
  /** Accept permessage-deflate when the client offers it. Default false. */
  readonly compress?: boolean;
  /** Compression tuning, used only with `compress`. */
  readonly deflateOptions?: DeflateOptions;
  /**
   * The largest inbound message in bytes, its fragments summed; larger closes with
   * 1009. Default 10_000_000; 0 or Infinity for no limit. On ws, which keeps each
   * fragment as a buffer of its own, a fragment also costs 128 bytes of this budget
   * (a message may have at most maxFrameSize / 128 fragments, else 1008).
   */
  readonly maxFrameSize?: number;
  /**
   * The longest a message may take to arrive, first bytes to last, in ms; longer
   * closes with 1008. Default 60_000; 0 or Infinity for none. At most 2^31-1.
   * Checked on ws at each socket read of an unfinished message; Bun and Deno show
   * only whole messages, so there the idle timeout (which no piece of a message
   * resets there) bounds a message's time instead.
   */
  readonly maxMessageTime?: number;
  /** Close with 1007 on a text message that is not valid UTF-8. Default true. */
  readonly validateUtf8?: boolean;
  /** The connection process's `maxHeapSize` (bytes, or a map with kill/log actions). Default off. */
  readonly maxHeapSize?: number | MaxHeapSize;
  /** The connection process's `fullsweepAfter` flag (shown by `processInfo`; no effect on V8's GC). Default 65535. */
  readonly fullsweepAfter?: number;
  /**
   * Flow control, after Cowboy's `active_n`: how many inbound messages may wait in
   * the connection's mailbox before the socket stops being read (reading resumes
   * when the backlog has drained to half). Default 100.
   */
  readonly activeN?: number;
  /**
   * Backpressure: once more than this many outbound bytes wait unwritten (the peer
   * reads slower than the handler writes), the socket stops being read, so
   * `handleIn` stops running for it, until they drain to `lowWaterMark`.
   * Default 1_048_576 (1 MiB); 0 or Infinity for never.
   */
  readonly highWaterMark?: number;
  /** Reading resumes once unwritten outbound bytes are back at or under this. Default a quarter of `highWaterMark` (262_144, 256 KiB); under `highWaterMark`. */
  readonly lowWaterMark?: number;
  /**
   * The most bytes a connection holds for a peer that does not read: unwritten
   * outbound bytes (pushed by `handleInfo`, say, while reading is paused), or on
   * Deno the inbound messages it cannot stop reading. Past it the connection is
   * closed with 1008 and a `backpressure` report. Default 16_777_216 (16 MiB),
   * or `highWaterMark` when that is higher; 0 or Infinity for no limit; at
   * least `highWaterMark`.
   */
  readonly maxBufferedAmount?: number;
  /** Run `validateUpgrade` before upgrading and refuse early with its reason. Default true. */
  readonly earlyValidateUpgrade?: boolean;
  /** The `Origin` check against cross-site WebSocket hijacking. Default true (same host). */
  readonly checkOrigin?: CheckOriginOption;
  /** Subprotocols to negotiate. Default none (no `Sec-WebSocket-Protocol` is sent). */
  readonly subprotocols?: SubprotocolsOption;
  /** Extra headers for the 101 response. The handshake's own headers cannot be set here. Default none. */
  readonly headers?: Readonly<Record<string, string>>;
  /** How long graceful shutdown waits for the connection to close, in ms. Default 15_000; Infinity waits forever. */
  readonly shutdownTimeout?: number;
}

/** `ConnectionOptions` after `normalizeOptions`: every key present, "none" limits as `Infinity`. */
export interface ResolvedOptions {
  readonly timeout: number;
  readonly compress: boolean;
  readonly deflateOptions: ResolvedDeflateOptions;
  readonly maxFrameSize: number;
  readonly maxMessageTime: number;
  readonly validateUtf8: boolean;
  readonly maxHeapSize: Required<MaxHeapSize>;
  readonly fullsweepAfter: number;
  readonly activeN: number;
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
  readonly maxBufferedAmount: number;
  readonly earlyValidateUpgrade: boolean;
  readonly checkOrigin: CheckOriginOption;
  readonly subprotocols: SubprotocolsOption;
  readonly headers: Readonly<Record<string, string>>;
  readonly shutdownTimeout: number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

const DEFAULT_DEFLATE: ResolvedDeflateOptions = Object.freeze({
  level: 6,
  memLevel: 8,
  strategy: 'default',
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: undefined,
  clientMaxWindowBits: undefined,
  threshold: 1024,
});

/**
 * The options an upgrade gets when it sets none (deeply frozen).
 *
 * @example
 * DEFAULT_OPTIONS.timeout; // 60000
 */
export const DEFAULT_OPTIONS: ResolvedOptions = Object.freeze({
  timeout: 60_000,
  compress: false,
  deflateOptions: DEFAULT_DEFLATE,
  maxFrameSize: 10_000_000,
  maxMessageTime: 60_000,
  validateUtf8: true,
  maxHeapSize: Object.freeze({ size: 0, kill: true, errorLogger: true }),
  fullsweepAfter: 65535,
  activeN: 100,
  highWaterMark: 1_048_576,
  lowWaterMark: 262_144,
  maxBufferedAmount: 16_777_216,
  earlyValidateUpgrade: true,
  checkOrigin: true,
  subprotocols: Object.freeze([]),
  headers: Object.freeze({}),
  shutdownTimeout: 15_000,
});

const OPTION_NAMES = Object.keys(DEFAULT_OPTIONS) as (keyof ResolvedOptions)[];
const DEFLATE_NAMES = Object.keys(DEFAULT_DEFLATE) as (keyof ResolvedDeflateOptions)[];
const STRATEGIES: readonly DeflateStrategy[] = ['default', 'filtered', 'huffmanOnly', 'rle', 'fixed'];
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Set by the server during the handshake; an app value would corrupt it. */
const HANDSHAKE_HEADERS = new Set([
  'connection',
  'upgrade',
  'sec-websocket-accept',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
  'content-length',
  'transfer-encoding',
]);

/**
 * Validates upgrade options and fills in the defaults.
 *
 * @param context names the options in an unknown-key error, e.g. `'server options'`.
 * @returns a frozen `ResolvedOptions`; `DEFAULT_OPTIONS` itself for `undefined`.
 * @throws TypeError for a value that is not an object, an unknown key (with a
 *   did-you-mean when one is close, e.g. `max_frame_size` → `maxFrameSize`) or an
 *   ill-typed or out-of-range value, naming the option and the bad value.
 * @example
 * normalizeOptions({ timeout: 0, compress: true }).timeout; // Infinity
 * normalizeOptions({ timout: 1 });
 * // TypeError: unknown option 'timout' in upgrade options (did you mean 'timeout'?)
 */
export function normalizeOptions(input: unknown, context = 'upgrade options'): ResolvedOptions {
  if (input === undefined || input === null) return DEFAULT_OPTIONS;
  const o = asRecord(input, context);
  rejectUnknownOptions(o, OPTION_NAMES, context);
  const d = DEFAULT_OPTIONS;
  const marks = waterMarks(o);
  return Object.freeze({
    timeout: o['timeout'] === undefined ? d.timeout : limitMs('timeout', o['timeout'], true),
    compress: o['compress'] === undefined ? d.compress : bool('compress', o['compress']),
    deflateOptions: o['deflateOptions'] === undefined ? d.deflateOptions : deflate(o['deflateOptions']),
    maxFrameSize: o['maxFrameSize'] === undefined ? d.maxFrameSize : bytesOrNone('maxFrameSize', o['maxFrameSize']),
    maxMessageTime: o['maxMessageTime'] === undefined ? d.maxMessageTime : limitMs('maxMessageTime', o['maxMessageTime'], true),
    validateUtf8: o['validateUtf8'] === undefined ? d.validateUtf8 : bool('validateUtf8', o['validateUtf8']),
    maxHeapSize: o['maxHeapSize'] === undefined ? d.maxHeapSize : maxHeap(o['maxHeapSize']),
    fullsweepAfter:
      o['fullsweepAfter'] === undefined ? d.fullsweepAfter : integer('fullsweepAfter', o['fullsweepAfter'], 0),
    activeN: o['activeN'] === undefined ? d.activeN : integer('activeN', o['activeN'], 1),
    ...marks,
    earlyValidateUpgrade:
      o['earlyValidateUpgrade'] === undefined ? d.earlyValidateUpgrade : bool('earlyValidateUpgrade', o['earlyValidateUpgrade']),
    checkOrigin: o['checkOrigin'] === undefined ? d.checkOrigin : validateCheckOrigin(o['checkOrigin']),
    subprotocols: o['subprotocols'] === undefined ? d.subprotocols : subprotocols(o['subprotocols']),
    headers: o['headers'] === undefined ? d.headers : responseHeaders(o['headers']),
    shutdownTimeout:
      o['shutdownTimeout'] === undefined ? d.shutdownTimeout : limitMs('shutdownTimeout', o['shutdownTimeout'], false),
  });
}

/**
 * Chooses the subprotocol for an upgrade from the client's
 * `Sec-WebSocket-Protocol` header (a comma list; node:http joins a repeated header
 * with `', '`, an array is read element by element). With a list option, the first
 * offered name the server lists wins; a function option is called only when the
 * client offered something.
 *
 * @returns the chosen name, or undefined when the client offered none or none is
 *   acceptable (the upgrade then goes ahead without a subprotocol and the client
 *   decides whether to stay).
 * @throws TypeError when a function option returns something other than `false` or
 *   one of the offered names (RFC 6455 §4.2.2 lets the server pick only from those);
 *   whatever the function throws propagates.
 * @example
 * selectSubprotocol('mqtt, graphql-ws', ['graphql-ws', 'mqtt'], req); // 'mqtt'
 */
export function selectSubprotocol(
  offeredHeader: string | readonly string[] | undefined,
  option: SubprotocolsOption,
  req: UpgradeRequest,
): string | undefined {
  if (offeredHeader === undefined) return undefined;
  const offered = splitList(typeof offeredHeader === 'string' ? [offeredHeader] : offeredHeader);
  if (offered.length === 0) return undefined;
  if (typeof option !== 'function') {
    for (const name of offered) {
      if (option.includes(name)) return name;
    }
    return undefined;
  }
  const chosen = option(offered, req);
  if (chosen === false) return undefined;
  if (typeof chosen !== 'string' || !offered.includes(chosen)) {
    throw new TypeError(
      `the 'subprotocols' function returned ${describeValue(chosen)}, which the client did not offer; ` +
        `return one of ${describeValue(offered)} or false`,
    );
  }
  return chosen;
}

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object, got ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

function bool(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`option '${name}' must be a boolean, got ${describeValue(value)}`);
  return value;
}

/** Milliseconds for a timer; `zeroIsNone` maps 0 to Infinity (no timer at all). */
function limitMs(name: string, value: unknown, zeroIsNone: boolean): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new TypeError(`option '${name}' must be a non-negative number of milliseconds, got ${describeValue(value)}`);
  }
  if (value === Infinity || (zeroIsNone && value === 0)) return Infinity;
  if (value > MAX_TIMER_MS) {
    throw new TypeError(
      `option '${name}' must be at most ${MAX_TIMER_MS} ms (about 24.8 days; longer timers overflow) or Infinity, got ${value}`,
    );
  }
  return value;
}

/**
 * `highWaterMark`, `lowWaterMark` and `maxBufferedAmount`, checked together: the
 * low mark under the high one (else reading would resume still over it), and
 * the limit at least the high mark (else a connection would be closed before it
 * was ever paused), and by default raised to a high mark set over it.
 */
function waterMarks(o: Record<string, unknown>): Pick<ResolvedOptions, 'highWaterMark' | 'lowWaterMark' | 'maxBufferedAmount'> {
  const d = DEFAULT_OPTIONS;
  const high = o['highWaterMark'] === undefined ? d.highWaterMark : bytesOrNone('highWaterMark', o['highWaterMark']);
  const low = o['lowWaterMark'] === undefined ? (high === Infinity ? d.lowWaterMark : Math.floor(high / 4)) : integer('lowWaterMark', o['lowWaterMark'], 0);
  const max =
    o['maxBufferedAmount'] === undefined
      ? Math.max(d.maxBufferedAmount, high === Infinity ? 0 : high)
      : bytesOrNone('maxBufferedAmount', o['maxBufferedAmount']);
  if (high !== Infinity && low >= high) {
    throw new TypeError(`option 'lowWaterMark' (${low}) must be under 'highWaterMark' (${high}): reading resumes once unwritten bytes drain to it`);
  }
  if (high !== Infinity && max < high) {
    throw new TypeError(
      `option 'maxBufferedAmount' (${max}) must be at least 'highWaterMark' (${high}): ` +
        `a connection is paused at the high-water mark and closed only past the limit`,
    );
  }
  return { highWaterMark: high, lowWaterMark: low, maxBufferedAmount: max };
}

/** A byte count where 0 and Infinity both mean none (as Infinity). */
function bytesOrNone(name: string, value: unknown): number {
  if (value === Infinity || value === 0) return Infinity;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`option '${name}' must be a non-negative integer of bytes (0 or Infinity for no limit), got ${describeValue(value)}`);
  }
  return value;
}

function integer(name: string, value: unknown, min: 0 | 1): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    const kind = min === 0 ? 'a non-negative integer' : 'a positive integer';
    throw new TypeError(`option '${name}' must be ${kind}, got ${describeValue(value)}`);
  }
  return value;
}

function integerIn(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`option '${name}' must be an integer from ${min} to ${max}, got ${describeValue(value)}`);
  }
  return value;
}

function maxHeap(value: unknown): Required<MaxHeapSize> {
  const shape = `a non-negative integer of bytes or { size, kill?, errorLogger? }`;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new TypeError(`option 'maxHeapSize' must be ${shape}, got ${describeValue(value)}`);
    }
    return Object.freeze({ size: value, kill: true, errorLogger: true });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`option 'maxHeapSize' must be ${shape}, got ${describeValue(value)}`);
  }
  const m = value as Record<string, unknown>;
  rejectUnknownOptions(m, ['size', 'kill', 'errorLogger'], 'maxHeapSize');
  const size = m['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new TypeError(`option 'maxHeapSize.size' must be a non-negative integer of bytes, got ${describeValue(size)}`);
  }
  return Object.freeze({
    size,
    kill: m['kill'] === undefined ? true : bool('maxHeapSize.kill', m['kill']),
    errorLogger: m['errorLogger'] === undefined ? true : bool('maxHeapSize.errorLogger', m['errorLogger']),
  });
}

function deflate(value: unknown): ResolvedDeflateOptions {
  const o = asRecord(value, `option 'deflateOptions'`);
  rejectUnknownOptions(o, DEFLATE_NAMES, 'deflateOptions');
  const d = DEFAULT_DEFLATE;
  const strategy = o['strategy'];
  if (strategy !== undefined && !STRATEGIES.includes(strategy as DeflateStrategy)) {
    throw new TypeError(
      `option 'deflateOptions.strategy' must be one of ${STRATEGIES.map((s) => `'${s}'`).join(', ')}, got ${describeValue(strategy)}`,
    );
  }
  const windowBits = (key: 'serverMaxWindowBits' | 'clientMaxWindowBits'): number | undefined =>
    o[key] === undefined ? undefined : integerIn(`deflateOptions.${key}`, o[key], 8, 15);
  return Object.freeze({
    level: o['level'] === undefined ? d.level : integerIn('deflateOptions.level', o['level'], 0, 9),
    memLevel: o['memLevel'] === undefined ? d.memLevel : integerIn('deflateOptions.memLevel', o['memLevel'], 1, 9),
    strategy: strategy === undefined ? d.strategy : (strategy as DeflateStrategy),
    serverNoContextTakeover:
      o['serverNoContextTakeover'] === undefined
        ? d.serverNoContextTakeover
        : bool('deflateOptions.serverNoContextTakeover', o['serverNoContextTakeover']),
    clientNoContextTakeover:
      o['clientNoContextTakeover'] === undefined
        ? d.clientNoContextTakeover
        : bool('deflateOptions.clientNoContextTakeover', o['clientNoContextTakeover']),
    serverMaxWindowBits: windowBits('serverMaxWindowBits'),
    clientMaxWindowBits: windowBits('clientMaxWindowBits'),
    threshold: o['threshold'] === undefined ? d.threshold : integer('deflateOptions.threshold', o['threshold'], 0),
  });
}

function subprotocols(value: unknown): SubprotocolsOption {
  if (typeof value === 'function') return value as SubprotocolsOption;
  if (!Array.isArray(value)) {
    throw new TypeError(
      `option 'subprotocols' must be a list of subprotocol names or a function (offered, req) => string | false, got ${describeValue(value)}`,
    );
  }
  for (const name of value as unknown[]) {
    if (typeof name !== 'string' || !TOKEN.test(name)) {
      throw new TypeError(
        `option 'subprotocols' has an invalid name ${describeValue(name)}: use visible ASCII without separators such as spaces or commas (RFC 6455 §4.1)`,
      );
    }
  }
  return Object.freeze([...(value as string[])]);
}

function responseHeaders(value: unknown): Readonly<Record<string, string>> {
  const o = asRecord(value, `option 'headers'`);
  const out: Record<string, string> = {};
  for (const name of Object.keys(o)) {
    const v = o[name];
    if (!TOKEN.test(name)) throw new TypeError(`option 'headers' has an invalid header name ${inspectString(name)}`);
    if (HANDSHAKE_HEADERS.has(name.toLowerCase())) {
      throw new TypeError(
        `option 'headers' cannot set '${name}': the server sets it during the handshake` +
          (name.toLowerCase() === 'sec-websocket-protocol' ? ` (use the 'subprotocols' option)` : ''),
      );
    }
    if (typeof v !== 'string' || /[\r\n\0]/.test(v)) {
      throw new TypeError(`option 'headers' value for '${name}' must be a string without CR, LF or NUL, got ${describeValue(v)}`);
    }
    out[name] = v;
  }
  return Object.freeze(out);
}
