/**
 * permessage-deflate negotiation (RFC 7692): which of the client's offers a
 * server takes under its `deflateOptions`, and what it answers. Pure, so every
 * adapter decides the same way and only hands its server the outcome.
 *
 * The rule, as RFC 7692 §5 asks and Bandit does: offers are read in the
 * client's order and the first one the options can honour wins. An offer that
 * is malformed (an unknown or repeated parameter, a flag with a value,
 * `server_max_window_bits` without a value or outside 8-15,
 * `client_max_window_bits` outside 8-15) or that the options cannot honour is
 * declined and the next one is read; when none is left the connection goes on
 * uncompressed. A `Sec-WebSocket-Extensions` header never fails the handshake.
 *
 * What the options cannot honour: `server_max_window_bits=N` under a
 * `serverMaxWindowBits` larger than N, and an offer without
 * `client_max_window_bits` when `clientMaxWindowBits` is set (the server would
 * have to inflate with the full window it was told to avoid). With the default
 * options every well-formed offer is taken.
 */
import type { ResolvedDeflateOptions } from './options.js';

/** What the server agreed to: the parameters of its answer, and the answer itself. */
export interface DeflateAgreement {
  /** The client's offer that was taken, as it wrote it (trimmed). */
  readonly offer: string;
  /** The server resets its compression context after every message. */
  readonly serverNoContextTakeover: boolean;
  /** The client resets its compression context after every message. */
  readonly clientNoContextTakeover: boolean;
  /** The server's LZ77 window (bits) when limited; undefined for 15. */
  readonly serverMaxWindowBits: number | undefined;
  /** The client's LZ77 window (bits) when limited; undefined for 15. */
  readonly clientMaxWindowBits: number | undefined;
  /** The `Sec-WebSocket-Extensions` value of the 101 response. */
  readonly response: string;
}

const NAME = 'permessage-deflate';
/** RFC 7692 §7.1.2: 8 to 15, written plainly. */
const WINDOW_BITS = /^(?:[89]|1[0-5])$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The offer a server with deflate options `d` takes from a
 * `Sec-WebSocket-Extensions` header (a string, node:http's repeated values, or
 * none), and its answer; see the module doc for the rule.
 *
 * @returns the agreement, or undefined when no offer is taken (no compression).
 *   Never throws.
 * @example
 * negotiateDeflate('permessage-deflate; foo=bar, permessage-deflate; server_no_context_takeover', d)?.response;
 * // 'permessage-deflate; server_no_context_takeover'
 */
export function negotiateDeflate(
  header: string | readonly string[] | null | undefined,
  d: ResolvedDeflateOptions,
): DeflateAgreement | undefined {
  if (header === undefined || header === null) return undefined;
  for (const value of typeof header === 'string' ? [header] : header) {
    for (const element of splitOutsideQuotes(value, ',')) {
      const agreement = accept(element.trim(), d);
      if (agreement !== undefined) return agreement;
    }
  }
  return undefined;
}

/** The answer to one extension element, or undefined to decline it. */
function accept(element: string, d: ResolvedDeflateOptions): DeflateAgreement | undefined {
  const [name, ...params] = splitOutsideQuotes(element, ';');
  if (name?.trim().toLowerCase() !== NAME) return undefined;
  const seen = new Map<string, string | true>();
  for (const param of params) {
    const text = param.trim();
    const eq = text.indexOf('=');
    const key = (eq === -1 ? text : text.slice(0, eq).trimEnd()).toLowerCase();
    if (seen.has(key)) return undefined;
    if (eq === -1) {
      seen.set(key, true);
      continue;
    }
    const value = unquote(text.slice(eq + 1).trimStart());
    if (value === undefined) return undefined;
    seen.set(key, value);
  }
  let serverNoContextTakeover = d.serverNoContextTakeover;
  let clientNoContextTakeover = d.clientNoContextTakeover;
  let serverBits: number | undefined;
  let clientBits: number | true | undefined;
  for (const [key, value] of seen) {
    switch (key) {
      case 'server_no_context_takeover':
        if (value !== true) return undefined;
        serverNoContextTakeover = true;
        break;
      case 'client_no_context_takeover':
        if (value !== true) return undefined;
        clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        if (value === true || !WINDOW_BITS.test(value)) return undefined;
        serverBits = Number(value);
        break;
      case 'client_max_window_bits':
        if (value !== true && !WINDOW_BITS.test(value)) return undefined;
        clientBits = value === true ? true : Number(value);
        break;
      default:
        return undefined;
    }
  }
  // The server's window: its own option, which may not exceed what the client demands.
  if (serverBits !== undefined && d.serverMaxWindowBits !== undefined && d.serverMaxWindowBits > serverBits) return undefined;
  const serverMaxWindowBits = d.serverMaxWindowBits ?? serverBits;
  // The client's window can only be limited when the client says it can limit it.
  if (d.clientMaxWindowBits !== undefined && clientBits === undefined) return undefined;
  const offered = typeof clientBits === 'number' ? clientBits : undefined;
  const clientMaxWindowBits = d.clientMaxWindowBits === undefined ? offered : Math.min(d.clientMaxWindowBits, offered ?? 15);
  let response = NAME;
  if (serverNoContextTakeover) response += '; server_no_context_takeover';
  if (clientNoContextTakeover) response += '; client_no_context_takeover';
  if (serverMaxWindowBits !== undefined) response += `; server_max_window_bits=${serverMaxWindowBits}`;
  if (clientMaxWindowBits !== undefined) response += `; client_max_window_bits=${clientMaxWindowBits}`;
  return { offer: element, serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits, response };
}

/** A parameter value: a token, or a quoted string holding one (RFC 6455 §9.1); undefined when neither. */
function unquote(value: string): string | undefined {
  if (TOKEN.test(value)) return value;
  if (value.length < 2 || value[0] !== '"' || value[value.length - 1] !== '"') return undefined;
  const inner = value.slice(1, -1).replace(/\\(.)/g, '$1');
  return TOKEN.test(inner) ? inner : undefined;
}

/** `s` split at `sep` where it is not inside a quoted string. */
function splitOutsideQuotes(s: string, sep: ',' | ';'): string[] {
  if (!s.includes('"')) return s.split(sep);
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (c === sep && !quoted) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}
