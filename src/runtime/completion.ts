import type { FlowRunRecord } from '../records.ts';
import { deferred, type Deferred } from './deferred.ts';

/**
 * The promises a run's callers wait on: `done` (the run finished; made anew when a finished run is
 * reopened) and `settled()` (finished, or waiting only for a manual resume or an event). A run that
 * could not be opened, or stopped on a store failure, rejects both with the error.
 */
export class RunCompletion {
  #done: Deferred<FlowRunRecord> = deferred();
  #waiters: Array<Deferred<FlowRunRecord>> = [];
  #failure: Error | undefined;

  get done(): Promise<FlowRunRecord> {
    return this.#done.promise;
  }

  /** Why the run could not go on, if it could not. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** A promise settled by the next {@link notifySettled}, {@link finished} or {@link fail}. */
  waitSettled(): Promise<FlowRunRecord> {
    const waiter = deferred<FlowRunRecord>();
    this.#waiters.push(waiter);
    return waiter.promise;
  }

  /** The run waits only for manual resumes or events: settled waiters get the record. */
  notifySettled(record: FlowRunRecord): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve(record);
  }

  /** The `done` of the run's current end (resolve it with {@link finished}, even after a reopen). */
  current(): Deferred<FlowRunRecord> {
    return this.#done;
  }

  /** The run finished with `record`: its `done` (as taken when it ended) and settled waiters resolve. */
  finished(done: Deferred<FlowRunRecord>, record: FlowRunRecord): void {
    done.resolve(record);
    this.notifySettled(record);
  }

  /** The run cannot go on: `done` and every settled waiter reject with `error`. */
  fail(error: Error): void {
    this.#failure ??= error;
    this.#done.reject(error);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  /**
   * The run was let go of before it finished (`shutdown()`): whoever waits for it gets the record as
   * it was left — still `running`, to be finished by the process that resumes it — rather than a
   * promise that would never settle.
   */
  letGo(record: FlowRunRecord): void {
    if (this.#failure === undefined) this.finished(this.#done, record);
  }

  /** A finished run was reopened: a new `done` for its next end. */
  reopened(): void {
    this.#done = deferred();
  }
}
