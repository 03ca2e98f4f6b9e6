/**
 * The Phoenix Channels wire formats, as the `phoenix` JavaScript client speaks
 * them: serializer 2.0.0 (JSON arrays `[join_ref, ref, topic, event, payload]`
 * in text frames, and a binary frame layout for `ArrayBuffer` payloads) and
 * 1.0.0 (JSON objects `{topic, event, payload, ref}`). The socket picks one
 * from the `vsn` query parameter.
 */
import type { Frame } from '../websock/behaviour.js';

/** A message as the client sent it. `payload` is a Buffer when it came in a binary frame. */
export interface InMessage {
  readonly joinRef: string | null;
  readonly ref: string | null;
  readonly topic: string;
  readonly event: string;
  readonly payload: unknown;
}

/** The two serializers of the protocol; `'2'` for `vsn` 2.0.x, `'1'` for 1.0.x. */
export type SerializerVersion = '1' | '2';

/** Thrown by `decode` for a frame that is not a Phoenix message; the socket closes with 1003 naming it. */
export class MalformedMessage extends Error {
  override readonly name = 'MalformedMessage';
}

const PUSH = 0;
const REPLY = 1;
const BROADCAST = 2;
const encoder = new TextEncoder();

/**
 * The serializer a `vsn` query parameter asks for (absent means 1.0.0, as in
 * Phoenix), or undefined for a version beamsock does not speak.
 *
 * @example
 * serializerFor('2.0.0'); // '2'
 */
export function serializerFor(vsn: string | null): SerializerVersion | undefined {
  if (vsn === null || /^1\.0\.\d+$/.test(vsn)) return '1';
  if (/^2\.0\.\d+$/.test(vsn)) return '2';
  return undefined;
}

function isRef(v: unknown): v is string | null {
  return v === null || v === undefined || typeof v === 'string';
}

/**
 * Reads one frame from the client.
 *
 * @throws MalformedMessage naming what was wrong.
 * @example
 * decode('2', '["1","1","room:lobby","phx_join",{}]'); // { joinRef: '1', ref: '1', topic: 'room:lobby', ... }
 */
