import { afterEach, beforeEach } from 'vitest';
import { setLogger, type Logger, type Report } from '../../src/runtime/logger.js';

/**
 * Collects the runtime's reports during each test of the calling file, instead of
 * printing them; the previous logger is restored after each test.
 */
export function captureReports(): Report[] {
  const reports: Report[] = [];
  let previous: Logger;
  beforeEach(() => {
    reports.length = 0;
    previous = setLogger((r) => reports.push(r));
  });
  afterEach(() => {
    setLogger(previous);
  });
  return reports;
}
