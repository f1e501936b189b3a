/**
 * A task checkpoint to save (`ctx().checkpoint.save(value)`): one slot per task instance, each
 * save overwrites the last. Whatever an attempt saved — a failed attempt included — is what the
 * next attempt loads.
 *
 * @example
 * ```ts
 * await store.saveCheckpoint({ runId: 'nightly', key: 'train', value: { epoch: 7 }, savedAt: Date.now() });
 * ```
 */
export interface CheckpointWrite {
  /** The run. */
  readonly runId: string;
  /** Task-instance key. */
  readonly key: string;
  /** The saved value. */
  readonly value: unknown;
  /** When it was saved (epoch ms). */
  readonly savedAt: number;
  /**
   * The writer's lease token (refused with `LeaseLostError` unless it is the run's); see `CommitBatch.leaseToken`.
   * @default undefined
   */
  readonly leaseToken?: number;
}

/**
 * A stored task checkpoint (the last value saved).
 *
 * @example
 * ```ts
 * const cp = await store.loadCheckpoint('nightly', 'train');
 * const epoch = cp === undefined ? 0 : (cp.value as { epoch: number }).epoch;
 * ```
 */
export type StoredCheckpoint = Omit<CheckpointWrite, 'leaseToken'>;
