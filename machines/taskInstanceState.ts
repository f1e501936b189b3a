/**
 * The states a task instance can be in: Airflow's task-instance states plus `checkpointed`.
 *
 * Use the const object for values and the type of the same name for annotations.
 *
 * @example
 * ```ts
 * import { TaskInstanceState, finishedStates } from 'taskmachine/machines';
 * const state: TaskInstanceState = TaskInstanceState.running;
 * finishedStates.has(state); // false
 * ```
 */
export const TaskInstanceState = {
  none: 'none',
  scheduled: 'scheduled',
  queued: 'queued',
  running: 'running',
  success: 'success',
  failed: 'failed',
  up_for_retry: 'up_for_retry',
  up_for_reschedule: 'up_for_reschedule',
  upstream_failed: 'upstream_failed',
  skipped: 'skipped',
  deferred: 'deferred',
  removed: 'removed',
  restarting: 'restarting',
  checkpointed: 'checkpointed',
} as const;

/** One of the fourteen task-instance states (see {@link TaskInstanceState} for the values). */
export type TaskInstanceState = (typeof TaskInstanceState)[keyof typeof TaskInstanceState];

/**
 * Every task-instance state, in lifecycle order (the order diagrams and tables use).
 *
 * @example
 * ```ts
 * import { allTaskInstanceStates } from 'taskmachine/machines';
 * allTaskInstanceStates.length; // 14
 * ```
 */
export const allTaskInstanceStates: readonly TaskInstanceState[] = Object.freeze(
  Object.values(TaskInstanceState),
);

/**
 * States that need no further action: the task instance is done unless someone clears it or sets
 * its state by hand.
 *
 * @example
 * ```ts
 * import { finishedStates } from 'taskmachine/machines';
 * finishedStates.has('upstream_failed'); // true
 * ```
 */
export const finishedStates: ReadonlySet<TaskInstanceState> = new Set<TaskInstanceState>([
  'success',
  'failed',
  'skipped',
  'upstream_failed',
  'removed',
]);

/**
 * Every state that is not finished, `checkpointed` included: downstream tasks wait for these.
 *
 * @example
 * ```ts
 * import { unfinishedStates } from 'taskmachine/machines';
 * unfinishedStates.has('checkpointed'); // true
 * ```
 */
export const unfinishedStates: ReadonlySet<TaskInstanceState> = new Set<TaskInstanceState>(
  allTaskInstanceStates.filter((state) => !finishedStates.has(state)),
);

/**
 * Finished states that count as a failure for trigger rules and run outcome.
 *
 * @example
 * ```ts
 * import { failedStates } from 'taskmachine/machines';
 * failedStates.has('upstream_failed'); // true
 * ```
 */
export const failedStates: ReadonlySet<TaskInstanceState> = new Set<TaskInstanceState>([
  'failed',
  'upstream_failed',
]);

/**
 * Finished states that count as a success for the run outcome.
 *
 * @example
 * ```ts
 * import { successStates } from 'taskmachine/machines';
 * successStates.has('skipped'); // true
 * ```
 */
export const successStates: ReadonlySet<TaskInstanceState> = new Set<TaskInstanceState>([
  'success',
  'skipped',
]);

/**
 * Airflow's colour for each state (CSS colour names), used by diagrams and the live views.
 * `checkpointed` uses lightyellow, as in the AIP-96 proposal.
 *
 * @example
 * ```ts
 * import { stateColors } from 'taskmachine/machines';
 * stateColors.running; // 'lime'
 * ```
 */
export const stateColors: Readonly<Record<TaskInstanceState, string>> = Object.freeze({
  none: 'lightblue',
  scheduled: 'tan',
  queued: 'gray',
  running: 'lime',
  success: 'green',
  failed: 'red',
  up_for_retry: 'gold',
  up_for_reschedule: 'turquoise',
  upstream_failed: 'orange',
  skipped: 'hotpink',
  deferred: 'mediumpurple',
  removed: 'lightgrey',
  restarting: 'violet',
  checkpointed: 'lightyellow',
});

/**
 * The text colour that reads well on a state's background colour (white on green and red, as in
 * Airflow; black elsewhere).
 *
 * @example
 * ```ts
 * import { stateTextColor } from 'taskmachine/machines';
 * stateTextColor('failed'); // 'white'
 * ```
 */
export function stateTextColor(state: TaskInstanceState): 'white' | 'black' {
  const color = stateColors[state];
  return color === 'green' || color === 'red' ? 'white' : 'black';
}

/**
 * Whether a value is one of the fourteen task-instance states.
 *
 * @example
 * ```ts
 * import { isTaskInstanceState } from 'taskmachine/machines';
 * isTaskInstanceState('running'); // true
 * isTaskInstanceState('done'); // false
 * ```
 */
export function isTaskInstanceState(value: unknown): value is TaskInstanceState {
  return typeof value === 'string' && Object.hasOwn(TaskInstanceState, value);
}
