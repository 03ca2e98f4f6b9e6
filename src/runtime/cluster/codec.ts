/**
 * How a message crosses from one node to another: a pluggable `{ encode, decode }`.
 *
 * The default, `msgpackCodec`, is MessagePack (msgpackr) with beamsock's extensions.
 * It was picked by measurement (about 4 µs to encode and decode a small message here,
 * against 9–17 µs for JSON and 19–23 µs for `node:v8`), and its wire format is the
 * MessagePack spec plus fixed extension type codes, so Node, Bun and Deno nodes of
 * any version read each other (`node:v8`'s format is tied to the engine: not used).
 *
 * Every codec here refuses, at the sender, what it cannot carry faithfully: a
 * function, a symbol, a class instance it does not know, a cycle, a key named `__proto__`. The error names the
 * path (`message.a.b is a function`); nothing is silently lost or changed.
 */
import { Packr, addExtension } from 'msgpackr';
import { Pid, Ref, internRef } from '../pid.js';

/** Turns a message into bytes and back. `encode` throws `TypeError` for what it cannot carry. */
export interface Codec {
  /** A short name, for reports and diagnostics (`'msgpack'`, `'json'`). */
  readonly name: string;
  encode(message: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

/** Deeper than this is refused: a cycle, or a structure nothing should send. */
export const MAX_MESSAGE_DEPTH = 256;

const OBJECT_PROTO = Object.prototype;

/**
 * Throws a `TypeError` naming the path of the first value in `message` that the
 * built-in codecs cannot carry: functions, symbols, class instances other than the
 * known ones (Pid, Ref, Date, Map, Set, RegExp, Error, Uint8Array and other typed
 * arrays), and structures deeper than `MAX_MESSAGE_DEPTH` (cycles).
 *
 * @example
 * assertTransferable({ a: { b: () => 1 } }); // TypeError: message.a.b is a function
 */
export function assertTransferable(message: unknown, path = 'message'): void {
  check(message, path, 0);
}

function check(v: unknown, path: string, depth: number): void {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return;
    case 'function':
      throw new TypeError(`${path} is a function: functions cannot cross to another node`);
    case 'symbol':
      throw new TypeError(`${path} is a symbol: symbols cannot cross to another node`);
  }
  if (v === null) return;
  if (depth >= MAX_MESSAGE_DEPTH) {
    throw new TypeError(`${path} nests deeper than ${MAX_MESSAGE_DEPTH} levels (a cycle?): it cannot cross to another node`);
  }
  const o = v as object;
  if (Array.isArray(o)) {
    for (let i = 0; i < o.length; i++) check(o[i], `${path}[${i}]`, depth + 1);
    return;
  }
  const proto: unknown = Object.getPrototypeOf(o);
  if (proto === OBJECT_PROTO || proto === null) {
    for (const key in o) {
      // msgpackr renames it (a guard against prototype pollution): refused rather than changed.
      if (key === '__proto__') throw new TypeError(`${path} has a key named __proto__, which cannot cross to another node`);
      check((o as Record<string, unknown>)[key], `${path}.${key}`, depth + 1);
    }
    return;
  }
  if (o instanceof Pid || o instanceof Ref || o instanceof Date || o instanceof RegExp || ArrayBuffer.isView(o)) return;
  if (o instanceof Map) {
    let i = 0;
    for (const [k, val] of o) {
      check(k, `${path}<key ${i}>`, depth + 1);
      check(val, `${path}<value ${i}>`, depth + 1);
      i++;
    }
    return;
  }
  if (o instanceof Set) {
    let i = 0;
    for (const val of o) check(val, `${path}<item ${i++}>`, depth + 1);
    return;
  }
  if (o instanceof Error) return;
  const cls = (proto as { constructor?: { name?: string } }).constructor?.name ?? 'unknown';
  throw new TypeError(
    `${path} is an instance of ${cls}: the cluster codec carries plain objects, arrays, Pid, Ref, Date, Map, Set, RegExp, Error and typed arrays; convert it to plain data or pass your own codec`,
  );
}

// MessagePack extension type codes (application range 0..127). Fixed: they are the
// wire format, so a node of another runtime or version reads the same values.
const EXT_PID = 0x50; // 'P': [node, serial, creation]
const EXT_REF = 0x52; // 'R': [node, id, creation]

let extensionsAdded = false;
function addBeamsockExtensions(): void {
  if (extensionsAdded) return;
  extensionsAdded = true;
  addExtension({
    Class: Pid,
    type: EXT_PID,
    write: (pid: Pid) => [pid.node, pid.serial, pid.creation],
    read: ([node, serial, creation]: [string, number, number]) => Pid.from({ node, serial, creation }),
  });
  addExtension({
    Class: Ref,
    type: EXT_REF,
    write: (ref: Ref) => {
      internRef(ref);
      return [ref.node, ref.id, ref.creation];
    },
    read: ([node, ref, creation]: [string, number, number]) => Ref.from({ node, ref, creation }),
  });
}

/**
 * The default codec: MessagePack with extensions for Pid and Ref (msgpackr's own for
 * Map, Set, Date, RegExp, Error, typed arrays and bigint; objects as inline records). Values keep their types:
 * `undefined` stays `undefined` (also in arrays and as an object property), a Buffer
 * arrives as a Buffer on Node and a Uint8Array elsewhere.
 *
 * @example
 * const bytes = msgpackCodec.encode({ from: self(), at: new Date() });
 * msgpackCodec.decode(bytes); // { from: #PID<...>, at: Date }
 */
export const msgpackCodec: Codec = (() => {
  addBeamsockExtensions();
  // Records (msgpackr's self-describing object shapes, defined inline in each message)
  // let a Map decode as a Map while plain objects stay objects.
  const packr = new Packr({ moreTypes: true, useRecords: true, mapsAsObjects: false });
  return {
    name: 'msgpack',
    encode(message: unknown): Uint8Array {
      check(message, 'message', 0);
      return packr.pack(message);
    },
    decode(bytes: Uint8Array): unknown {
      return packr.unpack(bytes);
    },
  };
})();

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/**
 * A JSON codec, for nodes that must read the wire as text (or a runtime without
 * msgpackr). Tags `{"$pid":[node,serial,creation]}`, `{"$ref":...}`, `{"$date":ms}`,
 * `{"$map":[[k,v],...]}`, `{"$set":[...]}`, `{"$big":"123"}`, `{"$bin":base64}`,
 * `{"$undef":1}`; refuses what it cannot carry like `msgpackCodec`. About 2–4x
 * slower than `msgpackCodec` (measured in the cluster tests' codec figures).
 *
 * @example
 * await startNode({ name: 'a', transport, codec: jsonCodec });
 */
export const jsonCodec: Codec = {
  name: 'json',
  encode(message: unknown): Uint8Array {
    check(message, 'message', 0);
    return utf8.encode(JSON.stringify(toTagged(message)));
  },
  decode(bytes: Uint8Array): unknown {
    return fromTagged(JSON.parse(fromUtf8.decode(bytes)) as unknown);
  },
};

function toTagged(v: unknown): unknown {
  switch (typeof v) {
    case 'bigint':
      return { $big: v.toString() };
    case 'undefined':
      return { $undef: 1 };
    case 'number':
      return Number.isFinite(v) ? v : { $num: String(v) };
    case 'object':
      break;
    default:
      return v;
  }
  if (v === null) return null;
  if (Array.isArray(v)) return v.map(toTagged);
  if (v instanceof Pid) return { $pid: [v.node, v.serial, v.creation] };
  if (v instanceof Ref) {
    internRef(v);
    return { $ref: [v.node, v.id, v.creation] };
  }
  if (v instanceof Date) return { $date: v.getTime() };
  if (v instanceof Map) return { $map: [...v].map(([k, x]) => [toTagged(k), toTagged(x)]) };
  if (v instanceof Set) return { $set: [...v].map(toTagged) };
  if (v instanceof RegExp) return { $re: [v.source, v.flags] };
  if (v instanceof Error) return { $err: [v.name, v.message] };
  if (ArrayBuffer.isView(v)) return { $bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  const out: Record<string, unknown> = {};
  let n = 0;
  let last = '';
  for (const key in v) {
    out[key] = toTagged((v as Record<string, unknown>)[key]);
    n++;
    last = key;
  }
  // A user object that looks like a tag is wrapped, so it cannot be misread.
  return n === 1 && last.startsWith('$') ? { $obj: out } : out;
}

function fromTagged(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map(fromTagged);
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1) {
    const tag = keys[0] as string;
    const x = o[tag];
    switch (tag) {
      case '$pid': {
        const [node, serial, creation] = x as [string, number, number];
        return Pid.from({ node, serial, creation });
      }
      case '$ref': {
        const [node, ref, creation] = x as [string, number, number];
        return Ref.from({ node, ref, creation });
      }
      case '$date':
        return new Date(x as number);
      case '$map':
        return new Map((x as [unknown, unknown][]).map(([k, y]) => [fromTagged(k), fromTagged(y)]));
      case '$set':
        return new Set((x as unknown[]).map(fromTagged));
      case '$big':
        return BigInt(x as string);
      case '$undef':
        return undefined;
      case '$num':
        return Number(x);
      case '$re': {
        const [source, flags] = x as [string, string];
        return new RegExp(source, flags);
      }
      case '$err': {
        const [name, message] = x as [string, string];
        const e = new Error(message);
        e.name = name;
        return e;
      }
      case '$bin':
        return new Uint8Array(Buffer.from(x as string, 'base64'));
      case '$obj': {
        const inner = x as Record<string, unknown>;
        const out: Record<string, unknown> = {};
        for (const key of Object.keys(inner)) setOwn(out, key, fromTagged(inner[key]));
        return out;
      }
    }
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) setOwn(out, key, fromTagged(o[key]));
  return out;
}

// A key named `__proto__` in received JSON must stay a property, not replace the prototype.
function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  else o[key] = value;
}
