import type { TaskInstanceState } from '../../machines/index.ts';
import type { FailureKind, FlowRunRecord, TaskInstanceMsg, TaskInstanceRecord } from '../records.ts';

/** Why a task instance failed, with what the listener needs to tell a retry from the end. */
export interface FailureDetails {
  readonly kind: FailureKind;
  /** The attempt that failed. */
  readonly attempt: number;
  /** Whether another attempt follows (the instance is `up_for_retry`). */
  readonly willRetry: boolean;
}

/** Argument of the task-instance hooks (`onTaskInstanceRunning`, `…Success`, `…Failed`, `…Skipped`, `…Checkpointed`). */
export interface TaskInstanceHookArgs {
  /** The state before the change (the real one, also for manual changes). */
  readonly previousState: TaskInstanceState;
  /** A frozen snapshot of the instance at the time of the change. */
  readonly taskInstance: TaskInstanceRecord;
  readonly msg: TaskInstanceMsg;
  /** For failures: always an `Error` (a manual set-state gets one whose message says so). */
  readonly error?: Error;
  readonly failureDetails?: FailureDetails;
  /** For checkpoints: the data given to `TaskCheckpointed`, `null` when none was given. */
  readonly checkpointData?: unknown;
}

/** Argument of `onTaskInstanceStateChange`: every transition, scheduler-side ones included. */
export interface TaskInstanceStateChangeArgs {
  readonly previousState: TaskInstanceState;
  readonly state: TaskInstanceState;
  readonly taskInstance: TaskInstanceRecord;
  /** Set for the changes the other hooks report; `undefined` for scheduler-side ones. */
  readonly msg: TaskInstanceMsg | undefined;
}

/** Argument of the flow-run hooks. */
export interface FlowRunHookArgs {
  readonly flowRun: FlowRunRecord;
  /** `started` (running), `success`, or the failure reason (`task_failure`, `all_tasks_deadlocked`, `cancelled`). */
  readonly msg: string;
}

/** Argument of `onStarting` / `beforeStopping`. */
export interface LifecycleHookArgs {
  /** What is starting or stopping: the flow run. */
  readonly flowRun: FlowRunRecord;
}

/**
 * A listener: an object with any of these hooks. Each hook gets one object argument (so adding a
 * field later never breaks a listener, and there is no default-argument trap). Hooks may be async.
 * Every listener runs even when another throws; a throw is logged as
 * `error calling listener for hook '<name>'` with its stack and never changes an outcome.
 *
 * @example
 * ```ts
 * const lineage: Listener = {
 *   onTaskInstanceFailed: ({ taskInstance, error, failureDetails }) =>
 *     emit({ task: taskInstance.key, error: error!.message, retry: failureDetails!.willRetry }),
 * };
 * await runFlow(etl, { listeners: [lineage] });
 * ```
 */
export interface Listener {
  onStarting?(args: LifecycleHookArgs): void | Promise<void>;
  beforeStopping?(args: LifecycleHookArgs): void | Promise<void>;
  onFlowRunRunning?(args: FlowRunHookArgs): void | Promise<void>;
  onFlowRunSuccess?(args: FlowRunHookArgs): void | Promise<void>;
  onFlowRunFailed?(args: FlowRunHookArgs): void | Promise<void>;
  onTaskInstanceRunning?(args: TaskInstanceHookArgs): void | Promise<void>;
  onTaskInstanceSuccess?(args: TaskInstanceHookArgs): void | Promise<void>;
  onTaskInstanceFailed?(args: TaskInstanceHookArgs): void | Promise<void>;
  onTaskInstanceSkipped?(args: TaskInstanceHookArgs): void | Promise<void>;
  onTaskInstanceCheckpointed?(args: TaskInstanceHookArgs): void | Promise<void>;
  onTaskInstanceStateChange?(args: TaskInstanceStateChangeArgs): void | Promise<void>;
}

/** The names of the listener hooks. */
export type ListenerHookName = keyof Listener;

/** Every hook name, for validation. */
export const listenerHookNames: readonly ListenerHookName[] = Object.freeze([
  'onStarting',
  'beforeStopping',
  'onFlowRunRunning',
  'onFlowRunSuccess',
  'onFlowRunFailed',
  'onTaskInstanceRunning',
  'onTaskInstanceSuccess',
  'onTaskInstanceFailed',
  'onTaskInstanceSkipped',
  'onTaskInstanceCheckpointed',
  'onTaskInstanceStateChange',
]);
