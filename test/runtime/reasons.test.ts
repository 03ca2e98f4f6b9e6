import { describe, expect, it, vi } from 'vitest';
import { makeRef, Pid } from '../../src/runtime/pid.js';
import { consoleLogger, formatReport } from '../../src/runtime/logger.js';
import { formatReason, isDown, isErrorReason, isExit, isQuietReason, isShutdownReason } from '../../src/runtime/reasons.js';

const pid = Pid.from({ node: 'nonode@nohost', serial: 7 });

describe('exit reasons', () => {
  it('tells shutdown and error reasons apart', () => {
    expect(isShutdownReason({ shutdown: 'restart' })).toBe(true);
    expect(isShutdownReason('shutdown')).toBe(false);
    expect(isShutdownReason(null)).toBe(false);
    expect(isErrorReason({ error: new Error('boom') })).toBe(true);
    expect(isErrorReason('killed')).toBe(false);
  });

  it('counts normal, shutdown and { shutdown } as quiet, nothing else', () => {
    for (const r of ['normal', 'shutdown', { shutdown: 'x' }]) expect(isQuietReason(r)).toBe(true);
    for (const r of ['killed', 'kill', 'noproc', { error: 'x' }, 'custom']) expect(isQuietReason(r)).toBe(false);
  });

  it('formats reasons the Elixir way', () => {
    expect(formatReason('normal')).toBe('normal');
    expect(formatReason({ shutdown: 'restart' })).toBe('{shutdown, restart}');
    expect(formatReason({ error: new TypeError('bad') })).toBe('{error, TypeError: bad}');
    expect(formatReason({ code: 4 })).toBe('{"code":4}');
    expect(formatReason({ shutdown: pid })).toBe('{shutdown, #PID<0.7>}');
  });

  it('recognises EXIT and DOWN messages and nothing shaped otherwise', () => {
    expect(isExit({ type: 'EXIT', from: pid, reason: 'normal' })).toBe(true);
    expect(isExit({ type: 'EXIT' })).toBe(false);
    expect(isDown({ type: 'DOWN', ref: makeRef(), pid, reason: 'noproc' })).toBe(true);
    expect(isDown({ type: 'DOWN', pid })).toBe(false);
    expect(isDown('DOWN')).toBe(false);
  });
});

describe('reports', () => {
  it('formats max_heap_size and supervisor reports on one line', () => {
    expect(formatReport({ kind: 'max_heap_size', pid, name: 'cache', heapSize: 704, limit: 640, killed: true })).toBe(
      '[beamsock] process #PID<0.7> (cache) holds 704 bytes, over its maxHeapSize of 640; killed',
    );
    expect(formatReport({ kind: 'supervisor', supervisor: pid, event: 'child_terminated', childId: 'worker', pid, reason: { error: 'x' } })).toBe(
      '[beamsock] supervisor #PID<0.7> child_terminated child worker #PID<0.7>: {error, x}',
    );
  });

  it('formats upgrade reports: a refusal on one line, a failure with what was thrown', () => {
    expect(formatReport({ kind: 'upgrade', server: 'ws', path: '/ws', status: 401, reason: 'unknown session', error: undefined })).toBe(
      '[beamsock] ws upgrade of /ws refused with 401: unknown session',
    );
    expect(formatReport({ kind: 'upgrade', server: 'bun', path: undefined, status: 500, reason: 'internal server error', error: 'no db' })).toBe(
      '[beamsock] bun upgrade of / failed with 500: no db',
    );
    const err = new Error('db down');
    expect(formatReport({ kind: 'upgrade', server: 'ws', path: '/ws', status: 500, reason: 'internal server error', error: err })).toBe(
      `[beamsock] ws upgrade of /ws failed with 500: ${err.stack as string}`,
    );
  });

  it('formats cluster reports with the node and the loss when there is one', () => {
    expect(formatReport({ kind: 'cluster', event: 'nodedown', node: 'chat-2', lost: 3, detail: 'silent for 800 ms' })).toBe(
      '[beamsock] cluster nodedown node chat-2: silent for 800 ms (3 messages lost)',
    );
    expect(formatReport({ kind: 'cluster', event: 'bad_frame', node: undefined, lost: 0, detail: 'not a beamsock frame' })).toBe(
      '[beamsock] cluster bad_frame: not a beamsock frame',
    );
  });

  it('consoleLogger writes each report as one line to stderr', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      consoleLogger({ kind: 'max_heap_size', pid, name: undefined, heapSize: 1, limit: 0, killed: false });
      expect(write).toHaveBeenCalledWith('[beamsock] process #PID<0.7> holds 1 bytes, over its maxHeapSize of 0\n');
    } finally {
      write.mockRestore();
    }
  });
});
