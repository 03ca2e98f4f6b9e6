import type { Pid } from '../../src/runtime/pid.js';
import { watch } from '../../src/runtime/process.js';
import type { ExitReason } from '../../src/runtime/reasons.js';

/** Resolves with the reason `pid` exits with ('noproc' if it is not alive), through a runtime-owned monitor. */
export function exitReasonOf(pid: Pid): Promise<ExitReason> {
  return new Promise((resolve) => {
    if (watch(pid, (_pid, reason) => resolve(reason)) === undefined) resolve('noproc');
  });
}
