/**
 * `createDenoHandler` and `serve` without Deno: they say where to go instead.
 * The behaviour over real sockets is tested under Deno (`run-under-deno.test.ts`).
 */
import { describe, expect, it } from 'vitest';
import { createDenoHandler, serve } from '../../../src/adapters/deno/index.js';
import { Recorder, scripted } from '../../conformance/handlers.js';

describe('on Node', () => {
  it('serve rejects with a TypeError that points to beamsock/ws', async () => {
    await expect(serve(scripted(new Recorder()))).rejects.toThrow(/serve\(\) from beamsock\/deno needs the Deno runtime.*'beamsock\/ws'/);
  });

  it('createDenoHandler throws a TypeError that points to beamsock/ws', () => {
    expect(() => createDenoHandler(scripted(new Recorder()))).toThrow(/createDenoHandler\(\) needs the Deno runtime.*'beamsock\/ws'/);
  });
});
