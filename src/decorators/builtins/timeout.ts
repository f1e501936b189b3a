import { defineDecorator } from '../defineDecorator.ts';

/**
 * Limits each attempt to `seconds + minutes + hours` (summed; zero is rejected). It is the task's
 * `timeout` option in decorator form (the task gets the shorter of the two): when the time is up,
 * the attempt's `ctx().signal` is aborted with a `TaskTimeoutError` and the attempt fails with it.
 * The timeout is retryable; whatever the timed-out attempt does later is discarded.
 *
 * @example
 * ```ts
 * import { timeout } from 'taskmachine';
 * f.task('train', train, { decorators: [timeout({ minutes: 5 })] });
 * ```
 */
export const timeout = defineDecorator({
  name: 'timeout',
  defaults: {
    /** @default 0 */
    seconds: 0,
    /** @default 0 */
    minutes: 0,
    /** @default 0 */
    hours: 0,
  },
  validate(params) {
    const { seconds, minutes, hours } = params;
    if ([seconds, minutes, hours].some((n) => !Number.isFinite(n) || n < 0)) return ['seconds, minutes and hours must be numbers ≥ 0'];
    return seconds + minutes * 60 + hours * 3600 > 0 ? [] : ['the timeout is zero: give seconds, minutes or hours'];
  },
  policy: (params) => ({ timeout: (params.seconds + params.minutes * 60 + params.hours * 3600) * 1000 }),
  hooks: {},
});
