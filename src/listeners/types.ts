import type { TaskInstanceState } from '../../machines/index.ts';
import type { Flow } from '../flow/types.ts';
import type { FailureKind, FlowRunRecord, TaskInstanceMsg, TaskInstanceRecord } from '../records.ts';
import type { Clock } from '../clock.ts';

/**
 * Why a task instance failed, with what the listener needs to tell a retry from the end.
 *
 * @example
 * ```ts
 * const alerts: Listener = {
 *   onTaskInstanceFailed: ({ taskInstance, failureDetails: { kind, attempt, willRetry } }) => {
 *     if (!willRetry && kind !== 'manual') page(`${taskInstance.key} failed (${kind}) on attempt ${attempt}`);
 *   },
 * };
 * ```
 */
export interface FailureDetails {
  readonly kind: FailureKind;
  /** The attempt that failed. */
  readonly attempt: number;
  /** Whether another attempt follows (the instance is `up_for_retry`). */
  readonly willRetry: boolean;
}

/**
 * Argument of the task-instance hooks (`onTaskInstanceRunning`, `…Success`, `…Failed`, `…Skipped`, `…Checkpointed`).
 *
 * @example
 * ```ts
 * import type { TaskInstanceHookArgs } from 'taskmachine';
 * const done = ({ taskInstance, msg }: TaskInstanceHookArgs) => console.log(`${taskInstance.key}: ${msg}`);
 * await runFlow(etl, { input, listeners: [{ onTaskInstanceSuccess: done, onTaskInstanceSkipped: done }] });
 * ```
 */
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

/**
 * Argument of `onTaskInstanceFailed`: a {@link TaskInstanceHookArgs} whose `error` and
 * `failureDetails` are always there.
 *
 * @example
 * ```ts
 * const alerts: Listener = {
 *   onTaskInstanceFailed: ({ taskInstance, error, failureDetails }) =>
 *     failureDetails.willRetry || page(`${taskInstance.key}: ${error.message}`),
 * };
 * ```
 */
export interface TaskInstanceFailedArgs extends TaskInstanceHookArgs {
  /** Always an `Error` (a manual set-state gets one whose message says so). */
  readonly error: Error;
  readonly failureDetails: FailureDetails;
}

/**
 * Argument of `onTaskInstanceStateChange`: every transition, scheduler-side ones included.
 *
 * @example
 * ```ts
 * import type { Listener, TaskInstanceStateChangeArgs } from 'taskmachine';
 * const timeline: TaskInstanceStateChangeArgs[] = [];
 * const recorder: Listener = { onTaskInstanceStateChange: (change) => void timeline.push(change) };
 * ```
 */
export interface TaskInstanceStateChangeArgs {
  readonly previousState: TaskInstanceState;
  readonly state: TaskInstanceState;
  readonly taskInstance: TaskInstanceRecord;
  /** Set for the changes the other hooks report; `undefined` for scheduler-side ones. */
  readonly msg: TaskInstanceMsg | undefined;
  /** When the change happened (epoch ms, on the run's clock): hooks are delivered after it. */
  readonly at: number;
}

/**
 * Argument of the flow-run hooks (`TTasks`: the task references the flow's `build` returned).
 *
 * @example
 * ```ts
 * import type { FlowRunHookArgs } from 'taskmachine';
 * const report = ({ flowRun, msg }: FlowRunHookArgs) => console.log(`${flowRun.flowId} ${flowRun.runId}: ${msg}`);
 * await runFlow(etl, { input, listeners: [{ onFlowRunSuccess: report, onFlowRunFailed: report }] });
 * ```
 */
export interface FlowRunHookArgs<TTasks = unknown> {
  readonly flowRun: FlowRunRecord<TTasks>;
  /** `started` (running), `success`, or the failure reason (`task_failure`, `all_tasks_deadlocked`, `cancelled`). */
  readonly msg: string;
}

/**
 * Argument of `onStarting` / `beforeStopping`.
 *
 * @example
 * ```ts
 * import type { LifecycleHookArgs, Listener } from 'taskmachine';
 * const active = new Set<string>();
 * const tracker: Listener = {
 *   onStarting: ({ flowRun }: LifecycleHookArgs) => void active.add(flowRun.runId),
 *   beforeStopping: ({ flowRun }) => void active.delete(flowRun.runId),
 * };
 * ```
 */
