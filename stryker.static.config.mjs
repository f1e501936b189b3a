// The purely static mutants of machines/ that `npm run mutate` ignores (ignoreStatic): the machine
// definitions themselves (targets, guards and actions named in the config, tags, initial states).
// Each one reloads the modules and runs the whole selected suite, so this pass is slow (~45 s a
// mutant on the shared 2-core machine, ~4 h for the 332): `npm run mutate:static`. Its results
// are not incremental and not tracked.
import base from './stryker.config.mjs';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...base,
  mutate: ['machines/**/*.ts', '!machines/index.ts'],
  ignoreStatic: false,
  incremental: false,
  htmlReporter: { fileName: 'reports/mutation-static/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation-static/mutation.json' },
  eventReporter: { baseDir: 'reports/mutation-static/events' },
};
