import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Model-based suites enumerate hundreds of paths; keep output readable.
    reporters: ['default'],
    testTimeout: 30_000,
  },
});
