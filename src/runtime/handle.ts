import type { ManualTaskInstanceState, TaskInstanceState } from '../../machines/index.ts';
import type { FlowRunRecord, TaskInstanceChange, TaskKeyFor, TaskRecords } from '../records.ts';

/**
 * What `clear` clears besides the named task instance.
 *
 * @example
 * ```ts
 * handle.clear('load', { downstream: true }); // load and everything after it runs again
 * ```
 */
export interface ClearOptions {
  /**
   * Also clear the instances of every task downstream of its task.
   * @default false
   */
  readonly downstream?: boolean;
  /**
   * Also clear the instances of every task upstream of its task.
   * @default false
   */
  readonly upstream?: boolean;
}

/**
 * A live flow run: observe it, change task instances by hand, cancel it. `TTasks` are the task
 * references the flow's `build` returned, if any: they type the run records and offer the flow's
 * task keys to the methods that take one.
 *
 * @example
 * ```ts
 * const handle = startFlow(etl, { input });
 * handle.subscribe((change) => console.log(change.taskInstance.key, change.state));
 * const run = await handle.done;
 * ```
 */
export interface FlowRunHandle<TTasks = unknown> {
  /** The run's id. */
  readonly runId: string;
  /**
   * Resolves with the run record when the run finishes (success or failed) — or, once
   * {@link FlowRunHandle.shutdown} let go of it, with the run as it was left (state `running`: the
   * process that resumes it finishes it). If the run is reopened later (clear or set-state on a
   * finished run), read `done` again for the new outcome.
   */
  readonly done: Promise<FlowRunRecord<TTasks>>;
  /**
   * Resolves when the run finishes, cannot progress without `resumeTask`/`sendEvent`, or was let
   * go of by {@link FlowRunHandle.shutdown}.
   */
  settled(): Promise<FlowRunRecord<TTasks>>;
  /** The run as it is now. */
  snapshot(): FlowRunRecord<TTasks>;
  /**
   * One task instance as it is now, or `undefined` for an unknown key (typed like `run.tasks` for
   * the flow's task keys).
   */
  taskInstance<TKey extends TaskKeyFor<TTasks>>(taskKey: TKey): TaskRecords<TTasks>[TKey] | undefined;
  /** Sets a task instance's state by hand; a running attempt is aborted and its result discarded. */
  setState(taskKey: TaskKeyFor<TTasks>, state: ManualTaskInstanceState): void;
  /**
   * Clears a task instance so it runs again (a running one goes through `restarting`); with
   * `downstream` / `upstream`, also every instance of the tasks downstream / upstream of its task
   * that can be cleared (as Airflow's clear does). Returns the keys it cleared, the named one first.
   * Throws `IllegalTransitionError` when the named instance cannot be cleared; then nothing changed.
   */
  clear(taskKey: TaskKeyFor<TTasks>, options?: ClearOptions): readonly string[];
  /**
   * Resumes a `checkpointed` task instance now; `payload`, if given, is what its next attempt sees
   * as `ctx().event` (an approval's answer, say).
   */
  resumeTask(taskKey: TaskKeyFor<TTasks>, payload?: unknown): void;
  /** Resumes a task instance deferred with `event: true`; `payload` becomes its `ctx().event`. */
  sendEvent(taskKey: TaskKeyFor<TTasks>, payload?: unknown): void;
  /** Cancels the run (see `RunFlowOptions.signal`). */
  cancel(reason?: string): void;
  /** Calls `observer` for every task-instance state change; returns an unsubscribe function. */
  subscribe(observer: (change: TaskInstanceChange) => void): () => void;
  /** Counters of the scheduler's work so far, for tests and benchmarks. */
  stats(): FlowRunStats;
  /**
   * Resolves when the run is open: created in its store, or restored from it (at once without a
   * store). Rejects like `done` when it cannot be opened (e.g. `InputChangedError`).
   */
  ready(): Promise<void>;
  /**
   * Resolves once everything the run changed so far is committed to its store (at once without
   * one) and listeners have received every hook call made so far.
   */
  persisted(): Promise<void>;
  /**
   * Graceful shutdown: nothing new starts, running attempts are aborted with reason `'preempt'`
   * (task code may answer with `TaskCheckpointed`), and up to `graceMs` is given to them. Resolves
   * with the run (still `running`) once its state is in the store — and so do `done` and
   * `settled()`, so nothing that waits for the run waits forever; resume it later with
   * `runFlow(flow, { store, runId, resume: true })` or `taskmachine resume <runId>`. A run that
   * never opened (`RunOwnedError`, `InputChangedError`, …) has nothing to stop: the promise rejects
   * with that error, as `done` does. A bad `graceMs` or an unknown option rejects with a
   * `TypeError` and stops nothing.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', () => void handle.shutdown({ graceMs: 5_000 }).catch(() => {}));
   * ```
   */
  shutdown(options?: {
    /**
     * How long running attempts get to end (or checkpoint) before they are interrupted, in ms.
     * @default 10000
     */
    readonly graceMs?: number;
  }): Promise<FlowRunRecord<TTasks>>;
}

/**
 * What the scheduler has done in a run so far.
 *
 * @example
 * ```ts
 * const { turns, triggerEvaluations } = handle.stats();
 * ```
 */
export interface FlowRunStats {
  /** Task instances per state right now (states with none left out). */
  readonly states: Readonly<Partial<Record<TaskInstanceState, number>>>;
  /** Scheduler turns (each admits ready instances and starts attempts). */
  readonly turns: number;
  /** Trigger-rule evaluations: at most tasks + dependency edges, since counters are incremental. */
  readonly triggerEvaluations: number;
  /** Task-instance actors created (finished instances keep a record, not an actor). */
  readonly actorsCreated: number;
  /** Decorator actors alive now (none once the run has ended). */
  readonly decoratorActors: number;
}

