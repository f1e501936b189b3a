import type { FlowRunState, TaskInstanceState } from '../../machines/index.ts';
import type { StoredResult } from './resultRecord.ts';
import type { StoredRun } from './runRecord.ts';
import type { StoredLease } from './leaseRecord.ts';
import type { StoredTaskInstance } from './taskInstanceRecord.ts';

/**
 * Everything needed to resume a run: the run, every task instance and every result record.
 * (Checkpoints are read on demand with `loadCheckpoint`; the transition log with `readTransitionLog`.)
 *
 * @example
 * ```ts
 * const loaded = await store.loadRun('nightly');
 * if (loaded) {
 *   const latest = new Map(loaded.results.map((r) => [r.key, r.value])); // later attempts win
 *   for (const instance of loaded.instances) console.log(instance.key, instance.state, latest.get(instance.key));
 * }
 * ```
 */
export interface LoadedRun {
  /** The run record. */
  readonly run: StoredRun;
  /** Task instances in the order they were first written. */
  readonly instances: readonly StoredTaskInstance[];
  /** Result records in the order they were recorded (so per key, attempts ascend; the last one is the latest). */
  readonly results: readonly StoredResult[];
}

/**
 * A run as `listRuns` reports it: the record without its input, plus how many task instances are
 * in each state.
 *
 * @example
 * ```ts
 * for (const run of await store.listRuns({ limit: 20 })) {
 *   console.log(run.runId, run.state, run.taskCounts.success ?? 0, 'succeeded');
 * }
 * ```
 */
export interface RunSummary extends Omit<StoredRun, 'input'> {
  /** Number of task instances per state (states with none are absent). */
  readonly taskCounts: Readonly<Partial<Record<TaskInstanceState, number>>>;
  /** The run's lease: who drives it (or last drove it), `undefined` when it never had one. */
  readonly lease: StoredLease | undefined;
}

/**
 * Filters for `listRuns`.
 *
 * @example
 * ```ts
 * await store.listRuns({ flowId: 'etl', state: 'failed', limit: 10 });
 * ```
 */
export interface ListRunsOptions {
  /**
   * Only runs of this flow.
   * @default undefined (every flow)
   */
  readonly flowId?: string;
  /**
   * Only runs in this state.
   * @default undefined (every state)
   */
  readonly state?: FlowRunState;
  /**
   * At most this many runs (the newest).
   * @default Infinity
   */
  readonly limit?: number;
}

/**
 * Options of `readTransitionLog`.
 *
 * @example
 * ```ts
 * const tail = await store.readTransitionLog('nightly', { afterSeq: lastSeen });
 * ```
 */
export interface ReadTransitionLogOptions {
  /**
   * Only entries with `seq` greater than this (to tail a log).
   * @default 0
   */
  readonly afterSeq?: number;
}
