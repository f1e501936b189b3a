import type { CommitBatch, CommitResult } from './batch.ts';
import type { CheckpointWrite, StoredCheckpoint } from './checkpointRecord.ts';
import type { ControlRequestWrite, StoredControlRequest } from './controlRecord.ts';
import type { LeaseGrant, LeaseRequest, StoredLease } from './leaseRecord.ts';
import type { TaskInstanceCounts, TaskInstancePage, TaskInstanceQuery } from './instanceQueries.ts';
import type { ListRunsOptions, LoadedRun, ReadTransitionLogOptions, RunSummary } from './queries.ts';
import type { StoredRun } from './runRecord.ts';
import type { StoredTransition } from './transitionLog.ts';
import type { FlowShape } from '../flow/flowShape.ts';
import type { StoredTaskLogLine, TaskLogQuery } from './taskLogRecord.ts';

/**
 * Where flow runs are made durable. The flow-run runtime is the only writer of a run; it calls
 * {@link Store.commit} once per scheduler turn with everything that turn changed, so the cost of
 * durability (an fsync for SQLite) is paid per turn, not per task.
 *
 * Contract (checked for every implementation by the shared suite in `test/stores/storeContract.ts`):
 * - `commit` is atomic: on any error nothing of the batch is written.
 * - Task-instance writes are compare-and-set on `version`: a stale `expectedVersion` rejects the
 *   whole batch with a `StoreConflictError`. This makes every state transition happen exactly once
 *   even if two processes drive the same run.
 * - Leases: at most one owner holds a run's live lease; acquisitions and renewals are atomic; the
 *   fencing token grows on every acquisition and is never reused (a released lease keeps its
 *   token); a batch or checkpoint carrying a `leaseToken` that is not the run's current, held lease
 *   is refused with `LeaseLostError` and nothing of it is written.
 * - Control requests get increasing ids per store; a settlement commits with its batch and only
 *   settles a pending request.
 * - A batch's `shape` replaces the run's (read with `getRunShape`, never with the run record); its
 *   `logs` are appended to the run's task log with `seq` 1, 2, 3 … per run. `deleteRun` removes both.
 * - Values (input, labels, call inputs, custom contexts, results, errors, checkpoints, resume
 *   data, event payloads) go through the store serializer
 *   (`serializeValue`): Date, Map, Set, BigInt, undefined and Error survive, payloads carrying
 *   `__proto__`/`prototype` keys are refused. Every read returns fresh objects: mutating them never
 *   changes what is stored.
 * - Methods are async so networked stores (PostgreSQL) fit; the built-in ones do their work
 *   synchronously and return settled promises.
 * - After `close()` every method rejects with a `StoreError`.
 *
 * @example
 * ```ts
 * import { sqliteStore } from 'taskmachine/stores';
 * const store = sqliteStore({ path: '.taskmachine/taskmachine.db' });
 * await store.commit({ runId: 'r1', run, instances: [{ record: extract, expectedVersion: 0 }] });
 * const loaded = await store.loadRun('r1');
 * await store.close();
 * ```
 */
export interface Store {
  /**
   * Write one scheduler turn of one run atomically (see {@link CommitBatch} for the order parts
   * are applied in). Rejects with `StoreConflictError` on a version mismatch or a duplicate result
   * record, with `StoreError` when the run does not exist and the batch does not create it, and
   * with `StoreSerializationError` for a value that cannot be stored — in every case nothing of the
   * batch is written.
   *
   * @example
   * ```ts
   * const { versions } = await store.commit({ runId: 'r1', instances: [{ record, expectedVersion: 2 }] });
   * ```
   */
  commit(batch: CommitBatch): Promise<CommitResult>;

  /**
   * The run record, or `undefined` if there is no such run.
   *
   * @example
   * ```ts
   * const run = await store.getRun('r1');
   * if (run && run.inputFingerprint !== inputFingerprint(input)) { … } // onInputChange
   * ```
   */
  getRun(runId: string): Promise<StoredRun | undefined>;

  /**
   * Runs, newest first (by `createdAt`; runs created at the same ms: the last written first),
   * with counts of task instances per state.
   *
   * @example
   * ```ts
   * const [latest] = await store.listRuns({ flowId: 'etl', limit: 1 });
   * ```
   */
  listRuns(options?: ListRunsOptions): Promise<readonly RunSummary[]>;

  /**
   * The run with all its task instances and result records (what `resume` needs), or `undefined`.
   *
   * @example
   * ```ts
   * const loaded = await store.loadRun('r1');
   * ```
   */
  loadRun(runId: string): Promise<LoadedRun | undefined>;

  /**
   * The run's transition log in `seq` order (empty for an unknown run).
   *
   * @example
   * ```ts
   * const log = await store.readTransitionLog('r1');
   * ```
   */
  readTransitionLog(runId: string, options?: ReadTransitionLogOptions): Promise<readonly StoredTransition[]>;

  /**
   * One page of a run's task instances, filtered (an unknown run has none): what `status` and
   * other tools read instead of `loadRun`, at a cost that grows with the page, not the run.
   *
   * @example
   * ```ts
   * const failed = await store.queryTaskInstances('r1', { states: ['failed', 'upstream_failed'], limit: 20 });
   * ```
   */
  queryTaskInstances(runId: string, query?: TaskInstanceQuery): Promise<TaskInstancePage>;

