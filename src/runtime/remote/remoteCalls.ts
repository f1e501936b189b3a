import { toError } from '../../errors.ts';
import type { TaskRef } from '../../flow/types.ts';
import type { PostgresStore } from '../../stores/postgresStore.ts';
import { deserializeValue } from '../../stores/serialization.ts';
import type { AttemptRun } from '../instances/taskInstance.ts';
import { CallTable, encodeAnswer, type CallRequest } from './callTable.ts';
import type { LaunchState } from './launchTable.ts';
import { channelOf, notifyNow } from './notifications.ts';

/**
 * What the driver's side of remote calls needs from the run.
 *
 * @example
 * ```ts
 * const host: RemoteCallsHost = { callChild: (parent, ref, input, customContext, index) => children.call(parent, ref, input, customContext, index), committed: () => persistence.flush(Date.now()), log: console.log };
 * ```
 */
export interface RemoteCallsHost {
  /** The run's own `ctx().call` path (the one local attempts use), with the index the worker counted. */
  callChild(parent: AttemptRun, ref: TaskRef<unknown>, input: unknown, customContext: Readonly<Record<string, string>>, index: number): Promise<unknown>;
  /** Resolves once every change made so far is committed to the store (rejects when it cannot be). */
  committed(): Promise<void>;
  log(line: string): void;
}

/**
 * The driver's side of `ctx().call` in attempts on workers. The driver's poll of its launches in
 * flight hands their states here; for a running launch whose worker made more calls than were
 * read, the new requests are read and each is made through the run's own child-call path with the
 * launch's attempt — the same child keys, the same reuse of a child that succeeded with the same
 * input, the same errors as a local call. When the call settles and the child's end is committed,
 * its answer is stored and the worker is notified (`answered`, with its id): a worker's attempt
 * never goes on with a child result the store could still lose with this driver. Each request is handled once by this driver; a
 * driver that adopts the run handles the requests still unanswered (the children they wait for
 * are the run's, restored from the store).
 *
 * @example
 * ```ts
 * const calls = new RemoteCalls(host, { store, flowId: flow.id });
 * await calls.poll(states, (launchId) => inFlight.get(launchId)?.run);
 * ```
 */
export class RemoteCalls {
  readonly #host: RemoteCallsHost;
  readonly #store: PostgresStore;
  readonly #table: CallTable;
  readonly #flowId: string;
  /** Per launch in flight: how many of its calls were read, and the ones handled (by `seq`). */
  readonly #launches = new Map<string, { read: number; handled: Set<number> }>();
  /** Answers not stored yet: written together, and tried again with the next poll after a failure. */
  #unwritten: Array<{ launchId: string; seq: number; answer: string }> = [];
  #writing = false;
  #writeFailed = false;

  constructor(host: RemoteCallsHost, parts: { store: PostgresStore; flowId: string }) {
    this.#host = host;
    this.#store = parts.store;
    this.#table = new CallTable(`"${parts.store.schema}"`);
    this.#flowId = parts.flowId;
  }

  /**
   * Reads and makes the calls the polled launches' attempts requested since the last poll.
   * Rejects when the store cannot be read (the next poll tries again).
   */
  async poll(states: readonly LaunchState[], runOf: (launchId: string) => AttemptRun | undefined): Promise<void> {
    if (this.#unwritten.length > 0) void this.#write();
    const behind = states.filter((state) => state.status === 'running' && state.calls > (this.#launches.get(state.launchId)?.read ?? 0) && runOf(state.launchId) !== undefined);
    if (behind.length === 0) return;
    // (`calls` grows in the statement that inserts the request: the rows are there to read.)
    const requests = await this.#table.requested(this.#store.pool, behind.map((state) => state.launchId));
    for (const state of behind) this.#entry(state.launchId).read = state.calls;
    for (const request of requests) {
      const run = runOf(request.launchId);
      const entry = this.#entry(request.launchId);
      if (run === undefined || entry.handled.has(request.seq)) continue;
      entry.handled.add(request.seq);
      this.#make(run, request);
    }
  }

  /** The launch left flight (its outcome came, it was lost or ended here): nothing more to read of it. */
  forget(launchId: string): void {
    this.#launches.delete(launchId);
  }

  /** The run let go: nothing more is read (answers of calls still running are stored when they settle). */
  clear(): void {
    this.#launches.clear();
  }

  #entry(launchId: string): { read: number; handled: Set<number> } {
    let entry = this.#launches.get(launchId);
    if (entry === undefined) this.#launches.set(launchId, (entry = { read: 0, handled: new Set() }));
    return entry;
  }

  #make(run: AttemptRun, request: CallRequest): void {
    let called: Promise<unknown>;
    try {
      const input = deserializeValue(request.input);
      const customContext = Object.freeze(JSON.parse(request.customContext) as Record<string, string>);
      // The worker checked that the task is one of the flow's (its definition hash is the run's).
      const ref: TaskRef<unknown> = { id: request.taskId, kind: 'subtask', flowId: this.#flowId };
      called = this.#host.callChild(run, ref, input, customContext, request.index);
    } catch (error) {
      called = Promise.reject(toError(error));
    }
    void called
      .then(
        (value) => encodeAnswer({ ok: true, value }),
        (error: unknown) => encodeAnswer({ ok: false, error }),
      )
      .then((answer) =>
        this.#host.committed().then(
          () => this.#answer(request, answer),
          // (The run stops: an adopting driver makes the call again from the store.)
          (error: unknown) => this.#host.log(`taskmachine: the answer to a ctx().call of '${run.instance.key}' is not stored: ${toError(error).message}`),
        ),
      );
  }

  #answer(request: CallRequest, answer: string): void {
    this.#unwritten.push({ launchId: request.launchId, seq: request.seq, answer });
    void this.#write();
  }

  /** Stores the answers waiting to be, then notifies their workers (after the commit, never in it). */
  async #write(): Promise<void> {
    if (this.#writing || this.#unwritten.length === 0) return;
    this.#writing = true;
    const answers = this.#unwritten;
    this.#unwritten = [];
    try {
      const workers = await this.#table.answer(this.#store.pool, answers, Date.now());
      this.#writeFailed = false;
      void notifyNow(this.#store.pool, channelOf(this.#store.schema, 'answered'), workers);
    } catch (error) {
      // Kept for the next poll: the child's outcome is not asked for again (a failed child would run again).
      this.#unwritten = [...answers, ...this.#unwritten];
      if (!this.#writeFailed) this.#host.log(`taskmachine: could not store the answers of ${answers.length} ctx().call(s) of attempts on workers (trying again): ${toError(error).message}`);
      this.#writeFailed = true;
    } finally {
      this.#writing = false;
    }
    if (this.#unwritten.length > 0 && !this.#writeFailed) void this.#write();
  }
}
