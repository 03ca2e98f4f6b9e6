import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Tests and examples import 'beamsock' from the sources, not from a build.
  resolve: { conditions: ['beamsock-source'] },
  ssr: { resolve: { conditions: ['beamsock-source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Each file gets its own process: the runtime keeps a process table per Node process.
    pool: 'forks',
    // Two files at once even on two cores: most files wait on child processes, brokers and
    // timers rather than compute, and vitest's default (cores - 1) would run one at a time.
    maxWorkers: 2,
  },
});
