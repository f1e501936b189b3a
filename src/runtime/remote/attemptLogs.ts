// The `ctx().log` lines of an attempt on a worker travel to the driver with the attempt's outcome
// (in the launch's stored outcome), so the driver stores them in its own commits — the one writer
// of a run's log sequence — prints them and hands them to its listeners, as for a local attempt.
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
