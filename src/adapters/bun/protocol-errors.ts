/**
 * Protocol errors on Bun, told apart from dropped connections.
 *
 * When the peer breaks the protocol, Bun (uWebSockets underneath) sends a close
 * frame with the right code (1002, 1007, 1009) and a reason such as "Received
 * invalid UTF-8", then closes the socket; but its `close` handler is called with
 * code 1006 and that reason, exactly as for a dropped TCP connection except that
 * the reason is not empty. This file turns such a reason back into the code Bun
 * sent and into an error carrying the code `ws` gives the same fault, so that a
 * handler's `terminate` sees `{ error }` for a protocol error on both servers.
 */

/** Bun's reason text -> [the close code Bun sent, ws's error code for the same fault]. */
const KNOWN: ReadonlyMap<string, readonly [closeCode: number, wsCode: string]> = new Map([
  ['Received too big message', [1009, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH']],
  ['Received invalid UTF-8', [1007, 'WS_ERR_INVALID_UTF8']],
  ['Received an incorrectly masked frame', [1002, 'WS_ERR_EXPECTED_MASK']],
  ['Received invalid opcode', [1002, 'WS_ERR_INVALID_OPCODE']],
  ['Received unexpected RSV2 or RSV3 bit', [1002, 'WS_ERR_UNEXPECTED_RSV_2_3']],
  ['Received unexpected RSV1 bit', [1002, 'WS_ERR_UNEXPECTED_RSV_1']],
  ['Received fragmented control frame', [1002, 'WS_ERR_EXPECTED_FIN']],
  ['Received too big control frame', [1002, 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH']],
  ['Received continuation frame outside a fragmented message', [1002, 'WS_ERR_INVALID_OPCODE']],
  ['Received new message inside a fragmented message', [1002, 'WS_ERR_INVALID_OPCODE']],
  ['Received invalid close code', [1002, 'WS_ERR_INVALID_CLOSE_CODE']],
  ['Received invalid close payload', [1002, 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH']],
]);

/** The reason beamsock gives when it enforces a `maxFrameSize` lowered at run time, as Bun words its own. */
export const TOO_BIG = 'Received too big message';

/**
 * A protocol error Bun (or the adapter on its behalf) closed the connection for.
 * `closeCode` is the code sent to the peer; `code` is the `ws` error code of the
 * same fault (`WS_ERR_INVALID_UTF8`, ...), or `WS_ERR_PROTOCOL` for a reason this
 * version of beamsock does not know.
 *
 * @example
 * terminate(reason) {
 *   if (typeof reason === 'object' && reason.error instanceof BunProtocolError) log(reason.error.closeCode);
 * }
 */
export class BunProtocolError extends Error {
  override readonly name = 'BunProtocolError';

  constructor(
    message: string,
    readonly closeCode: number,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * The protocol error behind a `close` handler call, or undefined when the
 * connection simply ended (a close frame from the peer, or a dropped socket).
 * An unknown non-empty reason with code 1006 is taken as a protocol error closed
 * with 1002, the code of almost all of them.
 *
 * @example
 * protocolErrorOf(1006, 'Received invalid UTF-8')?.closeCode; // 1007
 * protocolErrorOf(1006, '');                                   // undefined: the TCP connection dropped
 */
export function protocolErrorOf(code: number, reason: string): BunProtocolError | undefined {
  if (code !== 1006 || reason === '') return undefined;
  const known = KNOWN.get(reason);
  return known === undefined ? new BunProtocolError(reason, 1002, 'WS_ERR_PROTOCOL') : new BunProtocolError(reason, known[0], known[1]);
}
