// Vitest config used only by Stryker (`npm run mutate`, see stryker.config.mjs).
// It runs the in-process suites that exercise machines/ and src/runtime/; the suites
// that spawn the CLI, pack the package, check docs or benchmark are left out: they
// cannot see an active mutant (other process) or are too slow to run per mutant.
// (Not mergeConfig: it would concatenate `include` with the base config's.)
import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'test/{model,runtime,durability,decorators,listeners,gates,unit,context,values,otel}/**/*.test.ts',
    ],
    // Suites that drive other processes (the CLI, killed children) cannot see a mutant of this
    // one, and take seconds each; the store suites test no runtime code.
    exclude: [
      ...(base.test?.exclude ?? []),
      'test/runtime/processExit.test.ts',
      'test/durability/{crash,damage,ownership,poisonPill}.test.ts',
    ],
    // No JSON report file in the sandbox; Stryker collects the results itself.
    reporters: ['dot'],
    // The slowest test here takes well under a second. A mutant that makes a run hang (a timer
    // never fires, a run never settles) then fails its test after 5 s instead of waiting for
    // Stryker's own timeout (~30 s: 1.5 x the suite + its 18 s start-up overhead + timeoutMS)
    // and a restart of the test runner; Stryker counts it as killed ("Test timed out").
    // On a machine at load 10+ a dry-run test can take longer than that, and Stryker refuses to
    // start: STRYKER_TEST_TIMEOUT_MS raises both (e.g. 15000), at the cost of slower hangs.
    testTimeout: Number(process.env.STRYKER_TEST_TIMEOUT_MS ?? 5_000),
    hookTimeout: Number(process.env.STRYKER_TEST_TIMEOUT_MS ?? 5_000),
  },
});
