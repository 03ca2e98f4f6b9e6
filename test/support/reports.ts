import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { setLogger, type Logger, type Report } from '../../src/runtime/logger.js';

/**
 * Collects the runtime's reports instead of printing them: emptied before each
 * test of the calling file (`'each'`, the default), or gathered over the whole file
 * (`'file'`); the previous logger comes back afterwards.
 */
export function captureReports(scope: 'each' | 'file' = 'each'): Report[] {
  const reports: Report[] = [];
  let previous: Logger;
  const capture = (): void => {
    reports.length = 0;
    previous = setLogger((r) => reports.push(r));
  };
  const restore = (): void => {
    setLogger(previous);
  };
  if (scope === 'each') {
    beforeEach(capture);
    afterEach(restore);
  } else {
    beforeAll(capture);
    afterAll(restore);
  }
  return reports;
}
