import type { FlowShape } from '../flow/flowShape.ts';
import type { ControlSettlement } from './controlRecord.ts';
import type { ResultWrite } from './resultRecord.ts';
import type { StoredRun } from './runRecord.ts';
import type { TaskInstanceWrite } from './taskInstanceRecord.ts';
import type { TaskLogWrite } from './taskLogRecord.ts';
import type { TransitionWrite } from './transitionLog.ts';

/**
 * Write a task instance if its stored version is still `expectedVersion` (compare-and-set).
 *
 * @example
 * ```ts
 * import type { TaskInstanceUpsert } from 'taskmachine/stores';
 * // first write of a new instance
 * const first: TaskInstanceUpsert = { record: extractRecord, expectedVersion: 0 };
 * // later writes pass the version the store returned last time
 * const next: TaskInstanceUpsert = { record: { ...extractRecord, state: 'queued' }, expectedVersion: 1 };
 * ```
 */
export interface TaskInstanceUpsert {
  /** The full record (it replaces the stored one). */
  readonly record: TaskInstanceWrite;
  /**
   * The version the writer last saw: `0` for an instance that must not exist yet.
   * @default 0
   */
  readonly expectedVersion?: number;
}

/**
 * Delete a task instance (with its result records, checkpoint and resume data) if its stored
 * version is still `expectedVersion`. Its transition-log entries stay: the log is append-only.
 *
 * @example
 * ```ts
 * import type { TaskInstanceDelete } from 'taskmachine/stores';
 * const gone: TaskInstanceDelete = { key: 'load[7]', expectedVersion: 4 };
 * ```
 */
export interface TaskInstanceDelete {
  /** Task-instance key. */
  readonly key: string;
  /** The version the writer last saw (must be ≥ 1: the instance must exist). */
  readonly expectedVersion: number;
}

/**
 * Everything one scheduler turn of one run writes, committed atomically by {@link Store.commit}:
 * either all of it is durable or none of it is written (one SQLite transaction, one fsync).
 *
 * Applied in this order, after the lease check (`leaseToken`): `run`, `shape`, `deleteInstances`,
 * `instances` (in array order; a key may appear more than once, each later upsert passing the
 * version the earlier one produced), `transitions` (seq assigned in array order), `results`,
 * `logs` (seq assigned in array order), `controls`. Every
 * part is optional; an empty batch is a no-op.
 *
 * @example
 * ```ts
 * import type { CommitBatch } from 'taskmachine/stores';
 * const turn: CommitBatch = {
 *   runId: 'nightly',
 *   instances: [{ record: { ...extract, state: 'success', endedAt: now }, expectedVersion: 3 }],
 *   transitions: [{ key: 'extract', from: 'running', to: 'success', event: 'SUCCEED', at: now }],
 *   results: [{ key: 'extract', attempt: 1, value: rows, at: now }],
 * };
 * const { versions } = await store.commit(turn);
 * versions.get('extract'); // 4
 * ```
 */
export interface CommitBatch {
  /** The run every part of the batch belongs to. */
  readonly runId: string;
  /** Insert or replace the run record (`run.runId` must equal `runId`). Required in the batch that creates the run. */
  readonly run?: StoredRun;
  /** Compare-and-set deletions of task instances. */
  readonly deleteInstances?: readonly TaskInstanceDelete[];
  /** Compare-and-set upserts of task instances. */
  readonly instances?: readonly TaskInstanceUpsert[];
  /** Appends to the run's transition log. */
  readonly transitions?: readonly TransitionWrite[];
  /** Result records; `(key, attempt)` must not be recorded yet. */
  readonly results?: readonly ResultWrite[];
  /**
   * The run's task graph (see `flowShape` in `taskmachine`): replaces the stored one; read it back
   * with `getRunShape`. The runtime writes it when it creates a run, and when a changed definition
   * resumes it (with the new `run.flowHash`).
   * @default undefined (the stored shape stays)
   */
  readonly shape?: FlowShape;
  /**
   * Lines task attempts logged (`ctx().log`) since the last batch, appended to the run's task log
   * (read with `readTaskLogs`; deleted with the run).
   * @default undefined
   */
  readonly logs?: readonly TaskLogWrite[];
  /** Control requests this batch answers (each must be pending). */
  readonly controls?: readonly ControlSettlement[];
  /**
   * The writer's lease token: the batch is refused with `LeaseLostError` unless the run's lease is
   * held with exactly this token. Without it no lease is checked (runs driven without a lease).
   * @default undefined
   */
  readonly leaseToken?: number;
}

/**
 * What a successful {@link Store.commit} reports.
 *
 * @example
 * ```ts
 * const { versions, lastSeq } = await store.commit(batch);
 * for (const [key, version] of versions) instances.get(key)!.version = version;
 * ```
 */
export interface CommitResult {
  /** The new version of every instance the batch upserted (deleted ones are absent). */
  readonly versions: ReadonlyMap<string, number>;
  /** `seq` of the run's last transition-log entry after the batch (0 when the log is empty). */
  readonly lastSeq: number;
}
