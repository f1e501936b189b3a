import type { TaskLogWrite } from '../../stores/index.ts';

/**
 * The bounds of what a run stores of its tasks' `ctx().log` lines, per attempt: at most
 * `linesPerAttempt` lines, each cut to `lineLength` characters (with a note of how many were cut);
 * the line after the last one is replaced by a truncation marker and the rest are not stored (they
 * still go to the run's `log` and to `onTaskInstanceLog` listeners).
 *
 * @example
 * ```ts
 * import { taskLogLimits } from 'taskmachine';
 * taskLogLimits.linesPerAttempt; // 1000
 * ```
 */
export const taskLogLimits = Object.freeze({
  /** Lines stored per attempt before the truncation marker. */
  linesPerAttempt: 1_000,
  /** Characters stored of one line. */
  lineLength: 4_096,
});

/** The line stored in place of the first line past the cap. */
export const truncationMarker = `… taskmachine: this attempt logged more than ${taskLogLimits.linesPerAttempt} lines; later lines are not stored`;

/**
 * Collects the log lines of one run's attempts for the next batch, bounded per attempt (see
 * {@link taskLogLimits}). An attempt run again after an interruption (in another process) counts
 * from zero again.
 */
export class TaskLogCollector {
  #pending: TaskLogWrite[] = [];
  /** Lines seen per attempt (`attempt\0key`), stored or not. */
  readonly #seen = new Map<string, number>();

  get size(): number {
    return this.#pending.length;
  }

  /** @param alreadyBounded the line was bounded where it was logged (a worker): it is not cut again. */
  add(key: string, taskId: string, attempt: number, line: string, at: number, alreadyBounded = false): void {
    const id = `${attempt}\u0000${key}`;
    const seen = (this.#seen.get(id) ?? 0) + 1;
    this.#seen.set(id, seen);
    if (seen > taskLogLimits.linesPerAttempt + 1) return;
    const text = seen > taskLogLimits.linesPerAttempt ? truncationMarker : alreadyBounded ? line : bounded(line);
    this.#pending.push({ key, taskId, attempt, at, line: text });
  }

  /** The lines collected since the last call. */
  take(): TaskLogWrite[] {
    const taken = this.#pending;
    this.#pending = [];
    return taken;
  }
}

/** A line as stored: at most `lineLength` characters, NUL (which PostgreSQL text cannot hold) as U+FFFD. */
function bounded(line: string): string {
  const clean = line.includes('\u0000') ? line.replaceAll('\u0000', '\uFFFD') : line;
  if (clean.length <= taskLogLimits.lineLength) return clean;
  return `${clean.slice(0, taskLogLimits.lineLength)}… (${clean.length - taskLogLimits.lineLength} more characters)`;
}
