import { defineConfig } from 'vitest/config';

// The slow proofs (soak, crash, stress): `npm run test:stress`, also run by .ci/run.
export default defineConfig({
  test: {
    include: ['test/stress/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
