import { describe, expect, it } from 'vitest';
import {
  CloseCode,
  MAX_CLOSE_REASON_BYTES,
  closeReplyCode,
  isValidSendCode,
  validateCloseDetail,
} from '../../src/websock/close-codes.js';

describe('CloseCode', () => {
  it('names every code from 1000 to 1015 except the unassigned 1004', () => {
    const codes = Object.values(CloseCode).sort((a, b) => a - b);
    const expected = Array.from({ length: 16 }, (_, i) => 1000 + i).filter((c) => c !== 1004);
    expect(codes).toEqual(expected);
    expect(Object.isFrozen(CloseCode)).toBe(true);
  });

  it('uses the registered names', () => {
    expect(CloseCode.NORMAL).toBe(1000);
    expect(CloseCode.GOING_AWAY).toBe(1001);
    expect(CloseCode.PROTOCOL_ERROR).toBe(1002);
    expect(CloseCode.INVALID_PAYLOAD).toBe(1007);
    expect(CloseCode.MESSAGE_TOO_BIG).toBe(1009);
    expect(CloseCode.INTERNAL_ERROR).toBe(1011);
    expect(CloseCode.SERVICE_RESTART).toBe(1012);
    expect(CloseCode.TRY_AGAIN_LATER).toBe(1013);
  });
});

describe('isValidSendCode', () => {
  it.each([
    [999, false],
    [1000, true],
    [1001, true],
    [1002, true],
    [1003, true],
    [1004, false],
    [1005, false],
    [1006, false],
    [1007, true],
    [1011, true],
    [1012, true],
    [1013, true],
    [1014, true],
    [1015, false],
    [1016, false],
    [2999, false],
    [3000, true],
    [3999, true],
    [4000, true],
    [4999, true],
    [5000, false],
    [0, false],
    [-1000, false],
    [1000.5, false],
    [NaN, false],
  ])('%d -> %s', (code, valid) => {
    expect(isValidSendCode(code)).toBe(valid);
  });

  it('never accepts a code that only the local side may report', () => {
    for (const code of [CloseCode.NO_STATUS, CloseCode.ABNORMAL, CloseCode.TLS_HANDSHAKE]) {
      expect(isValidSendCode(code)).toBe(false);
    }
  });
});

describe('validateCloseDetail', () => {
  it('accepts a valid code with or without a reason', () => {
    expect(() => validateCloseDetail(1000)).not.toThrow();
    expect(() => validateCloseDetail(4001, 'room closed')).not.toThrow();
    expect(() => validateCloseDetail(1012, null)).not.toThrow();
    expect(() => validateCloseDetail(1000, new TextEncoder().encode('bye'))).not.toThrow();
  });

  it('rejects an unsendable code and lists the ranges', () => {
    expect(() => validateCloseDetail(999)).toThrow(new RangeError('close code 999 cannot be sent: use 1000-1003, 1007-1014 or 3000-4999'));
    expect(() => validateCloseDetail(1006)).toThrow('close code 1006 cannot be sent: use 1000-1003, 1007-1014 or 3000-4999');
    expect(() => validateCloseDetail('1000' as unknown as number)).toThrow(
      'close code "1000" cannot be sent: use 1000-1003, 1007-1014 or 3000-4999',
    );
  });

  it('accepts a reason of exactly 123 UTF-8 bytes', () => {
    expect(() => validateCloseDetail(1000, 'a'.repeat(MAX_CLOSE_REASON_BYTES))).not.toThrow();
    expect(() => validateCloseDetail(1000, 'é'.repeat(61) + 'a')).not.toThrow();
  });

  it('rejects a reason over 123 UTF-8 bytes, counting bytes rather than characters', () => {
    expect(() => validateCloseDetail(1000, 'a'.repeat(124))).toThrow(
      new RangeError('close reason is 124 bytes of UTF-8, over the limit of 123: shorten it'),
    );
    expect(() => validateCloseDetail(1000, 'é'.repeat(62))).toThrow('close reason is 124 bytes of UTF-8, over the limit of 123: shorten it');
    expect(() => validateCloseDetail(1000, new Uint8Array(124).fill(0x61))).toThrow(/124 bytes/);
  });

  it('rejects reason bytes that are not UTF-8', () => {
    expect(() => validateCloseDetail(1000, new Uint8Array([0xff]))).toThrow(
      new TypeError('close reason bytes are not valid UTF-8: peers reject such a close frame (RFC 6455 §5.5.1)'),
    );
  });

  it('rejects a reason of another type', () => {
    expect(() => validateCloseDetail(1000, 5 as unknown as string)).toThrow(
      new TypeError('close reason must be a string or a Uint8Array, got 5'),
    );
  });
});

describe('closeReplyCode', () => {
  it.each([
    [undefined, 1000],
    [1000, 1000],
    [1001, 1000],
    [1003, 1000],
    [1004, 1002],
    [1005, 1002],
    [1006, 1002],
    [1007, 1000],
    [1011, 1000],
    [1012, 1002],
    [1015, 1002],
    [2999, 1002],
    [3000, 1000],
    [4999, 1000],
    [5000, 1000],
    [999, 1002],
  ])('answers a peer close with %s by %d', (code, reply) => {
    expect(closeReplyCode(code)).toBe(reply);
  });
});
