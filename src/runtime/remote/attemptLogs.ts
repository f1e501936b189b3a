// The `ctx().log` lines of an attempt on a worker travel to the driver with the attempt's outcome
// (in the launch's stored outcome), so the driver stores them in its own commits — the one writer
// of a run's log sequence — prints them and hands them to its listeners, as for a local attempt.
// The exception: an attempt the driver ended while it still ran has no outcome the driver takes;
// its worker stores its lines itself (storeEndedAttemptLogs).
import { toError } from '../../errors.ts';
import type { PostgresStore } from '../../stores/postgresStore.ts';
import type { AttemptOutcome } from '../attempt/attemptOutcome.ts';

/**
 * One `ctx().log` line of an attempt on a worker, as it reaches the driver.
 *
 * @example
 * ```ts
 * const line: WorkerLogLine = { at: Date.now(), line: 'cleaned 120 rows' };
 * ```
 */
export interface WorkerLogLine {
  /** When the worker's task logged it (epoch ms, the worker's clock). */
  readonly at: number;
  /** The line, already bounded like a stored line (see `taskLogLimits`). */
  readonly line: string;
}

/** What a worker stores as a launch's outcome: the outcome, and the log lines when there are any. */
export type OutcomeWithLogs = AttemptOutcome & { readonly logs?: readonly WorkerLogLine[] };

/** The outcome a worker stores for an attempt that logged `lines`. */
export function withLogs(outcome: AttemptOutcome, lines: readonly WorkerLogLine[]): OutcomeWithLogs {
  return lines.length === 0 ? outcome : { ...outcome, logs: lines };
}

/**
 * Splits a stored outcome into the outcome and its log lines. A line that is not a
 * `{ at: number, line: string }` is dropped (an outcome stored by a worker of an older version
 * has none).
 */
export function splitLogs(stored: OutcomeWithLogs): { outcome: AttemptOutcome; logs: WorkerLogLine[] } {
  if (!('logs' in stored)) return { outcome: stored, logs: [] };
  const { logs, ...outcome } = stored;
  const lines = Array.isArray(logs) ? logs.filter((entry: WorkerLogLine) => typeof entry?.at === 'number' && typeof entry.line === 'string') : [];
  return { outcome: outcome as AttemptOutcome, logs: lines };
}

/**
 * After a worker's outcome was refused because the driver had ended the attempt (a timeout, a
 * cancel, a manual change) or given it up as lost while it still ran — or after a stopping worker
 * handed back an attempt that failed on its `preempt` (heartbeat -1, see `LaunchTable.handBack`):
 * stores the attempt's
 * `ctx().log` lines, which would have travelled with that outcome — the lines of a timed-out
 * attempt are the ones a person reads to see where it hung. The worker appends them to the run's
 * task log itself, after taking the run's row lock as every commit of the run does (so the log's
 * sequence stays gapless and in commit order), and only once: the launch row keeps the refused
 * outcome, and a repeat (or a launch that was not ended) finds nothing to do. They reach the
 * store, not the driver's listeners or its printed log (the worker printed them as they came).
 * Never rejects: returns the line the worker logs about it.
 *
 * @example
 * ```ts
 * if (!stored) log(`taskmachine worker ${id}: ${await storeEndedAttemptLogs(store, id, job.data, outcomeText, lines)}`);
 * ```
 */
export async function storeEndedAttemptLogs(
  store: PostgresStore,
  worker: string,
  attempt: { readonly launchId: string; readonly runId: string; readonly key: string; readonly taskId: string; readonly attempt: number },
  outcome: string,
  lines: readonly WorkerLogLine[],
): Promise<string> {
  const what = `the outcome of attempt ${attempt.attempt} of '${attempt.key}' (run '${attempt.runId}') was not stored: its driver ended the attempt or gave it up as lost`;
  if (lines.length === 0) return what;
  const s = `"${store.schema}"`;
  try {
    const kept = await store.transaction(`store the log of an ended attempt of run '${attempt.runId}'`, async (db) => {
      const run = await db.query(`SELECT 1 FROM ${s}.runs WHERE run_id = $1 FOR UPDATE`, [attempt.runId]);
      if (run.rowCount === 0) return false;
      const ended = await db.query(
        `UPDATE ${s}.attempt_launches SET outcome = $3 WHERE launch_id = $1 AND worker = $2 AND outcome IS NULL
           AND (status IN ('aborted', 'lost') OR (status = 'running' AND heartbeat_at = -1)) RETURNING 1`,
        [attempt.launchId, worker, outcome],
      );
      if (ended.rowCount === 0) return false;
      await db.query(
        `INSERT INTO ${s}.task_logs (run_id, seq, key, task_id, attempt, at, line)
         SELECT $1, (SELECT coalesce(max(seq), 0) FROM ${s}.task_logs WHERE run_id = $1) + u.ord, $2, $3, $4, u.at, u.line
         FROM unnest($5::float8[], $6::text[]) WITH ORDINALITY AS u(at, line, ord)`,
        [attempt.runId, attempt.key, attempt.taskId, attempt.attempt, lines.map((entry) => entry.at), lines.map((entry) => entry.line)],
      );
      return true;
    });
    return kept ? `${what}; its ${lines.length} log line(s) were stored` : what;
  } catch (error) {
    return `${what}; its ${lines.length} log line(s) could not be stored either: ${toError(error).message}`;
  }
}
