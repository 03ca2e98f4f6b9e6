import { describe, expect, it } from 'vitest';
import { MalformedMessage, decode, encodeControl, encodePush, encodeReply, serializerFor } from '../../src/channels/serializer.js';

describe('the Phoenix serializers', () => {
  it('vsn picks 2.0.x or 1.0.x (absent is 1.0.0, as in Phoenix), nothing else', () => {
    expect(serializerFor('2.0.0')).toBe('2');
    expect(serializerFor('1.0.0')).toBe('1');
    expect(serializerFor(null)).toBe('1');
    expect(serializerFor('3.0.0')).toBeUndefined();
    expect(serializerFor('2.1.0')).toBeUndefined();
  });

  it('decodes 2.0.0 arrays, 1.0.0 objects and binary pushes', () => {
    expect(decode('2', '["1","2","room:a","ev",{"x":1}]')).toEqual({ joinRef: '1', ref: '2', topic: 'room:a', event: 'ev', payload: { x: 1 } });
    expect(decode('1', '{"topic":"room:a","event":"ev","payload":{},"ref":"3"}')).toEqual({ joinRef: null, ref: '3', topic: 'room:a', event: 'ev', payload: {} });
    const head = Buffer.from([0, 1, 1, 6, 2]);
    const m = decode('2', Buffer.concat([head, Buffer.from('12room:aev'), Buffer.from([9, 8])]));
    expect(m).toMatchObject({ joinRef: '1', ref: '2', topic: 'room:a', event: 'ev' });
    expect([...(m.payload as Buffer)]).toEqual([9, 8]);
  });

  it('names what is wrong with a malformed message', () => {
    expect(() => decode('2', 'not json')).toThrow(new MalformedMessage('a text frame must be JSON'));
    expect(() => decode('2', '{"topic":"a"}')).toThrow('a 2.0.0 message must be a JSON array [join_ref, ref, topic, event, payload]');
    expect(() => decode('2', '[1,"2","t","e",{}]')).toThrow('join_ref and ref must be strings or null, topic and event strings');
    expect(() => decode('1', '[]')).toThrow('a 1.0.0 message must be a JSON object {topic, event, payload, ref}');
    expect(() => decode('1', '{"topic":1,"event":"e"}')).toThrow('ref must be a string or null, topic and event strings');
    expect(() => decode('1', Buffer.from([0]))).toThrow('binary frames need serializer 2.0.0 (vsn=2.0.0)');
    expect(() => decode('2', Buffer.from([1, 0, 0, 0, 0]))).toThrow('a binary frame from the client must be a push (kind 0) with a 5-byte header');
    expect(() => decode('2', Buffer.from([0, 9, 0, 0, 0]))).toThrow('binary frame shorter than its header says');
  });

  it('encodes pushes, broadcasts, replies and control messages as the phoenix client reads them', () => {
    expect(encodePush('2', '1', 't', 'e', { a: 1 })).toEqual(['text', '["1",null,"t","e",{"a":1}]']);
    expect(encodePush('1', null, 't', 'e', {})).toEqual(['text', '{"topic":"t","event":"e","payload":{},"ref":null,"join_ref":null}']);
    expect(encodeReply('2', '1', '2', 't', 'ok', {})).toEqual(['text', '["1","2","t","phx_reply",{"status":"ok","response":{}}]']);
    expect(encodeControl('2', '4', 't', 'phx_error', {})).toEqual(['text', '["4","4","t","phx_error",{}]']);
    const push = encodePush('2', '1', 't', 'e', new Uint8Array([7]));
    expect(push[0]).toBe('binary');
    expect([...(push[1] as Uint8Array)]).toEqual([0, 1, 1, 1, ...Buffer.from('1te'), 7]);
    const cast = encodePush('2', null, 't', 'e', new Uint8Array([7]).buffer);
    expect([...(cast[1] as Uint8Array)]).toEqual([2, 1, 1, ...Buffer.from('te'), 7]);
    const reply = encodeReply('2', '1', '2', 't', 'ok', new Uint8Array([7]));
    expect([...(reply[1] as Uint8Array)]).toEqual([1, 1, 1, 1, 2, ...Buffer.from('12tok'), 7]);
    expect(() => encodePush('2', '1', 't'.repeat(256), 'e', new Uint8Array(1))).toThrow(RangeError);
  });
});
