import { describe, expect, it } from 'vitest';
import { BunProtocolError, protocolErrorOf } from '../../../src/adapters/bun/protocol-errors.js';

describe("Bun's close reasons", () => {
  for (const [reason, closeCode, code] of [
    ['Received too big message', 1009, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'],
    ['Received invalid UTF-8', 1007, 'WS_ERR_INVALID_UTF8'],
    ['Received invalid opcode', 1002, 'WS_ERR_INVALID_OPCODE'],
    ['Received invalid close code', 1002, 'WS_ERR_INVALID_CLOSE_CODE'],
    ['Received something this version has not seen', 1002, 'WS_ERR_PROTOCOL'],
  ] as const) {
    it(`1006 with '${reason}' is a protocol error closed with ${closeCode}`, () => {
      const error = protocolErrorOf(1006, reason);
      expect(error).toBeInstanceOf(BunProtocolError);
      expect(error).toMatchObject({ message: reason, closeCode, code });
    });
  }

  it('1006 without a reason is a dropped connection, and any other code a close frame from the peer', () => {
    expect(protocolErrorOf(1006, '')).toBeUndefined();
    expect(protocolErrorOf(1000, 'Received invalid UTF-8')).toBeUndefined();
    expect(protocolErrorOf(4000, 'bye')).toBeUndefined();
  });
});
