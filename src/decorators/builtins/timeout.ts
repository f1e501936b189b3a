import { TaskTimeoutError } from '../../errors.ts';
import { defineDecorator } from '../defineDecorator.ts';

/**
 * Limits each attempt to `seconds + minutes + hours` (summed; zero is rejected). The decorator is
 * an actor: it starts its timer when the instance enters `running` and, when it fires, sends the
 * runtime an `ABORT_ATTEMPT` that aborts the attempt's `ctx().signal` with a `TaskTimeoutError`.
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
  hooks: {
    onTransition(change, scope, params) {
      const key = change.taskInstance.key;
      const timers = scope.local;
      if (change.state === 'running' && change.previousState === 'queued') {
        const attempt = change.taskInstance.attempts;
        const ms = (params.seconds + params.minutes * 60 + params.hours * 3600) * 1000;
        const handle = scope.clock.setTimeout(() => {
          timers.delete(key);
          scope.send({ type: 'ABORT_ATTEMPT', taskKey: key, attempt, error: new TaskTimeoutError(key, ms) });
        }, ms);
        timers.set(key, handle);
      } else if (change.previousState === 'running' && timers.has(key)) {
        scope.clock.clearTimeout(timers.get(key));
        timers.delete(key);
      }
    },
  },
});
