/**
 * The result of one successful attempt, as the runtime inserts it (once per successful attempt,
 * never for a failed one, never again on resume).
 *
 * @example
 * ```ts
 * import type { ResultWrite } from 'taskmachine/stores';
 * const r: ResultWrite = { key: 'extract', attempt: 2, value: { rows: 1200 }, at: Date.now() };
 * ```
 */
export interface ResultWrite {
  /** Task-instance key. */
  readonly key: string;
  /** The attempt that succeeded (1-based). */
  readonly attempt: number;
  /** The value the attempt returned. */
  readonly value: unknown;
  /** When it was recorded (epoch ms). */
  readonly at: number;
}

/**
 * A stored result record. `(runId, key, attempt)` is unique.
 *
 * @example
 * ```ts
 * const loaded = await store.loadRun('nightly');
 * const extract = loaded?.results.findLast((r) => r.key === 'extract')?.value;
 * ```
 */
export interface StoredResult extends ResultWrite {
  /** The run it belongs to. */
  readonly runId: string;
}
