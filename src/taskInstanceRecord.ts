// A task instance as runs, listeners and decorators see it, and one change of its state: below the
// flow types, so decorators (which the flow builder names) can observe changes without a circle.
import type { TaskInstanceEventType, TaskInstanceState } from '../machines/index.ts';

/**
 * What kind of failure ended an attempt:
 * `application` (task code threw), `timeout` (the task's `timeout` elapsed), `gate` (a readiness
 * gate failed), `infrastructure` (the run was cancelled, the process running it died, or the
 * store failed under it — a `ctx().checkpoint.save()` it refused), `interrupted` (its attempts
 * were interrupted — the process or worker running them died — more often than its
 * `maxInterruptions` allows), `manual` (a person set the state).
 *
 * @example
 * ```ts
 * import type { FailureKind } from 'taskmachine';
 * const worthPaging = (kind: FailureKind | undefined) => kind === 'application' || kind === 'gate';
 * const toPage = Object.values(run.tasks).filter((t) => t.state === 'failed' && worthPaging(t.failureKind));
 * ```
 */
export type FailureKind = 'application' | 'timeout' | 'gate' | 'infrastructure' | 'interrupted' | 'manual';

/**
 * The `msg` of a task-instance change, as listener hooks receive it: why the instance got where it
 * is. `undefined` for scheduler-side changes (scheduled, queued, upstream_failed, …).
 *
 * @example
 * ```ts
 * import type { Listener, TaskInstanceMsg } from 'taskmachine';
 * const byHand = new Set<TaskInstanceMsg | undefined>(['manually_set_to_success', 'manually_set_to_failed']);
 * const audit: Listener = {
 *   onTaskInstanceStateChange: ({ taskInstance, msg }) => {
 *     if (byHand.has(msg)) console.warn(`${taskInstance.key}: ${msg}`);
 *   },
 * };
 * ```
 */
export type TaskInstanceMsg =
  | 'started'
  | 'success'
  | 'failed'
  | 'up_for_retry'
  | 'skipped'
  | 'checkpointed'
  | 'interrupted'
  | 'manually_set_to_success'
  | 'manually_set_to_failed'
  | 'manually_set_to_skipped';

/**
 * A task instance as a run reports it: a plain frozen object (state at the time it was taken).
 *
 * @example
 * ```ts
 * const run = await runFlow(etl);
 * const { state, attempts, result, error } = run.tasks['extract']!;
 * ```
 */
export interface TaskInstanceRecord<TResult = unknown> {
  /** Unique key in the run: the task id, `id[mapIndex]` for mapped instances, `parent/id#n` for called ones. */
  readonly key: string;
  /** The task's id. */
  readonly taskId: string;
  /** Index of a mapped instance; `undefined` otherwise. */
  readonly mapIndex: number | undefined;
  /** For an instance started with `ctx().call`, the caller's key. */
  readonly parentKey: string | undefined;
  /** Its lifecycle state. */
  readonly state: TaskInstanceState;
  /** Attempts started so far (the current attempt number). */
  readonly attempts: number;
  /** Attempts allowed in all (`retries + 1`, more after a clear). */
  readonly maxAttempts: number;
  /** The result of the successful attempt (present only while the instance is `success`). */
  readonly result?: TResult;
  /** The error of the last failed attempt. */
  readonly error?: Error;
  /** What kind of failure `error` is. */
  readonly failureKind?: FailureKind;
  /** Readiness gates this instance is waiting on (queued state only). */
  readonly pendingGates?: readonly string[];
  /** When its first attempt started (epoch ms). */
  readonly startedAt?: number;
  /** When it last reached a finished state (epoch ms). */
  readonly endedAt?: number;
}

/**
 * One state change of a task instance, as `handle.subscribe` observers receive it.
 *
 * @example
 * ```ts
 * handle.subscribe(({ taskInstance, previousState, state }) => {
 *   console.log(`${taskInstance.key}: ${previousState} → ${state}`);
 * });
 * ```
 */
export interface TaskInstanceChange {
  readonly previousState: TaskInstanceState;
  readonly state: TaskInstanceState;
  /** The lifecycle event that caused it. */
  readonly event: TaskInstanceEventType;
  readonly msg: TaskInstanceMsg | undefined;
  /** When it happened (epoch ms, on the run's clock). */
  readonly at: number;
  /** The instance after the change. */
  readonly taskInstance: TaskInstanceRecord;
  /** For failures: the error. */
  readonly error?: Error;
  /** For checkpoints: the data given to `TaskCheckpointed` (`null` when none). */
  readonly checkpointData?: unknown;
}
