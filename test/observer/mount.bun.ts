/**
 * The observer mounted on `beamsock/bun`'s `serve` (see `fetch-mount.ts`). Runs
 * under Bun's test runner (`run-under-bun.test.ts` starts it).
 */
import { serve } from '../../src/adapters/bun/server.js';
import { describeMountObserver } from './fetch-mount.js';

describeMountObserver({ runtime: 'Bun', serve, gc: false });
