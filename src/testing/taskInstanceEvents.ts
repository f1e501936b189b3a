import type { TaskInstanceEvent } from '../../machines/index.ts';

/**
 * One event of every kind the task-instance machine knows, with payloads that exercise each guard
 * branch (`START` for the current attempt, `FAIL` with and without `failFast`, `INTERRUPT` counted or
 * `graceful`, `GATE_FAIL`
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
    { type: 'INTERRUPT', graceful: true },
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

/**
 * `serializeState` for {@link pathTests} on `taskInstanceMachine`: the state value, the attempts
 * left, whether a deferral awaits an event and the interruptions left. Every guard of the machine
 * reads only those (`START`'s payload is made from the current attempt by
 * {@link taskInstanceEvents}), so two snapshots with the same key accept the same events with the
 * same results; and since clearing resets both budgets, the graph is finite although the counters
 * grow without bound. Keeping less (e.g. dropping the interruptions) merges snapshots that behave
 * differently and leaves edges such as `running →INTERRUPT[else]→ failed` unreachable.
 *
 * @example
 * ```ts
 * import { assertFullCoverage, formatCoverage, pathTests, taskInstanceEvents, taskInstanceStateKey } from 'taskmachine/testing';
 * import { taskInstanceMachine } from 'taskmachine/machines';
 * const suite = pathTests(taskInstanceMachine, {
 *   input: { retries: 1, maxInterruptions: 1 },
 *   events: (snapshot) => taskInstanceEvents(snapshot),
 *   serializeState: taskInstanceStateKey,
 * });
 * formatCoverage(suite); // 'taskInstance: 14/14 states, 76/76 edges'
 * assertFullCoverage(suite); // passes
 * ```
 */
export function taskInstanceStateKey(snapshot: {
  readonly value: unknown;
  readonly context: {
    readonly attempt: number;
    readonly maxAttempts: number;
    readonly awaitsEvent: boolean;
    readonly interruptions: number;
    readonly maxInterruptions: number;
  };
}): string {
  const { attempt, maxAttempts, awaitsEvent, interruptions, maxInterruptions } = snapshot.context;
  return JSON.stringify([snapshot.value, maxAttempts - attempt, awaitsEvent, maxInterruptions - interruptions]);
}