  /**
   * How many of a run's task instances are in each state, overall and per task.
   *
   * @example
   * ```ts
   * const { total, byState } = await store.countTaskInstances('r1');
   * ```
   */
  countTaskInstances(runId: string): Promise<TaskInstanceCounts>;

  /**
   * The task graph the run was stored with (`CommitBatch.shape`), or `undefined` when the run does
   * not exist or was stored before schema version 4 (it has none). Read apart from the run record,
   * so `getRun` and `listRuns` stay small for a run of 100,000 tasks. A stored shape that does not
   * decode rejects with `StoreRowError` (column `shape`).
   *
   * @example
   * ```ts
   * const shape = await store.getRunShape('nightly');
   * for (const task of shape?.tasks ?? []) console.log(task.id, task.upstream);
   * ```
   */
  getRunShape(runId: string): Promise<FlowShape | undefined>;

  /**
   * The run's stored task log lines (`ctx().log`), in `seq` order, filtered by `query` (an unknown
   * run has none).
   *
   * @example
   * ```ts
   * const lines = await store.readTaskLogs('nightly', { key: 'extract', attempt: 2 });
   * ```
   */
  readTaskLogs(runId: string, query?: TaskLogQuery): Promise<readonly StoredTaskLogLine[]>;

  /**
   * Save a task checkpoint at once (outside any batch, so a value saved mid-attempt survives a
   * crash), replacing the previous one. The run must exist.
   *
   * @example
   * ```ts
   * await store.saveCheckpoint({ runId: 'r1', key: 'train', value: { epoch: 3 }, savedAt: Date.now() });
   * ```
   */
  saveCheckpoint(checkpoint: CheckpointWrite): Promise<void>;

  /**
   * The last checkpoint saved for the task instance, or `undefined` if none was.
   *
   * @example
   * ```ts
   * const previous = await store.loadCheckpoint('r1', 'train');
   * ```
   */
  loadCheckpoint(runId: string, key: string): Promise<StoredCheckpoint | undefined>;

  /**
   * Delete the run and everything of it (instances, log, results, checkpoints, control requests,
   * shape, task log lines) — for
   * `onInputChange: 'reset'`. Other runs are untouched. Resolves to whether the run existed. Its
   * lease record stays (a fencing token is never reused, even for a new run of the same id).
   *
   * @example
   * ```ts
   * await store.deleteRun('r1');
   * ```
   */
  deleteRun(runId: string): Promise<boolean>;

  /**
   * Take the run's lease for `owner`: granted when no live lease of another owner exists (none, a
   * released one, an expired one — a takeover — or this owner's own). Rejects with `RunOwnedError`
   * (from `taskmachine`) naming the owner when another owner's lease is live. The run need not
   * exist yet.
   *
   * @example
   * ```ts
   * const { lease } = await store.acquireLease({ runId: 'r1', owner: me, ttlMs: 30_000, now: Date.now() });
   * ```
   */
  acquireLease(request: LeaseRequest): Promise<LeaseGrant>;

  /**
   * The owner's heartbeat: extends the lease to `now + ttlMs`. Rejects with `LeaseLostError` when
   * the run's lease is no longer this one (taken over, or released).
   *
   * @example
   * ```ts
   * lease = await store.renewLease(lease, Date.now(), 30_000);
   * ```
   */
  renewLease(lease: StoredLease, now: number, ttlMs: number): Promise<StoredLease>;

  /**
   * Lets go of the lease (a clean end or a shutdown): no-op unless it is still the run's lease.
   *
   * @example
   * ```ts
   * await store.releaseLease(lease, Date.now());
   * ```
   */
  releaseLease(lease: StoredLease, now: number): Promise<void>;

  /**
   * The run's lease (held, expired or released), or `undefined` when it never had one.
   *
   * @example
   * ```ts
   * const lease = await store.getLease('r1');
   * ```
   */
  getLease(runId: string): Promise<StoredLease | undefined>;

  /**
   * Stores a control request for the owner of a run (the run must exist); resolves with its id.
   *
   * @example
   * ```ts
   * const { id } = await store.requestControl({ runId: 'r1', action: 'clear', taskKey: 'load', requestedAt: Date.now() });
   * ```
   */
  requestControl(request: ControlRequestWrite): Promise<StoredControlRequest>;

  /**
   * The run's pending control requests, oldest first.
   *
   * @example
   * ```ts
   * for (const request of await store.pendingControls('r1')) apply(request);
   * ```
   */
  pendingControls(runId: string): Promise<readonly StoredControlRequest[]>;

  /**
   * One control request of the run, or `undefined`.
   *
   * @example
   * ```ts
   * const request = await store.getControl('r1', 7);
   * ```
   */
  getControl(runId: string, id: number): Promise<StoredControlRequest | undefined>;

  /**
   * Release the store (for SQLite: close the database). Calling it again does nothing.
   *
   * @example
   * ```ts
   * await store.close();
   * ```
   */
  close(): Promise<void>;
}
