import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { assertTransferable, jsonCodec, msgpackCodec, MAX_MESSAGE_DEPTH, type Codec } from '../../src/runtime/cluster/codec.js';
import { Pid, Ref, makeRef } from '../../src/runtime/pid.js';
import { spawn } from '../../src/runtime/process.js';

const codecs: Codec[] = [msgpackCodec, jsonCodec];

describe.each(codecs.map((c) => [c.name, c] as const))('%s codec', (_name, codec) => {
  const roundTrip = (v: unknown): unknown => codec.decode(codec.encode(v));

  it('carries structured values with their types, nested', () => {
    const remote = Pid.from({ node: 'other@host', serial: 9, creation: 77 });
    const v = {
      text: 'héllo',
      n: 1.5,
      big: 2n ** 70n,
      small: -5n,
      when: new Date(1_733_000_000_123),
      map: new Map<unknown, unknown>([
        [1, 'one'],
        ['k', { deep: [new Set(['a', 'b'])] }],
      ]),
      set: new Set([1, 'two']),
      bytes: new Uint8Array([0, 1, 255]),
      none: null,
      missing: undefined,
      list: [undefined, null, true, remote],
      re: /a+b/gi,
    };
    const out = roundTrip(v) as typeof v;
    expect(out.text).toBe('héllo');
    expect(out.big).toBe(2n ** 70n);
    expect(out.small).toBe(-5n);
    expect(out.when).toBeInstanceOf(Date);
    expect(out.when.getTime()).toBe(1_733_000_000_123);
    expect(out.map).toBeInstanceOf(Map);
    expect(out.map.get(1)).toBe('one');
    const deep = (out.map.get('k') as { deep: Set<string>[] }).deep[0];
    expect(deep).toBeInstanceOf(Set);
    expect([...(deep as Set<string>)]).toEqual(['a', 'b']);
    expect(out.set).toEqual(new Set([1, 'two']));
    expect(out.bytes).toBeInstanceOf(Uint8Array);
    expect([...out.bytes]).toEqual([0, 1, 255]);
    expect(out.none).toBeNull();
    expect('missing' in out).toBe(true);
    expect(out.missing).toBeUndefined();
    expect(out.list[0]).toBeUndefined();
    expect(out.list[1]).toBeNull();
    expect(out.list[3]).toBe(remote);
    expect(out.re.source).toBe('a+b');
    expect(out.re.flags).toBe('gi');
  });

  it('gives back the very same Pid and Ref objects (interned), creation included', () => {
    const local = spawn(() => {});
    const ref = makeRef();
    const remote = Pid.from({ node: 'n2', serial: 4, creation: 123 });
    const out = roundTrip({ local, ref, remote }) as { local: Pid; ref: Ref; remote: Pid };
    expect(out.local).toBe(local);
    expect(out.ref).toBe(ref);
    expect(out.remote).toBe(remote);
    expect(out.remote.creation).toBe(123);
    expect(Pid.from({ node: 'n2', serial: 4, creation: 124 })).not.toBe(remote);
  });

  it('carries an Error as an Error with its name and message', () => {
    const e = new RangeError('too far');
    const out = roundTrip({ reason: e }) as { reason: Error };
    expect(out.reason).toBeInstanceOf(Error);
    expect(out.reason.message).toBe('too far');
  });

  it('refuses a function at the sender, naming its path', () => {
    expect(() => codec.encode({ a: { b: () => 1 } })).toThrow(new TypeError('message.a.b is a function: functions cannot cross to another node'));
    expect(() => codec.encode([1, [2, Symbol('s')]])).toThrow(/message\[1\]\[1\] is a symbol/);
  });

  it('refuses an unknown class instance, naming the path and the class', () => {
    class Point {
      constructor(readonly x: number) {}
    }
    expect(() => codec.encode({ at: new Point(1) })).toThrow(/^message\.at is an instance of Point: the cluster codec carries plain objects/);
    expect(() => codec.encode(new Map([[1, new Point(2)]]))).toThrow(/message<value 0> is an instance of Point/);
  });

  it('refuses a cycle instead of overflowing the stack', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(() => codec.encode(a)).toThrow(new RegExp(`nests deeper than ${MAX_MESSAGE_DEPTH} levels`));
  });

  it('refuses a key named __proto__ (msgpackr would rename it)', () => {
    expect(() => codec.encode(JSON.parse('{"a":{"__proto__":1}}'))).toThrow('message.a has a key named __proto__, which cannot cross to another node');
  });

  it('round-trips arbitrary JSON-like values (property)', () => {
    const noProtoKey = (v: unknown): boolean => !JSON.stringify(v).includes('"__proto__"');
    fc.assert(
      fc.property(fc.jsonValue().filter(noProtoKey), (v) => {
        // -0 arrives as 0, as through JSON.
        expect(roundTrip(v)).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('the json codec', () => {
  it('decodes a __proto__ key in received JSON as a plain property, never as a prototype', () => {
    const v = jsonCodec.decode(new TextEncoder().encode('{"__proto__":{"polluted":true}}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('does not mistake a user object shaped like a tag for one', () => {
    const v = { $date: 5 };
    expect(jsonCodec.decode(jsonCodec.encode(v))).toEqual({ $date: 5 });
    expect(jsonCodec.decode(jsonCodec.encode({ $x: { $pid: 1 } }))).toEqual({ $x: { $pid: 1 } });
  });

  it('keeps non-finite numbers', () => {
    expect(jsonCodec.decode(jsonCodec.encode([NaN, Infinity, -Infinity]))).toEqual([NaN, Infinity, -Infinity]);
  });
});

describe('assertTransferable', () => {
  it('accepts what the codecs carry and names the first bad path otherwise', () => {
    expect(() => assertTransferable({ a: [1, { b: new Date() }] })).not.toThrow();
    expect(() => assertTransferable({ a: [1, { b: () => 1 }] }, 'msg')).toThrow('msg.a[1].b is a function');
  });
});

it('the msgpack wire format is fixed: bytes written by this version decode, and encoding writes them again', () => {
  // A change here breaks clusters whose nodes run different beamsock versions.
  const wire = '9401a161d6ff00000000d4500093a16e0102';
  const pid = Pid.from({ node: 'n', serial: 1, creation: 2 });
  const decoded = msgpackCodec.decode(Buffer.from(wire, 'hex')) as unknown[];
  expect(decoded.slice(0, 2)).toEqual([1, 'a']);
  expect((decoded[2] as Date).getTime()).toBe(0);
  expect(decoded[3]).toBe(pid);
  expect(Buffer.from(msgpackCodec.encode([1, 'a', new Date(0), pid])).toString('hex')).toBe(wire);
});
