// The log of a run a worker drives (it adopted the run) in the worker's own output.

/**
 * A worker prints each `ctx().log` line of the attempts it runs as it is logged, as
 * `[runId key#attempt] line`. When it also drives the run, the run's driver prints the same lines
 * again (as `[key#attempt] line`) once it applies the attempt's outcome. This keeps one copy: the
 * driver's line of an attempt this worker ran is left out, and the lines of attempts other workers
 * ran get the run id, as the worker's own do. Every other driver line passes as it is.
 *
 * @example
 * ```ts
 * const logs = new DrivenRunLogs();
 * logs.ran('nightly', 'extract', 1); // when this worker starts the attempt
 * startFlow(etl, { runId: 'nightly', store, executor: 'workers', resume: true, log: logs.logFor('nightly', console.log) });
 * ```
 */
export class DrivenRunLogs {
  readonly #max: number;
  /** `runId \0 key \0 attempt` of the attempts this worker ran, oldest first. */
  readonly #ranHere = new Set<string>();

  /** @param max how many attempts it remembers (the oldest are forgotten) @default 10000 */
  constructor(max = 10_000) {
    this.#max = max;
  }

  /** This worker runs attempt `attempt` of `key` in run `runId` (and prints its lines itself). */
  ran(runId: string, key: string, attempt: number): void {
    this.#ranHere.add(`${runId}\u0000${key}\u0000${attempt}`);
    if (this.#ranHere.size > this.#max) this.#ranHere.delete(this.#ranHere.values().next().value!);
  }

  /** The `log` to give the driver of run `runId`: lines go to `log`, as described above. */
  logFor(runId: string, log: (line: string) => void): (line: string) => void {
    return (line) => {
      // (The driver writes an attempt's lines as `[key#attempt] line`; keys may hold brackets.)
      const found = /^\[(.+?)#(\d+)\] /.exec(line);
      if (found === null) return log(line);
      if (this.#ranHere.has(`${runId}\u0000${found[1]}\u0000${found[2]}`)) return;
      log(`[${runId} ${line.slice(1)}`);
    };
  }
}
