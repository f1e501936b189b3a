import type { FlowRunFailureReason, FlowRunState } from '../../machines/index.ts';

/**
 * A flow run as the store keeps it. The runtime writes the whole record on every change (an upsert
 * in a {@link CommitBatch}); the store never computes any field itself, so timestamps come from the
 * runtime's clock and tests stay deterministic.
 *
 * Field types mirror the runtime's `FlowRunRecord` so mapping is field by field.
 *
 * @example
 * ```ts
 * import type { StoredRun } from 'taskmachine/stores';
 * import { inputFingerprint } from 'taskmachine/stores';
 * const run: StoredRun = {
 *   runId: 'nightly-2026-11-22', flowId: 'etl', inputFingerprint: inputFingerprint({ day: '2026-11-22' }),
 *   state: 'running', reason: null, input: { day: '2026-11-22' }, machineVersion: '1',
 *   labels: { flowFile: 'flows/etl.ts', flowExport: 'etl' }, taskIds: ['extract', 'load'],
 *   createdAt: Date.now(), updatedAt: Date.now(), startedAt: Date.now(), endedAt: undefined,
 * };
 * ```
 */
export interface StoredRun {
  /** The run's id: unique in the store, the first half of every idempotency key. */
  readonly runId: string;
  /** The flow's id (`flow(id, …)`). */
  readonly flowId: string;
  /** {@link inputFingerprint} of `input`, compared on re-runs (`onInputChange`). */
  readonly inputFingerprint: string;
  /** The flow-run state. */
  readonly state: FlowRunState;
  /** Why it failed; `null` unless `state` is `failed`. */
  readonly reason: FlowRunFailureReason | null;
  /** The run's input (any value the serializer supports; `undefined` when none). */
  readonly input: unknown;
  /**
   * Free-form string labels the runtime records with the run (`undefined` when none), e.g. the
   * flow file and export the CLI ran, so `taskmachine resume <runId>` can find the flow again.
   * Every value must be a string (a commit with another value is rejected with a `StoreError`
   * naming the key); like every stored value, keys may not be `__proto__`, `constructor` or
   * `prototype` (`StoreSerializationError`). Returned by `getRun`, `loadRun` and `listRuns`.
   */
  readonly labels: Readonly<Record<string, string>> | undefined;
  /**
   * The run's task list: the id of every task of the flow definitions that have driven this run
   * (the definition it was created with, plus tasks a later definition added when it was resumed;
   * a task removed from the definition stays, its instances are marked removed). A stored task
   * instance whose task id is not in it is refused on read (`StoreRowError`). `undefined` for runs
   * stored before schema version 3, which did not record it (nothing is checked then; the runtime
   * records it when such a run is resumed).
   */
  readonly taskIds: readonly string[] | undefined;
  /**
   * The flow definition hash (`flowHash(flowShape(flow))`, from `taskmachine`) of the definition
   * that drives the run: recorded when the run is created, and again when a changed definition
   * resumes it. The run's shape itself is read with `getRunShape`. `undefined` for runs stored
   * before schema version 4.
   * @default undefined
   */
  readonly flowHash?: string | undefined;
  /** `FLOW_RUN_MACHINE_VERSION` of the machine that wrote this record. */
  readonly machineVersion: string;
  /** When the run was created (epoch ms). Orders `listRuns`, newest first. */
  readonly createdAt: number;
  /** When this record was last written (epoch ms). */
  readonly updatedAt: number;
  /** When the run started (epoch ms). */
  readonly startedAt: number | undefined;
  /** When the run last finished (epoch ms). */
  readonly endedAt: number | undefined;
}
