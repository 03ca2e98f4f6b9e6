import { describe, expect, it } from 'vitest';
import { didYouMean, rejectUnknownOptions, unknownOption } from '../../src/runtime/options.js';
import { spawn } from '../../src/runtime/process.js';
import { GenServer } from '../../src/runtime/gen-server.js';
import { Registry } from '../../src/runtime/registry.js';
import { PubSub } from '../../src/runtime/pubsub.js';
import { Supervisor } from '../../src/runtime/supervisor.js';
import { DynamicSupervisor } from '../../src/runtime/dynamic-supervisor.js';

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TypeError);
    return (err as TypeError).message;
  }
  throw new Error('expected a TypeError');
}

describe('rejectUnknownOptions', () => {
  it('names the key, where it was, and the known name it most likely meant', () => {
    expect(messageOf(() => rejectUnknownOptions({ timout: 1 }, ['timeout', 'compress'], 'upgrade options'))).toBe(
      `unknown option 'timout' in upgrade options (did you mean 'timeout'?)`,
    );
  });

  it('lists the known names when none is close', () => {
    expect(messageOf(() => rejectUnknownOptions({ frobnicate: 1 }, ['timeout', 'compress'], 'upgrade options'))).toBe(
      `unknown option 'frobnicate' in upgrade options (known: timeout, compress)`,
    );
  });

  it('accepts known keys and an empty object', () => {
    rejectUnknownOptions({ timeout: 1 }, ['timeout'], 'x');
    rejectUnknownOptions({}, [], 'x');
  });

  it('suggests across case and underscores, and adjacent swaps', () => {
    expect(didYouMean('max_frame_size', ['maxFrameSize', 'timeout'])).toBe('maxFrameSize');
    expect(didYouMean('TRAPEXIT', ['trapExit'])).toBe('trapExit');
    expect(didYouMean('naem', ['name', 'kind'])).toBe('name');
    expect(didYouMean('zzz', ['name', 'kind'])).toBeUndefined();
    expect(unknownOption('trapexit', ['trapExit'], 'process flags').message).toBe(`unknown option 'trapexit' in process flags (did you mean 'trapExit'?)`);
  });

  it('is the one wording of every options check in the runtime', () => {
    const noop = (): void => undefined;
    const impl = { init: () => ({ ok: 0 }) };
    const spec = { id: 'a', start: () => undefined };
    expect(messageOf(() => spawn(noop, { nmae: 'x' } as never))).toBe(`unknown option 'nmae' in spawn options (did you mean 'name'?)`);
    expect(messageOf(() => spawn(noop, { maxHeapSize: { size: 1, kil: true } as never }))).toBe(`unknown option 'kil' in maxHeapSize (did you mean 'kill'?)`);
    expect(messageOf(() => GenServer.start(impl, undefined as never, { timout: 1 } as never))).toBe(`unknown option 'timout' in GenServer.start options (did you mean 'timeout'?)`);
    expect(messageOf(() => new Registry({ keys: 'unique', listener: [] } as never))).toBe(`unknown option 'listener' in Registry options (did you mean 'listeners'?)`);
    expect(messageOf(() => new PubSub({ nmae: 'x' } as never))).toBe(`unknown option 'nmae' in PubSub options (did you mean 'name'?)`);
    expect(messageOf(() => Supervisor.start([spec], { strategy: 'one_for_one', maxRestart: 1 } as never))).toBe(
      `unknown option 'maxRestart' in Supervisor.start options (did you mean 'maxRestarts'?)`,
    );
    expect(messageOf(() => Supervisor.start([{ ...spec, restrat: 'temporary' } as never], { strategy: 'one_for_one' }))).toBe(
      `unknown option 'restrat' in Supervisor.start child spec 'a' (did you mean 'restart'?)`,
    );
    expect(messageOf(() => DynamicSupervisor.start({ maxChildern: 1 } as never))).toBe(
      `unknown option 'maxChildern' in DynamicSupervisor.start options (did you mean 'maxChildren'?)`,
    );
  });
});
