import { defineDecorator } from '../defineDecorator.ts';

/**
 * Lets a task succeed after its last attempt failed. The task's result becomes
 * `{ value, [var]: error | null }`: `value` is what the task returned (undefined after a failure)
 * and `[var]` the error of the last attempt, `null` when it succeeded — so downstream tasks run
 * and can look. Earlier attempts still fail and retry normally. Not allowed on mapped tasks.
 *
 * @example
 * ```ts
 * import { catchErrors } from 'taskmachine';
 * const load = f.task('load', loadRows, { retries: 2, decorators: [catchErrors({ var: 'loadError' })] });
 * f.task('report', ({ upstream }) => upstream.load.loadError ? 'degraded' : 'ok', { after: [load] });
 * ```
 */
export const catchErrors = defineDecorator({
  name: 'catchErrors',
  defaults: {
    /** Name of the field that carries the error. @default 'error' */
    var: 'error',
    /** Log the caught error with its stack. @default true */
    printException: true,
  },
  validate(params, task) {
    const problems: string[] = [];
    if (task.kind === 'map') problems.push('cannot be used on a mapped task: catch errors in the task that consumes its results');
    if (params.var === '' || params.var === 'value') problems.push(`var must be a field name other than 'value', got '${params.var}'`);
    return problems;
  },
  hooks: {
    onAttemptSettled(result, sys, params) {
      if (result.ok) return { value: { value: result.value, [params.var]: null } };
      if (result.control || result.willRetry) return;
      if (params.printException) console.error(`catchErrors: ${sys.taskKey} failed, continuing:`, result.error);
      return { handled: true, value: { value: undefined, [params.var]: result.error } };
    },
  },
});
