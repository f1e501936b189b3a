import { defineDecorator } from '../defineDecorator.ts';
import type { Decorator, ResultTransform } from '../types.ts';

/**
 * What `catchErrors({ var })` makes of a task's result type `R`:
 * `{ value: R | undefined, [var]: Error | null }`.
 *
 * @example
 * ```ts
 * const load = f.task('load', () => 42, { decorators: [catchErrors({ var: 'loadError' })] });
 * // TaskRef<{ readonly value: number | undefined; readonly loadError: Error | null }, 'load', 'task'>
 * ```
 */
export interface CaughtErrors<TVar extends string> extends ResultTransform {
  readonly out: CaughtResult<this['result'], TVar>;
}

/**
 * The result of a task decorated with `catchErrors({ var: TVar })` whose own result is `TResult`.
 *
 * @example
 * ```ts
 * type R = CaughtResult<number, 'loadError'>; // { readonly value: number | undefined; readonly loadError: Error | null }
 * ```
 */
export type CaughtResult<TResult, TVar extends string> = { readonly value: TResult | undefined } & { readonly [K in TVar]: Error | null };

/**
 * The parameters of {@link catchErrors} (a type alias, not an interface, so it stays assignable to
 * `Record<string, unknown>` like every decorator's parameters).
 *
 * @example
 * ```ts
 * const params: Partial<CatchErrorsParams<'loadError'>> = { var: 'loadError', printException: false };
 * ```
 */
export type CatchErrorsParams<TVar extends string = string> = {
  /** Name of the field that carries the error. @default 'error' */
  var: TVar;
  /** Log the caught error with its stack. @default true */
  printException: boolean;
};

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
const catchErrorsDecorator = defineDecorator({
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
      if (params.printException) sys.log(`catchErrors: ${sys.taskKey} failed, continuing:`, result.error);
      return { handled: true, value: { value: undefined, [params.var]: result.error } };
    },
  },
});

/**
 * Lets a task succeed after its last attempt failed; see {@link CaughtErrors} for the result type
 * its reference then carries.
 *
 * @example
 * ```ts
 * import { catchErrors } from 'taskmachine';
 * const load = f.task('load', loadRows, { retries: 2, decorators: [catchErrors({ var: 'loadError' })] });
 * f.task('report', ({ upstream }) => (upstream.load.loadError ? 'degraded' : 'ok'), { after: [load] });
 * ```
 */
export const catchErrors = catchErrorsDecorator as unknown as <const TVar extends string = 'error'>(
  params?: Partial<CatchErrorsParams<TVar>>,
) => Decorator<CatchErrorsParams, CaughtErrors<TVar>>;
