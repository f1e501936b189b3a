import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Model-based suites enumerate hundreds of paths; keep output readable.
    // The JSON report lets .ci/run print a plain "N passed, N failed" line.
    reporters: ['default', ['json', { outputFile: '.vitest/results.json' }]],
    testTimeout: 30_000,
    // A private PostgreSQL cluster for the PostgreSQL store tests (skipped without PostgreSQL
    // binaries, except under CI where that fails the run).
    globalSetup: ['test/helpers/postgresGlobalSetup.ts'],
  },
});
