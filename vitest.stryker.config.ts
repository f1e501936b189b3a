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
      'test/{model,runtime,durability,decorators,listeners,gates,unit,context,stores}/**/*.test.ts',
    ],
    // No JSON report file in the sandbox; Stryker collects the results itself.
    reporters: ['dot'],
  },
});
