import { serve } from '../../../src/adapters/ws/server.js';
import { conformance } from '../../conformance/suite.js';

conformance({
  name: 'ws',
  start: (handler, options) => serve(handler, { ...options, port: 0 }),
});
