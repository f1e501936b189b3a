import type { TaskDefinition } from '../../flow/types.ts';

/**
 * Delay before the retry that follows failed attempt number `failedAttempt` (1-based):
 * `retryDelay × retryBackoff^(failedAttempt − 1)`, capped by `maxRetryDelay`.
 *
 * @example
 * ```ts
 * // retryDelay 100, retryBackoff 2, maxRetryDelay 150 → 100, 150, 150, …
 * ```
 */
export function retryDelayFor(
  task: Pick<TaskDefinition, 'retryDelay' | 'retryBackoff' | 'maxRetryDelay'>,
  failedAttempt: number,
): number {
  const delay = task.retryDelay * task.retryBackoff ** Math.max(0, failedAttempt - 1);
  return Math.min(delay, task.maxRetryDelay);
}