export interface LifecycleHookArgs<TTasks = unknown> {
  /** What is starting or stopping: the flow run. */
  readonly flowRun: FlowRunRecord<TTasks>;
}

/**
 * Argument of `onTaskInstanceLog`: one line an attempt logged with `ctx().log`.
 *
 * @example
 * ```ts
 * const shipLogs: Listener = {
 *   onTaskInstanceLog: ({ taskKey, attempt, message, at }) => loki.push({ at, labels: { taskKey, attempt }, message }),
 * };
 * ```
 */
export interface TaskInstanceLogArgs {
  /** The key of the task instance that logged it. */
  readonly taskKey: string;
  readonly taskId: string;
  /** The attempt that logged it. */
  readonly attempt: number;
  /** The line, formatted as `util.format` does (without the `[key#attempt]` prefix the run's log adds). */
  readonly message: string;
  /** When it was logged (epoch ms, on the run's clock). */
  readonly at: number;
}

/**
 * Argument of `Listener.forRun`: the run that begins, as its per-run listener needs it.
 *
 * @example
 * ```ts
 * const audit: Listener = {
 *   forRun: ({ flow, flowRun, resumed, clock }) => {
 *     console.log(`${flow.id} ${flowRun.runId} ${resumed ? 'resumed' : 'started'} at ${clock.now()}`);
 *     return undefined;
 *   },
 * };
 * ```
 */
export interface ForRunArgs<TTasks = unknown> {
  /** The flow being run (task ids, trigger rules, options). */
  readonly flow: Flow;
  /** The run as it begins (state `running`; a resumed run's instances as they were stored). */
  readonly flowRun: FlowRunRecord<TTasks>;
  /**
   * The labels stored with the run: those given to `runFlow` and those earlier per-run listeners
   * added ({@link RunListener.labels}); `undefined` when there are none.
   */
  readonly labels: Readonly<Record<string, string>> | undefined;
  /** The run was opened from its store with records an earlier start left (a resume or a takeover). */
  readonly resumed: boolean;
  /** The run's clock (the `clock` option of `runFlow`): read time from it, so tests control it. */
  readonly clock: Clock;
}

/**
 * Argument of `RunListener.aroundAttempt`.
 *
 * @example
 * ```ts
 * const tagged: RunListener = {
 *   aroundAttempt: ({ taskInstance, attempt }, run) => tagScope.run(`${taskInstance.key}#${attempt}`, run),
 * };
 * ```
 */
export interface AttemptScopeArgs {
  /** A frozen snapshot of the instance as the attempt starts (state `running`). */
  readonly taskInstance: TaskInstanceRecord;
  /** The attempt about to run. */
  readonly attempt: number;
}

/**
 * What `Listener.forRun` returns: a listener of one run only (its hooks fire for that run), with
 * two members no shared listener has, because they only make sense per run:
 * `labels` to store with the run and `aroundAttempt` to choose the async context each attempt
 * runs in (a tracing span, for example).
 *
 * @example
 * ```ts
 * const perRun: Listener = {
 *   forRun: ({ flowRun }) => ({
 *     labels: { startedBy: 'api' },
 *     aroundAttempt: ({ taskInstance }, run) => requestScope.run(`${flowRun.runId}/${taskInstance.key}`, run),
 *     onFlowRunSuccess: () => console.log(`${flowRun.runId} done`),
 *   }),
 * };
 * ```
 */
