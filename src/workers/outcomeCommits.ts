/**
 * One finished attempt a worker stores.
 *
 * @example
 * ```ts
 * const write: OutcomeWrite<Job> = { launchId: job.data.launchId, job, outcome: serializeValue(outcome) };
 * ```
 */
export interface OutcomeWrite<J> {
  readonly launchId: string;
  readonly job: J;
  /** superjson text of the attempt's outcome. */
  readonly outcome: string;
}

/**
 * Group commit on a worker: outcomes of attempts that end while a commit is in flight wait and go
 * together in the next one (one transaction: every launch's outcome and every job's completion).
 * One attempt on its own commits at once; under load one commit carries many, so the database
 * round trips per attempt fall as the load grows.
 *
 * @example
 * ```ts
 * const commits = new OutcomeCommits(async (writes) => storeThem(writes)); // resolves to the stored launch ids
 * const stored = await commits.add({ launchId, job, outcome });
 * ```
 */
export class OutcomeCommits<J> {
  readonly #commit: (writes: readonly OutcomeWrite<J>[]) => Promise<ReadonlySet<string>>;
  #waiting: Array<{ write: OutcomeWrite<J>; resolve: (stored: boolean) => void; reject: (error: unknown) => void }> = [];
  #flushing = false;

  /** @param commit stores the writes in one transaction and resolves to the launch ids it stored. */
  constructor(commit: (writes: readonly OutcomeWrite<J>[]) => Promise<ReadonlySet<string>>) {
    this.#commit = commit;
  }

  /** Resolves to whether the outcome was stored (`false`: the worker no longer held the launch). */
  add(write: OutcomeWrite<J>): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.#waiting.push({ write, resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting;
        this.#waiting = [];
        try {
          const stored = await this.#commit(batch.map((entry) => entry.write));
          for (const entry of batch) entry.resolve(stored.has(entry.write.launchId));
        } catch (error) {
          for (const entry of batch) entry.reject(error);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }
}
