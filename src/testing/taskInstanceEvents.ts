import type { TaskInstanceEvent } from '../../machines/index.ts';

/**
 * One event of every kind the task-instance machine knows, with payloads that exercise each guard
 * branch (`START` for the current attempt, `FAIL` with and without `failFast`, `INTERRUPT`, `GATE_FAIL`
 * retryable or not, `DEFER` with or without `awaitEvent`, `TRIGGER` by a deadline, a timeout or an
 * event, the three manual targets). Feed it to
 * {@link pathTests} as `events` to explore the whole lifecycle.
 *
 * @param options.wrongAttempts also `START` for the attempts before and after the current one
 *   (the machine must refuse them).
 * @example
 * ```ts
 * import { pathTests, taskInstanceEvents } from 'taskmachine/testing';
 * import { taskInstanceMachine } from 'taskmachine/machines';
 * const suite = pathTests(taskInstanceMachine, { input: { retries: 1 }, events: (s) => taskInstanceEvents(s) });
 * ```
 */
export function taskInstanceEvents(
  snapshot: { context: { attempt: number } },
  options: { readonly wrongAttempts?: boolean } = {},
): TaskInstanceEvent[] {
  const { attempt } = snapshot.context;
  return [
    { type: 'SCHEDULE' },
    { type: 'UPSTREAM_FAILED' },
    { type: 'SKIP' },
    { type: 'REMOVE' },
    { type: 'QUEUE' },
    { type: 'START', attempt },
    ...(options.wrongAttempts
      ? ([
          { type: 'START', attempt: attempt + 1 },
          { type: 'START', attempt: attempt - 1 },
        ] as const)
      : []),
    { type: 'GATE_FAIL', retryable: true },
    { type: 'GATE_FAIL', retryable: false },
    { type: 'SUCCEED' },
    { type: 'FAIL' },
    { type: 'FAIL', failFast: true },
    { type: 'INTERRUPT' },
    { type: 'DEFER' },
    { type: 'DEFER', awaitEvent: true },
    { type: 'RESCHEDULE' },
    { type: 'CHECKPOINT' },
    { type: 'RETRY' },
    { type: 'POKE' },
    { type: 'TRIGGER' },
    { type: 'TRIGGER', timedOut: true },
    { type: 'TRIGGER', byEvent: true },
    { type: 'RESUME' },
    { type: 'CLEAR' },
    { type: 'STOPPED' },
    { type: 'SET_STATE', state: 'success' },
    { type: 'SET_STATE', state: 'failed' },
    { type: 'SET_STATE', state: 'skipped' },
  ];
}
