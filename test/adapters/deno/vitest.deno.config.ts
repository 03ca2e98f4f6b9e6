import { defineConfig } from 'vitest/config';
import base from '../../../vitest.config.js';

// The Node run's resolution, timeouts and pool, over the Deno adapter's own files only.
export default defineConfig({ ...base, test: { ...base.test, include: ['test/adapters/deno/*.{conformance,specifics}.ts'] } });
