import type { FlowRunFailureReason, FlowRunState, TaskInstanceEventType, TaskInstanceState } from '../machines/index.ts';
import type { Frozen } from './flow/frozen.ts';
import type { TaskKind, TaskRef } from './flow/types.ts';
import type { ElementOf, RunResultOf } from './flow/upstream.ts';

/**
 * What kind of failure ended an attempt:
 * `application` (task code threw), `timeout` (the task's `timeout` elapsed), `gate` (a readiness
 * gate failed), `infrastructure` (the run was cancelled or the process running it died),
 * `manual` (a person set the state).
 */
export type FailureKind = 'application' | 'timeout' | 'gate' | 'infrastructure' | 'interrupted' | 'manual';

/**
 * The `msg` of a task-instance change, as listener hooks receive it: why the instance got where it
 * is. `undefined` for scheduler-side changes (scheduled, queued, upstream_failed, …).
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
 * The keys a task's instances have in `run.tasks`: its id; `id[n]` for a mapped task's instances;
 * `caller/id#n` for a subtask's (one per call).
 *
 * @example
 * ```ts
 * type K = TaskKeyOf<TaskRef<number[], 'score', 'map'>>; // `score[${number}]`
 * ```
 */
export type TaskKeyOf<TRef> = TRef extends TaskRef<any, infer TId, infer TKind, any>
  ? TKind extends 'map'
    ? `${TId}[${number}]`
    : TKind extends 'subtask'
      ? `${string}/${TId}#${number}`
      : TId
  : never;

/** The result type of one instance of a task (for a mapped task: one element of its list). */
export type InstanceResultOf<TRef> = TRef extends TaskRef<infer TResult, string, infer TKind, any>
  ? Frozen<TKind extends 'map' ? ElementOf<TResult> : TResult>
  : unknown;

/**
 * `run.tasks` of a flow whose `build` returned its task references: every key of those tasks has a
 * record typed by the task's result (`run.tasks['score[3]']?.result` is one score); other keys are
 * plain {@link TaskInstanceRecord}s, as in a flow without typed tasks.
 *
 * @example
 * ```ts
 * const run = await runFlow(etl); // etl's build returned { extract, score }
 * run.tasks.extract.result;       // readonly Row[] | undefined
 * run.tasks['score[3]']?.result;  // Score | undefined
 * ```
 */
export type TaskRecords<TTasks = unknown> = Readonly<Record<string, TaskInstanceRecord>> &
  ([TTasks] extends [TaskRef<any, string, TaskKind, any>]
    ? { readonly [TRef in TTasks as TaskKeyOf<TRef>]: TaskInstanceRecord<InstanceResultOf<TRef>> }
    : {});

/**
 * A key of `run.tasks` for the handle's methods: one of the typed flow's task keys (offered by the
 * editor), or any string.
 */
export type TaskKeyFor<TTasks = unknown> = ([TTasks] extends [TaskRef<any, string, TaskKind, any>] ? TaskKeyOf<TTasks> : never) | (string & {});

/**
 * A flow run as `runFlow` resolves it, or `handle.snapshot()` shows it. `TTasks` are the task
 * references the flow's `build` returned, if any: they type `tasks`.
 *
 * @example
 * ```ts
 * const run = await runFlow(etl, { input: { day: '2026-11-22' } });
 * if (run.state === 'failed') console.error(run.reason);
 * run.result(extract); // readonly Row[] | undefined
 * ```
 */
export interface FlowRunRecord<TTasks = unknown> {
  readonly flowId: string;
  readonly runId: string;
  /** `success` or `failed` once finished; `running` when it returned parked (see `waitingOn`). */
  readonly state: FlowRunState;
  /** Why it failed; `null` otherwise. */
  readonly reason: FlowRunFailureReason | null;
  /** Task instances by key. */
  readonly tasks: TaskRecords<TTasks>;
  /** Keys of instances that wait for `resumeTask` or `sendEvent` (nothing else can progress). */
  readonly waitingOn: readonly string[];
  readonly startedAt: number | undefined;
  readonly endedAt: number | undefined;
  /**
   * The value a downstream task would receive for `task` (typed from the reference): its result
   * when it succeeded, otherwise `undefined`; for a mapped task, the list of its instances'
   * results in `mapIndex` order, `undefined` where an instance did not succeed. Throws a
   * `TypeError` for a task of another flow or a subtask (which has one instance per call).
   *
   * @example
   * ```ts
   * const run = await runFlow(etl, { input });
   * run.result(extract); // readonly Row[] | undefined
   * run.result(score);   // readonly (Score | undefined)[]
   * ```
   */
  result<TResult, TKind extends 'task' | 'map'>(task: TaskRef<TResult, string, TKind, any>): RunResultOf<TaskRef<TResult, string, TKind>>;
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
