// Mutation testing of the runtime core: `npm run mutate` (see docs/mutation-baseline.md).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: {
    configFile: 'vitest.stryker.config.ts',
    // Tests import through src/index.ts and machines/index.ts; "related" would still find them,
    // but perTest coverage already narrows each mutant to the tests that reach it.
    related: false,
  },
  mutate: [
    'machines/**/*.ts',
    'src/runtime/**/*.ts',
    // Type-only / re-export-only modules: nothing to mutate.
    '!machines/index.ts',
    '!src/runtime/records.ts',
  ],
  coverageAnalysis: 'perTest',
  // Half the mutants are "static": hit while modules load or tests are collected (machine configs,
  // module constants, model suites that walk the machines at collection time). A static mutant
  // needs a module reload and the WHOLE suite (~25 s each here: ~10 h for the lot on one runner).
  // With ignoreStatic, the "hybrid" ones (also reached inside tests) still run against the tests
  // that reach them; only the purely static ones are reported as Ignored.
  // For everything: npm run mutate -- --ignoreStatic false
  ignoreStatic: true,
  // No TypeScript checker: the project type-checks in ~15 s, far too slow per mutant. Mutants that
  // would not compile run anyway (vitest strips types) and are mostly killed by the tests.
  checkers: [],
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  // Shared 2-core machine: one test runner process.
  concurrency: 1,
  // A busy machine makes test times noisy; give a mutant more slack before calling it a timeout.
  timeoutMS: 10000,
  dryRunTimeoutMinutes: 15,
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0 },
  // Not copied into the sandboxes: reports (e.g. an event-recorder's thousands of files) and vitest's output.
  ignorePatterns: ['/reports', '/.vitest'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