export interface RunListener extends Omit<Listener, 'forRun'> {
  /**
   * Labels to store with the run, merged over the ones it has (with a store; ignored without one).
   * A later resume receives them in {@link ForRunArgs.labels}: how a resumed run finds what an
   * earlier process recorded (e.g. the span context of its trace).
   * @default undefined
   */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Runs every attempt of the run inside a scope this listener chooses: called synchronously
   * where the attempt's task function (with its decorators' `wrap`s) is called, it must call
   * `run()` once and return what it returns — e.g. `context.with(ctx, run)` to make a span the
   * active one while task code runs. It cannot change the attempt: the runtime uses the result of
   * `run()` whatever this returns; a throw of its own is logged as
   * `error calling listener for hook 'aroundAttempt'`; and if it never calls `run()`, the runtime
   * calls it (and logs that). `ctx()` is not set yet inside it (it is inside `run()`). Keep it
   * cheap: it runs on every attempt's path.
   * @default undefined (attempts run in the runtime's own context)
   */
  aroundAttempt?<T>(args: AttemptScopeArgs, run: () => T): T;
  /**
   * For attempts that run in another process (`executor: 'workers'`), where `aroundAttempt`
   * cannot reach: text values the attempt's job carries to its worker. Called synchronously when
   * the driver hands the attempt out. A worker knows one: `traceparent` (W3C trace context) — task
   * code on the worker runs with that span as its parent, so the spans it makes join the run's
   * trace (when `@opentelemetry/api` is installed there); `taskmachine/otel` returns it. A throw is
   * logged as `error calling listener for hook 'attemptCarrier'`; the attempt goes without.
   * @default undefined (attempts on workers carry nothing)
   */
  attemptCarrier?(args: AttemptScopeArgs): Readonly<Record<string, string>> | undefined;
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
 *     emit({ task: taskInstance.key, error: error.message, retry: failureDetails.willRetry }),
 * };
 * await runFlow(etl, { listeners: [lineage] });
 *
 * // Written inline for one flow, its flow-run hooks see that flow's typed run records:
 * await runFlow(etl, { listeners: [{ onFlowRunSuccess: ({ flowRun }) => publish(flowRun.tasks.extract.result) }] });
 * ```
 */
export interface Listener<TTasks = unknown> {
  onStarting?(args: LifecycleHookArgs<TTasks>): void | Promise<void>;
  beforeStopping?(args: LifecycleHookArgs<TTasks>): void | Promise<void>;
  onFlowRunRunning?(args: FlowRunHookArgs<TTasks>): void | Promise<void>;
  onFlowRunSuccess?(args: FlowRunHookArgs<TTasks>): void | Promise<void>;
  onFlowRunFailed?(args: FlowRunHookArgs<TTasks>): void | Promise<void>;
  onTaskInstanceRunning?(args: TaskInstanceHookArgs): void | Promise<void>;
  onTaskInstanceSuccess?(args: TaskInstanceHookArgs): void | Promise<void>;
  onTaskInstanceFailed?(args: TaskInstanceFailedArgs): void | Promise<void>;
  onTaskInstanceSkipped?(args: TaskInstanceHookArgs): void | Promise<void>;
  onTaskInstanceCheckpointed?(args: TaskInstanceHookArgs): void | Promise<void>;
  onTaskInstanceStateChange?(args: TaskInstanceStateChangeArgs): void | Promise<void>;
  /** A line an attempt logged with `ctx().log` (queued like the other hooks, after the line went to the run's `log`). */
  onTaskInstanceLog?(args: TaskInstanceLogArgs): void | Promise<void>;
  /**
   * Called synchronously when a run begins (or resumes) in this process, before any other hook of
   * the run and in the async context of the code that started it (`runFlow`, `startFlow`, or the
   * `await` that opened it from its store). It may return a {@link RunListener}: a listener for
   * this run alone, which can also store `labels` with the run and wrap every attempt
   * (`aroundAttempt`). A throw is logged as `error calling listener for hook 'forRun'`; the run
   * goes on without that run listener.
   */
  forRun?(args: ForRunArgs<TTasks>): RunListener | undefined;
}

/**
 * The names of the listener hooks.
 *
 * @example
 * ```ts
 * import type { Listener, ListenerHookName } from 'taskmachine';
 * const hooksOf = (listener: Listener) =>
 *   (Object.keys(listener) as ListenerHookName[]).filter((name) => typeof listener[name] === 'function');
 * hooksOf({ onFlowRunFailed: () => {} }); // ['onFlowRunFailed']
 * ```
 */
export type ListenerHookName = keyof Listener;

/** The hooks the runtime queues for listeners (every one but `forRun`, which is called at once). */
export type DeliveredHookName = Exclude<ListenerHookName, 'forRun'>;

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
  'onTaskInstanceLog',
  'forRun',
]);