export function decode(vsn: SerializerVersion, data: string | Buffer): InMessage {
  if (typeof data !== 'string') {
    if (vsn !== '2') throw new MalformedMessage('binary frames need serializer 2.0.0 (vsn=2.0.0)');
    return decodeBinaryPush(data);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    throw new MalformedMessage('a text frame must be JSON');
  }
  if (vsn === '2') {
    if (!Array.isArray(parsed) || parsed.length !== 5) throw new MalformedMessage('a 2.0.0 message must be a JSON array [join_ref, ref, topic, event, payload]');
    const [joinRef, ref, topic, event, payload] = parsed as unknown[];
    if (!isRef(joinRef) || !isRef(ref) || typeof topic !== 'string' || typeof event !== 'string') {
      throw new MalformedMessage('join_ref and ref must be strings or null, topic and event strings');
    }
    return { joinRef: joinRef ?? null, ref: ref ?? null, topic, event, payload };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new MalformedMessage('a 1.0.0 message must be a JSON object {topic, event, payload, ref}');
  const m = parsed as { join_ref?: unknown; ref?: unknown; topic?: unknown; event?: unknown; payload?: unknown };
  if (!isRef(m.join_ref) || !isRef(m.ref) || typeof m.topic !== 'string' || typeof m.event !== 'string') {
    throw new MalformedMessage('ref must be a string or null, topic and event strings');
  }
  return { joinRef: m.join_ref ?? null, ref: m.ref ?? null, topic: m.topic, event: m.event, payload: m.payload };
}

function decodeBinaryPush(b: Buffer): InMessage {
  if (b.length < 5 || b[0] !== PUSH) throw new MalformedMessage('a binary frame from the client must be a push (kind 0) with a 5-byte header');
  const joinRefSize = b[1] as number;
  const refSize = b[2] as number;
  const topicSize = b[3] as number;
  const eventSize = b[4] as number;
  let at = 5;
  if (at + joinRefSize + refSize + topicSize + eventSize > b.length) throw new MalformedMessage('binary frame shorter than its header says');
  const field = (n: number): string => {
    const s = b.toString('utf8', at, at + n);
    at += n;
    return s;
  };
  const joinRef = field(joinRefSize);
  const ref = field(refSize);
  const topic = field(topicSize);
  const event = field(eventSize);
  return { joinRef: joinRef === '' ? null : joinRef, ref: ref === '' ? null : ref, topic, event, payload: b.subarray(at) };
}

function isBinary(payload: unknown): payload is Uint8Array | ArrayBuffer {
  return payload instanceof Uint8Array || payload instanceof ArrayBuffer;
}

function bytes(payload: Uint8Array | ArrayBuffer): Uint8Array {
  return payload instanceof Uint8Array ? payload : new Uint8Array(payload);
}

function binaryFrame(kind: number, fields: readonly string[], payload: Uint8Array | ArrayBuffer): Frame {
  const encoded = fields.map((f) => encoder.encode(f));
  for (let i = 0; i < encoded.length; i++) {
    if ((encoded[i] as Uint8Array).length > 255) throw new RangeError(`binary message field '${fields[i] as string}' is longer than 255 bytes`);
  }
  const body = bytes(payload);
  const head = 1 + encoded.length;
  const out = new Uint8Array(head + encoded.reduce((n, e) => n + e.length, 0) + body.length);
  out[0] = kind;
  let at = head;
  encoded.forEach((e, i) => {
    out[1 + i] = e.length;
    out.set(e, at);
    at += e.length;
  });
  out.set(body, at);
  return ['binary', out];
}

/**
 * A push from the server to one client: `event` with `payload` on `topic`, for
 * the channel joined under `joinRef` (null for a broadcast, which every join of
 * the topic accepts).
 *
 * @example
 * encodePush('2', '3', 'room:lobby', 'new_msg', { body: 'hi' }); // ['text', '["3",null,"room:lobby","new_msg",{"body":"hi"}]']
 */
export function encodePush(vsn: SerializerVersion, joinRef: string | null, topic: string, event: string, payload: unknown): Frame {
  if (vsn === '2') {
    if (isBinary(payload)) return joinRef === null ? binaryFrame(BROADCAST, [topic, event], payload) : binaryFrame(PUSH, [joinRef, topic, event], payload);
    return ['text', JSON.stringify([joinRef, null, topic, event, payload])];
  }
  return ['text', JSON.stringify({ topic, event, payload, ref: null, join_ref: joinRef })];
}

/**
 * A reply (`phx_reply`) to the client's message `ref`: `{status, response}`.
 *
 * @example
 * encodeReply('2', '3', '4', 'room:lobby', 'ok', { n: 1 });
 */
export function encodeReply(vsn: SerializerVersion, joinRef: string | null, ref: string | null, topic: string, status: string, response: unknown): Frame {
  if (vsn === '2') {
    if (isBinary(response)) return binaryFrame(REPLY, [joinRef ?? '', ref ?? '', topic, status], response);
    return ['text', JSON.stringify([joinRef, ref, topic, 'phx_reply', { status, response }])];
  }
  return ['text', JSON.stringify({ topic, event: 'phx_reply', payload: { status, response }, ref, join_ref: joinRef })];
}

/**
 * A message from the server carrying the join's ref as its ref, as Phoenix sends
 * `phx_close` and `phx_error`.
 *
 * @example
 * encodeControl('2', '3', 'room:lobby', 'phx_error', { reason: 'channel_crash' });
 */
export function encodeControl(vsn: SerializerVersion, joinRef: string, topic: string, event: 'phx_close' | 'phx_error', payload: object): Frame {
  if (vsn === '2') return ['text', JSON.stringify([joinRef, joinRef, topic, event, payload])];
  return ['text', JSON.stringify({ topic, event, payload, ref: joinRef, join_ref: joinRef })];
}
