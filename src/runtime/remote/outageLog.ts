import { toError } from '../../errors.ts';

/**
 * One log line when something that is tried again and again (a poll, a fetch, a heartbeat) starts
 * failing, and one when it works again — not a line per try while PostgreSQL restarts.
 *
 * @example
 * ```ts
 * const reads = new OutageLog(console.log, 'taskmachine: reading the outcomes of attempts on workers');
 * try { await poll(); reads.ok(); } catch (error) { reads.failed(error); }
 * ```
 */
export class OutageLog {
  readonly #log: (line: string) => void;
  readonly #what: string;
  #since: number | undefined;

  /** @param what what is tried, as the start of the line: `taskmachine worker …: fetching attempt jobs` */
  constructor(log: (line: string) => void, what: string) {
    this.#log = log;
    this.#what = what;
  }

  /** A try failed: logged when it is the first of an outage. */
  failed(error: unknown): void {
    if (this.#since !== undefined) return;
    this.#since = Date.now();
    this.#log(`${this.#what} failed (trying again until it works): ${toError(error).message}`);
  }

  /** A try worked: ends an outage (logged with its length). */
  ok(): void {
    if (this.#since === undefined) return;
    this.#log(`${this.#what} works again, after ${Date.now() - this.#since} ms`);
    this.#since = undefined;
  }
}
