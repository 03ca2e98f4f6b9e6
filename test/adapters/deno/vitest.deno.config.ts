import { defineConfig } from 'vitest/config';
import base from '../../../vitest.config.js';

// The Node run's resolution, timeouts and pool, over the files that run under Deno only.
export default defineConfig({ ...base, test: { ...base.test, include: ['test/adapters/deno/*.{conformance,specifics}.ts', 'test/**/*.deno.ts'] } });
