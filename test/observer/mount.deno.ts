/**
 * The observer mounted on `beamsock/deno`'s `serve` (see `fetch-mount.ts`). Runs
 * in vitest under Deno (`run-under-deno.test.ts` starts it).
 */
import { serve } from '../../src/adapters/deno/server.js';
import { describeMountObserver } from './fetch-mount.js';

describeMountObserver({ runtime: 'Deno', serve, gc: true });
