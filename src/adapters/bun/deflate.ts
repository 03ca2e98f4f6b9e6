/**
 * permessage-deflate on Bun: how `compress` and `deflateOptions` become Bun's
 * `perMessageDeflate` setting, and what Bun will agree to for one request.
 *
 * Bun picks its compressor per server from a fixed set of presets (a shared
 * compressor that keeps no context between messages, or a dedicated one per
 * socket with a window of 2^9 to 2^15 bytes), so `deflateOptions` maps onto
 * those presets:
 * - `serverNoContextTakeover` -> the shared compressor; otherwise a dedicated one
 *   whose window is `serverMaxWindowBits` (8 is raised to 9: zlib cannot deflate with 8).
 * - `clientNoContextTakeover` -> the shared decompressor; otherwise a dedicated one
 *   whose window is `clientMaxWindowBits` (8 to 10 are raised to 11, Bun's smallest).
 * - `threshold` is applied by the transport, per message.
 * - `level`, `memLevel` and `strategy` cannot be set: Bun's presets fix them.
 *
 * Bun does not tell JavaScript which extensions a socket negotiated (its
 * `ServerWebSocket` has no `extensions`, and Bun writes the 101 itself after
 * `upgrade` returns), so `negotiate` works out Bun's answer from the client's
 * offer, following the rules Bun applies; the adapter's tests compare it with
 * Bun's 101 for every offer shape Autobahn's 13.x cases send.
 */
import type { ResolvedDeflateOptions } from '../../websock/options.js';
import type { BunCompressor } from './native.js';

/** Bun's compressor presets by window bits: 9 -> 4KB (memLevel 2) ... 15 -> 256KB. */
const COMPRESSORS: Readonly<Record<number, BunCompressor>> = {
  9: '4KB',
  10: '8KB',
  11: '16KB',
  12: '32KB',
  13: '64KB',
  14: '128KB',
  15: 'dedicated',
};

/** Bun's decompressor presets by window bits: 3KB is 2^11 ... 32KB and up are 2^15. */
const DECOMPRESSORS: Readonly<Record<number, BunCompressor>> = {
  11: '3KB',
  12: '4KB',
  13: '8KB',
  14: '16KB',
  15: 'dedicated',
};

/**
 * Bun's `perMessageDeflate` for these deflate options.
 *
 * @returns `{ compress, decompress }` presets; never throws (the options are already validated).
 * @example
 * bunDeflateConfig({ ...defaults, serverMaxWindowBits: 10 }); // { compress: '8KB', decompress: 'dedicated' }
 */
export function bunDeflateConfig(d: ResolvedDeflateOptions): { compress: BunCompressor; decompress: BunCompressor } {
  const serverBits = Math.max(9, d.serverMaxWindowBits ?? 15);
  const clientBits = Math.max(11, d.clientMaxWindowBits ?? 15);
  return {
    compress: d.serverNoContextTakeover ? 'shared' : (COMPRESSORS[serverBits] as BunCompressor),
    decompress: d.clientNoContextTakeover ? 'shared' : (DECOMPRESSORS[clientBits] as BunCompressor),
  };
}

/** What Bun agrees to for one upgrade. */
export interface Negotiated {
  /** permessage-deflate is on for this socket. */
  readonly compressed: boolean;
  /** The server resets its compression context after every message (so `threshold` applies, as in ws). */
  readonly serverNoContextTakeover: boolean;
}

const OFF: Negotiated = Object.freeze({ compressed: false, serverNoContextTakeover: false });

/**
 * What Bun answers to the client's `Sec-WebSocket-Extensions` offer, given the
 * server's deflate options. The first acceptable `permessage-deflate` offer
 * wins; an offer is declined when it repeats a parameter or names an unknown
 * one, gives `server_max_window_bits` without a value or outside 8-15, asks for
 * a window under 15 without context takeover (from the offer's
 * `server_no_context_takeover` or the server's option: Bun's shared compressor
 * has the full window only), or gives `client_max_window_bits` outside 8-15.
 *
 * @returns whether compression is on and whether the server keeps no context; never throws.
 * @example
 * negotiate('permessage-deflate; client_max_window_bits', true, options).compressed; // true
 */
export function negotiate(offer: string | null, compress: boolean, d: ResolvedDeflateOptions): Negotiated {
  if (!compress || offer === null) return OFF;
  for (const element of offer.split(',')) {
    const [name, ...params] = element.split(';');
    if (name?.trim() !== 'permessage-deflate') continue;
    const accepted = acceptable(params, d);
    if (accepted !== undefined) return accepted;
  }
  return OFF;
}

const FLAGS = new Set(['server_no_context_takeover', 'client_no_context_takeover']);
/** A window size as Bun reads it: 8 to 15 written plainly (no leading zero), optionally quoted, no space around `=`. */
const WINDOW_BITS = /^(?:[89]|1[0-5]|"(?:[89]|1[0-5])")$/;

/** Bun's answer to one `permessage-deflate` offer, or undefined when Bun declines it. */
function acceptable(params: readonly string[], d: ResolvedDeflateOptions): Negotiated | undefined {
  const seen = new Set<string>();
  let serverBits = 15;
  for (const param of params) {
    const text = param.trim();
    const eq = text.indexOf('=');
    const name = eq === -1 ? text : text.slice(0, eq);
    const value = eq === -1 ? undefined : text.slice(eq + 1);
    if (seen.has(name)) return undefined;
    seen.add(name);
    if (FLAGS.has(name)) {
      if (value !== undefined) return undefined;
    } else if (name === 'server_max_window_bits') {
      if (value === undefined || !WINDOW_BITS.test(value)) return undefined;
      serverBits = Number(value.replace(/"/g, ''));
    } else if (name === 'client_max_window_bits') {
      if (value !== undefined && !WINDOW_BITS.test(value)) return undefined;
    } else {
      return undefined;
    }
  }
  const noContext = d.serverNoContextTakeover || seen.has('server_no_context_takeover');
  // Without context takeover Bun compresses with the shared compressor, whose window is always
  // 2^15: it declines a smaller one, whether the server's options or the offer asked for no context.
  if (noContext && serverBits < 15) return undefined;
  return { compressed: true, serverNoContextTakeover: noContext };
}
