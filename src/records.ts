// A run as `runFlow` returns it, its task records typed by the flow's task references (so this
// file sits above the flow types; a single task instance's record is in taskInstanceRecord.ts).
import type { FlowRunFailureReason, FlowRunState } from '../machines/index.ts';
import type { Frozen } from './frozen.ts';
import type { TaskKind, TaskRef } from './taskRef.ts';
import type { ElementOf, RunResultOf } from './flow/upstream.ts';
import type { TaskInstanceRecord } from './taskInstanceRecord.ts';

export type { FailureKind, TaskInstanceChange, TaskInstanceMsg, TaskInstanceRecord } from './taskInstanceRecord.ts';

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

/**
 * The result type of one instance of a task (for a mapped task: one element of its list).
 *
 * @example
 * ```ts
 * import type { InstanceResultOf, ResultOf } from 'taskmachine';
 * type OneScore = InstanceResultOf<typeof score>; // number: what run.tasks['score[3]']?.result holds
 * type AllScores = ResultOf<typeof score>;        // number[]
 * ```
 */
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
 *
 * @example
 * ```ts
 * import type { FlowRunHandle, RefsOf, TaskKeyFor } from 'taskmachine';
 * type Refs = RefsOf<typeof etl.refs>;
 * const approve = (handle: FlowRunHandle<Refs>, key: TaskKeyFor<Refs>) => handle.sendEvent(key, { approved: true });
 * ```
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
