import type { AttemptRun } from '../runtime/instances/taskInstance.ts';
import { CallTable, decodeAnswer } from '../runtime/remote/callTable.ts';
import { channelOf, listen, notifyNow, type Subscription } from '../runtime/remote/notifications.ts';
import { WORKER_TIMING } from '../runtime/remote/timing.ts';
import type { PostgresStore } from '../stores/postgresStore.ts';
import type { Slot } from './slots.ts';

/**
 * The attempt on this worker that makes a call: its launch, run, and slot.
 *
 * @example
 * ```ts
 * const caller: Caller = { launchId: job.launchId, runId: job.runId, slot: slots.take() };
 * ```
 */
export interface Caller {
  readonly launchId: string;
  readonly runId: string;
  /** Its worker slot: free while it waits for answers (see `Slots`). */
  readonly slot?: Slot;
}

interface Waiting {
  readonly run: AttemptRun;
  readonly caller: Caller;
  readonly seq: number;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  readonly onAbort: () => void;
}

/**
 * The worker's side of `ctx().call` in its attempts: a call becomes a request to the run's driver
 * (a row of `attempt_calls`, written only while the attempt's launch is still `running` for this
 * worker), the driver is notified at once, and the call settles with the answer the driver stores
 * — read when the driver notifies this worker (`answered`), and polled every
 * {@link WORKER_TIMING.answerPollMs} in case a notification was lost. While an attempt waits for
 * answers it holds no worker slot; an aborted attempt's waiting calls reject with the abort reason.
 *
 * @example
 * ```ts
 * const calls = new WorkerCalls(store, workerId);
 * const value = await calls.call(caller, run, { taskId: 'fetchPage', index: 0, input: serializeValue({ url: '/a' }), customContext: '{}' });
 * calls.stop();
 * ```
 */
export class WorkerCalls {
  readonly #store: PostgresStore;
  readonly #worker: string;
  readonly #table: CallTable;
  /** The next request number of each attempt. */
  readonly #seqs = new WeakMap<AttemptRun, number>();
  /** Calls waiting for their answer, by `launchId/seq`. */
  readonly #waiting = new Map<string, Waiting>();
  /** How many calls each attempt waits for. */
  readonly #pending = new Map<AttemptRun, number>();
  #answered: Subscription | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #polling = false;
  #pollAgain = false;
  #stopped = false;

  constructor(store: PostgresStore, worker: string) {
    this.#store = store;
    this.#worker = worker;
    this.#table = new CallTable(`"${store.schema}"`);
  }

  /**
   * Asks the driver to make the call, and settles with its answer. Rejects at once when the driver
   * already ended the attempt (nothing is called), or when the store cannot be reached.
   */
  async call(caller: Caller, run: AttemptRun, call: { taskId: string; index: number; input: string; customContext: string }): Promise<unknown> {
    const seq = this.#seqs.get(run) ?? 0;
    this.#seqs.set(run, seq + 1);
    const key = run.instance.key;
    // (Repeated after a lost reply, the request is the same row: see CallTable.request.)
    const held = await this.#store.transaction(`request ctx().call('${call.taskId}') of '${key}'`, (db) =>
      this.#table.request(db, this.#worker, { launchId: caller.launchId, seq, runId: caller.runId, ...call, requestedAt: Date.now() }),
    );
    if (!held) {
      throw new Error(
        `ctx().call('${call.taskId}'): the calling attempt of '${key}' has already ended: its driver ended it (a timeout, a cancel, a manual change) or gave it up as lost; nothing was called`,
      );
    }
    // Its driver polls now (it listens for its run id), not at its next poll.
    void notifyNow(this.#store.pool, channelOf(this.#store.schema, 'stored'), [caller.runId]);
    return new Promise<unknown>((resolve, reject) => {
      if (run.signal.aborted) {
        reject(run.signal.reason);
        return;
      }
      const id = `${caller.launchId}/${seq}`;
      const onAbort = (): void => {
        if (!this.#waiting.delete(id)) return;
        this.#done(waiting, () => reject(run.signal.reason));
      };
      const waiting: Waiting = { run, caller, seq, resolve, reject, onAbort };
      this.#waiting.set(id, waiting);
      run.signal.addEventListener('abort', onAbort, { once: true });
      const pending = this.#pending.get(run) ?? 0;
      this.#pending.set(run, pending + 1);
      if (pending === 0) caller.slot?.release();
      this.#listen();
    });
  }

  /** Stops listening and polling (calls still waiting stay unanswered). */
  stop(): void {
    this.#stopped = true;
    this.#answered?.unsubscribe();
    this.#answered = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** A call stopped waiting: the attempt continues (`go`) once it holds a slot, if it waits for no other. */
  #done(waiting: Waiting, go: () => void): void {
    waiting.run.signal.removeEventListener('abort', waiting.onAbort);
    const pending = (this.#pending.get(waiting.run) ?? 1) - 1;
    if (pending > 0) {
      this.#pending.set(waiting.run, pending);
      go();
      return;
    }
    this.#pending.delete(waiting.run);
    if (waiting.run.signal.aborted) {
      // An aborted attempt only winds down: it is not kept waiting for a slot.
      go();
      waiting.caller.slot?.takeBack(() => {});
      return;
    }
    const slot = waiting.caller.slot;
    if (slot === undefined) go();
    else slot.takeBack(go);
  }

  /** Listens for this worker's `answered` notifications, and polls as the backstop, while calls wait. */
  #listen(): void {
    if (this.#stopped) return;
    this.#answered ??= listen(this.#store, channelOf(this.#store.schema, 'answered'), (worker) => {
      if (worker === this.#worker) void this.#poll();
    });
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#stopped || this.#waiting.size === 0) return;
    const ms = this.#answered?.connected() === true ? WORKER_TIMING.answerPollMs : WORKER_TIMING.idlePollMs;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#poll();
    }, ms);
    this.#timer.unref?.();
  }

  async #poll(): Promise<void> {
    if (this.#waiting.size === 0) return;
    if (this.#polling) {
      this.#pollAgain = true;
      return;
    }
    this.#polling = true;
    try {
      const answers = await this.#table.answers(this.#store.pool, [...this.#waiting.values()].map((w) => ({ launchId: w.caller.launchId, seq: w.seq })));
      for (const { launchId, seq, answer } of answers) {
        const id = `${launchId}/${seq}`;
        const waiting = this.#waiting.get(id);
        if (waiting === undefined) continue;
        this.#waiting.delete(id);
        this.#done(waiting, () => decodeAnswer(answer).then(waiting.resolve, waiting.reject));
      }
    } catch {
      // (The next poll tries again: the answer stays stored.)
    } finally {
      this.#polling = false;
      if (this.#pollAgain) {
        this.#pollAgain = false;
        void this.#poll();
      }
      this.#schedule();
    }
  }
}
