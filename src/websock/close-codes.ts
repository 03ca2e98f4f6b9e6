/**
 * WebSocket close codes (RFC 6455 §7.4 and the IANA registry): their names,
 * which of them a server may send, the validation of a close detail before it
 * goes on the wire, and the code to answer a peer's close with.
 */
import { describeValue } from './upgrade-validation.js';

/**
 * Close codes by name. 1004 is reserved without a meaning; 1005, 1006 and 1015
 * are only ever reported locally and must never be sent.
 *
 * @example
 * if (event.code === CloseCode.SERVICE_RESTART) reconnectSoon(); // 1012
 */
export const CloseCode = Object.freeze({
  /** The purpose of the connection was fulfilled. */
  NORMAL: 1000,
  /** The endpoint goes away: server shutdown, browser page left. */
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  /** A data type the endpoint cannot accept (e.g. binary for a text-only endpoint). */
  UNSUPPORTED_DATA: 1003,
  /** Reported when a close frame had no code; never sent. */
  NO_STATUS: 1005,
  /** Reported when the connection dropped without a close frame; never sent. */
  ABNORMAL: 1006,
  /** A text message (or close reason) that is not valid UTF-8. */
  INVALID_PAYLOAD: 1007,
  /** A generic refusal when no other code fits; beamsock's close past `maxBufferedAmount` (a peer that does not read). */
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  /** Sent by a client whose required extension the server did not negotiate. */
  MANDATORY_EXTENSION: 1010,
  /** The server hit an unexpected condition (a crashing handler). */
  INTERNAL_ERROR: 1011,
  /** The server restarts; clients should reconnect (WebSock's `{shutdown: 'restart'}`). */
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  /** A gateway got an invalid response from upstream. */
  BAD_GATEWAY: 1014,
  /** Reported when the TLS handshake failed; never sent. */
  TLS_HANDSHAKE: 1015,
} as const);

/** One of the named close codes. */
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/** Close reasons are limited so the whole close payload fits a 125-byte control frame. */
export const MAX_CLOSE_REASON_BYTES = 123;

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Whether a server may put `code` in a close frame: 1000-1003, 1007-1014 and
 * 3000-4999 (3000-3999 registered for libraries, 4000-4999 private use). This is
 * RFC 6455 §7.4 with the IANA registrations 1012-1014, and matches what `ws`
 * accepts; 1004-1006, 1015, 1016-2999 and anything else are refused.
 *
 * @returns true for a code that may be sent.
 * @example
 * isValidSendCode(4000); // true
 * isValidSendCode(1006); // false
 */
export function isValidSendCode(code: number): boolean {
  return (
    Number.isInteger(code) &&
    ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999))
  );
}

/**
 * Checks a close code and optional reason before they are sent. A `null` or
 * undefined reason means none (WebSock's `{code, nil}`).
 *
 * @returns nothing when both may be sent.
 * @throws RangeError for a code outside 1000-1003, 1007-1014 and 3000-4999, or a
 *   reason longer than 123 bytes of UTF-8; TypeError for a reason that is not a
 *   string or bytes, or bytes that are not valid UTF-8.
 * @example
 * validateCloseDetail(4001, 'room closed'); // ok
 * validateCloseDetail(999);  // RangeError: close code 999 cannot be sent: use 1000-1003, 1007-1014 or 3000-4999
 */
export function validateCloseDetail(code: number, reason?: string | Uint8Array | null): void {
  if (!isValidSendCode(code)) {
    throw new RangeError(`close code ${describeValue(code)} cannot be sent: use 1000-1003, 1007-1014 or 3000-4999`);
  }
  if (reason === undefined || reason === null) return;
  let bytes: number;
  if (typeof reason === 'string') {
    bytes = utf8.encode(reason).length;
  } else if (reason instanceof Uint8Array) {
    try {
      strictUtf8.decode(reason);
    } catch {
      throw new TypeError('close reason bytes are not valid UTF-8: peers reject such a close frame (RFC 6455 §5.5.1)');
    }
    bytes = reason.length;
  } else {
    throw new TypeError(`close reason must be a string or a Uint8Array, got ${describeValue(reason)}`);
  }
  if (bytes > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(
      `close reason is ${bytes} bytes of UTF-8, over the limit of ${MAX_CLOSE_REASON_BYTES}: shorten it`,
    );
  }
}

/**
 * The code to answer a peer's close frame with, as Bandit does: 1000 when the
 * peer sent no code or one of 1000-1003, 1007-1011 or 3000 and above; 1002
 * (protocol error, RFC 6455 §7.4.1) for any other code, which a peer must not send.
 *
 * @returns 1000 or 1002.
 * @example
 * closeReplyCode(1001);      // 1000
 * closeReplyCode(undefined); // 1000
 * closeReplyCode(1005);      // 1002
 */
export function closeReplyCode(peerCode: number | undefined): 1000 | 1002 {
  if (peerCode === undefined) return 1000;
  const fine = (peerCode >= 1000 && peerCode <= 1003) || (peerCode >= 1007 && peerCode <= 1011) || peerCode >= 3000;
  return fine ? 1000 : 1002;
}
