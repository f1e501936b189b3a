import { defineDecorator } from '../defineDecorator.ts';

/**
 * Retries failed attempts. The task's retry budget is the largest of its own `retries` option and
 * every decorator's; `retry({ times: 0, forbid: true })` forbids retries whatever else is set.
 * Durations in ms.
 *
 * @example
 * ```ts
 * import { retry } from 'taskmachine';
 * f.task('fetch', fetchPage, { decorators: [retry({ times: 3, delay: 500, backoff: 2, maxDelay: 5_000 })] });
 * ```
 */
export const retry = defineDecorator({
  name: 'retry',
  defaults: {
    /** Retries after the first attempt. @default 3 */
    times: 3,
    /** Delay before the first retry, ms. @default 0 */
    delay: 0,
    /** Factor applied per further retry. @default 1 */
    backoff: 1,
    /** Upper bound of the delay, ms. @default Infinity */
    maxDelay: Number.POSITIVE_INFINITY,
    /** Forbid retries for this task, overriding every other retry setting. @default false */
    forbid: false,
  },
  validate(params) {
    const problems: string[] = [];
    if (!(Number.isInteger(params.times) && params.times >= 0)) problems.push(`times must be a whole number ≥ 0, got ${params.times}`);
    if (!(params.delay >= 0)) problems.push(`delay must be ≥ 0 ms, got ${params.delay}`);
    if (!(params.backoff >= 1)) problems.push(`backoff must be a factor ≥ 1, got ${params.backoff}`);
    if (!(params.maxDelay >= 0)) problems.push(`maxDelay must be ≥ 0 ms, got ${params.maxDelay}`);
    return problems;
  },
  policy: (params) =>
    params.forbid
      ? { forbidRetries: true }
      : { retries: params.times, retryDelay: params.delay, retryBackoff: params.backoff, maxRetryDelay: params.maxDelay },
  hooks: {},
});
