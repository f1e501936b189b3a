/**
 * One line a task attempt logged with `ctx().log`, as the runtime hands it to the store in a
 * {@link CommitBatch} (`logs`). The runtime bounds what it writes (see `docs/durability.md`, task
 * logs): at most 1,000 lines per attempt, each at most 4,096 characters, then one truncation marker.
 *
 * @example
 * ```ts
 * import type { TaskLogWrite } from 'taskmachine/stores';
 * const line: TaskLogWrite = { key: 'score[3]', taskId: 'score', attempt: 1, at: Date.now(), line: 'scored 120 rows' };
 * ```
 */
export interface TaskLogWrite {
  /** The task instance's key. */
  readonly key: string;
  /** Its task's id (lets a reader ask for every instance of a mapped task). */
  readonly taskId: string;
  /** The attempt that logged it (1-based). */
  readonly attempt: number;
  /** When it was logged (epoch ms, the run's clock). */
  readonly at: number;
  /** The line, formatted as `util.format` does (no `[key#attempt]` prefix). */
  readonly line: string;
}

/**
 * A stored log line: what `readTaskLogs` returns, in `seq` order.
 *
 * @example
 * ```ts
 * for (const { key, attempt, line } of await store.readTaskLogs('nightly', { key: 'extract' })) console.log(`${key}#${attempt} ${line}`);
 * ```
 */
export interface StoredTaskLogLine extends TaskLogWrite {
  readonly runId: string;
  /** 1, 2, 3 … per run, in the order the lines were committed. */
  readonly seq: number;
}

/**
 * Which of a run's log lines `readTaskLogs` returns. Filters combine (all must match).
 *
 * @example
 * ```ts
 * await store.readTaskLogs('nightly', { taskId: 'score', attempt: 2 });          // every instance of a mapped task, attempt 2
 * await store.readTaskLogs('nightly', { afterSeq: lastSeen, limit: 500 });       // tail
 * ```
 */
export interface TaskLogQuery {
  /**
   * Only the lines of this task instance.
   * @default undefined (every instance)
   */
  readonly key?: string;
  /**
   * Only the lines of this task's instances (all of a mapped task's).
   * @default undefined (every task)
   */
  readonly taskId?: string;
  /**
   * Only the lines of this attempt.
   * @default undefined (every attempt)
   */
  readonly attempt?: number;
  /**
   * Only lines with `seq` greater than this (to tail a run's log).
   * @default 0
   */
  readonly afterSeq?: number;
  /**
   * At most this many lines (the first ones after `afterSeq`).
   * @default Infinity
   */
  readonly limit?: number;
}
