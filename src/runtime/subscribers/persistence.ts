import { FLOW_RUN_MACHINE_VERSION, TASK_INSTANCE_MACHINE_VERSION, type TaskInstanceEvent, type TaskInstanceState } from '../../../machines/index.ts';
import type {
  CommitBatch,
  ControlSettlement,
  ResultWrite,
  Store,
  StoredRun,
  TaskInstanceUpsert,
  TaskInstanceWrite,
  TransitionWrite,
} from '../../stores/index.ts';
import type { PostgresStore, SqlSession } from '../../stores/postgresStore.ts';
import type { Clock } from '../../clock.ts';
import type { TaskInstance } from '../instances/taskInstance.ts';
import type { FlowShape } from '../../flow/flowShape.ts';
import { TaskLogCollector } from './taskLogs.ts';

/** The parts of the run record the runtime owns. */
export interface RunRecordFields {
  readonly state: StoredRun['state'];
  readonly reason: StoredRun['reason'];
  readonly startedAt: number | undefined;
  readonly endedAt: number | undefined;
}

/**
 * Makes one run durable: collects what a scheduler turn changed — task-instance records, the
 * transitions in order (it subscribes to the change bus), result records (one per `SUCCEED`), the
 * `ctx().log` lines attempts logged (bounded per attempt, see `taskLogs.ts`), the run's shape when
 * it is created or a changed definition drives it — and
 * commits it as one batch (group commit: one SQLite transaction, one fsync per turn, not per
 * task). Commits are chained, so batches reach the store in turn order, and each instance write
 * is a compare-and-set on the version the previous write produced. After the first failed commit,
 * or once the run let go of it ({@link detach}), nothing more is written.
 */
export class RunPersistence {
  readonly store: Store;
  readonly runId: string;
  #run: StoredRun;
  #runDirty = false;
  #dirty = new Set<TaskInstance>();
  #deleted: Array<{ key: string; expectedVersion: number }> = [];
  #transitions: TransitionWrite[] = [];
  #results: ResultWrite[] = [];
  #chain: Promise<void> = Promise.resolve();
  #failure: Error | undefined;
  #detached = false;
  #leaseToken: number | undefined;
  #controls: ControlSettlement[] = [];
  #shape: FlowShape | undefined;
  readonly #logs = new TaskLogCollector();
  /** Batches handed to the store and not committed yet. */
  #committing = 0;
  /** A flush asked for while a batch was being committed: made and committed when that ends. */
  #coalesced: Promise<void> | undefined;
  /** Inside {@link inOneBatch}: flushes wait for its end. */
  #held = false;
  #heldFlush: { promise: Promise<void>; resolve: (flushed: Promise<void>) => void } | undefined;
  readonly #clock: Clock;
  readonly #onFailure: (error: Error) => void;
  /**
   * With `executor: 'workers'`: asked (synchronously) as each batch is made for work that must
   * commit in the same transaction (the jobs of the attempts whose `START` the batch stores).
   */
  within: ((batch: CommitBatch) => ((db: SqlSession) => Promise<void>) | undefined) | undefined;
  /** Called after a batch whose `within` work committed (e.g. to tell workers its jobs are there). */
  committedWithin: (() => void) | undefined;

  constructor(store: Store, run: StoredRun, clock: Clock, onFailure: (error: Error) => void) {
    this.store = store;
    this.runId = run.runId;
    this.#run = run;
    this.#clock = clock;
    this.#onFailure = onFailure;
  }

  get run(): StoredRun {
    return this.#run;
  }

  /** The first commit error, if any: after it nothing more is written. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  updateRun(fields: RunRecordFields, now: number): void {
    if (this.#detached) return;
    this.#run = { ...this.#run, ...fields, machineVersion: FLOW_RUN_MACHINE_VERSION, updatedAt: now };
    this.#runDirty = true;
  }

  /** Merges `labels` over the run's (run listeners' labels, e.g. a trace's span context). */
  addLabels(labels: Readonly<Record<string, string>>, now: number): void {
    if (this.#detached) return;
    this.#run = { ...this.#run, labels: { ...this.#run.labels, ...labels }, updatedAt: now };
    this.#runDirty = true;
  }

  /**
   * Records the run's task list (a resumed definition added tasks, or the run was stored before
   * task lists were): written with the next batch, before any instance of a new task can be.
   */
  recordTaskIds(taskIds: readonly string[]): void {
    if (this.#detached) return;
    this.#run = { ...this.#run, taskIds };
    this.#runDirty = true;
  }

  /**
   * Records the run's shape and flow hash (a new run, or a changed definition resumes it): written
   * with the next batch.
   */
  recordShape(shape: FlowShape, flowHash: string): void {
    if (this.#detached) return;
    this.#shape = shape;
    this.#run = { ...this.#run, flowHash };
    this.#runDirty = true;
  }

  /**
   * A line an attempt logged (`ctx().log`): stored with the next batch, within the per-attempt cap.
   * A line from a worker was bounded there (`alreadyBounded`) and is not cut again.
   */
  log(instance: TaskInstance, attempt: number, line: string, at: number, alreadyBounded = false): void {
    if (!this.#detached) this.#logs.add(instance.key, instance.task.id, attempt, line, at, alreadyBounded);
  }

  /** Whether log lines wait for the next batch. */
  get logsPending(): boolean {
    return this.#logs.size > 0;
  }

  touch(instance: TaskInstance): void {
    if (!this.#detached) this.#dirty.add(instance);
  }

  /**
   * Holds every later commit until `ready` settles (the lease is taken again); if it rejects, that
   * is the store failure: nothing more is written.
   */
  waitFor(ready: Promise<void>): void {
    this.#chain = this.#chain.then(
      () => ready,
    ).catch((error: unknown) => {
      if (this.#failure !== undefined) return;
      this.#failure = error instanceof Error ? error : new Error(String(error));
      this.#onFailure(this.#failure);
    });
  }

  /** Every batch from now on carries this lease token (the store refuses it once the lease is lost). */
  fence(token: number | undefined): void {
    this.#leaseToken = token;
  }

  /** The lease token batches carry. */
  get leaseToken(): number | undefined {
    return this.#leaseToken;
  }

  /**
   * Runs `change` with commits held: the flushes it asks for (a request that ends the run asks
   * for its final one) become one batch, committed when it returns — with everything it recorded.
   */
  inOneBatch(change: () => void, now: () => number): void {
    if (this.#held) {
      change();
      return;
    }
    this.#held = true;
    try {
      change();
    } finally {
      this.#held = false;
      const waiting = this.#heldFlush;
      this.#heldFlush = undefined;
      const flushed = this.flush(now());
      waiting?.resolve(flushed);
    }
  }

  /** The answer to a control request, committed with this turn's changes. */
  settleControl(settlement: ControlSettlement): void {
    if (!this.#detached) this.#controls.push(settlement);
  }

  /** The run let go of the store: whatever still happens in this process is not written. */
  detach(): void {
    this.#detached = true;
    this.#dirty = new Set();
    this.#deleted = [];
    this.#transitions = [];
    this.#results = [];
    this.#controls = [];
    this.#shape = undefined;
    this.#logs.take();
    this.#runDirty = false;
  }

  /**
   * Records a transition (subscribed to the change bus). A `SUCCEED` also records the attempt's
   * result, in the same batch: a result record exists exactly for each successful attempt.
   */
  readonly onTransition = (instance: TaskInstance, from: TaskInstanceState, to: TaskInstanceState, event: TaskInstanceEvent): void => {
    if (this.#detached) return;
    const at = this.#clock.now();
    this.#dirty.add(instance);
    this.#transitions.push({ key: instance.key, from, to, event: event.type, at });
    if (event.type === 'SUCCEED') this.#results.push({ key: instance.key, attempt: instance.context.attempt, value: instance.result, at });
  };

  /** A stored instance that no longer exists in the run (a map placeholder after expansion). */
  remove(instance: TaskInstance): void {
    if (this.#detached) return;
    this.#dirty.delete(instance);
    if (instance.version > 0) this.#deleted.push({ key: instance.key, expectedVersion: instance.version });
  }

  /**
   * Commits everything collected since the last flush (nothing when nothing changed). While a
   * batch is being committed, flushes are coalesced: the next batch is made when that commit ends,
   * with everything collected until then (one commit, not one per turn, so a slow store — a
   * PostgreSQL round trip — carries more per commit as load grows instead of queueing commits).
   */
  flush(now: number): Promise<void> {
    if (this.#failure !== undefined) return this.#chain;
    if (this.#held) {
      if (this.#heldFlush === undefined) {
        let resolve!: (flushed: Promise<void>) => void;
        const promise = new Promise<void>((done) => (resolve = done));
        this.#heldFlush = { promise, resolve };
      }
      return this.#heldFlush.promise;
    }
    if (this.#committing > 0) {
      this.#coalesced ??= this.#chain.then(() => {
        this.#coalesced = undefined;
        return this.#commitNow(this.#clock.now());
      });
      return this.#coalesced;
    }
    return this.#commitNow(now);
  }

  /** Makes the batch of everything collected now and appends its commit to the chain. */
  #commitNow(now: number): Promise<void> {
    if (this.#failure !== undefined) return this.#chain;
    if (
      !this.#runDirty &&
      this.#dirty.size === 0 &&
      this.#transitions.length === 0 &&
      this.#results.length === 0 &&
      this.#deleted.length === 0 &&
      this.#controls.length === 0 &&
      this.#logs.size === 0
    ) {
      return this.#chain;
    }
    const instances: TaskInstanceUpsert[] = [];
    for (const instance of this.#dirty) {
      const expectedVersion = instance.version;
      instances.push({ record: toWrite(instance, now), expectedVersion });
      // The store adds one per write; the next batch passes this as its expectation.
      instance.version = expectedVersion + 1;
      instance.storedAt ??= now;
    }
    const logs = this.#logs.take();
    const batch: CommitBatch = {
      runId: this.runId,
      ...(this.#runDirty ? { run: this.#run } : {}),
      ...(this.#shape !== undefined ? { shape: this.#shape } : {}),
      ...(this.#deleted.length ? { deleteInstances: this.#deleted } : {}),
      ...(instances.length ? { instances } : {}),
      ...(this.#transitions.length ? { transitions: this.#transitions } : {}),
      ...(this.#results.length ? { results: this.#results } : {}),
      ...(logs.length ? { logs } : {}),
      ...(this.#controls.length ? { controls: this.#controls } : {}),
    };
    this.#runDirty = false;
    this.#shape = undefined;
    this.#dirty = new Set();
    this.#deleted = [];
    this.#transitions = [];
    this.#results = [];
    this.#controls = [];
    const within = this.within?.(batch);
    this.#committing++;
    this.#chain = this.#chain.then(async () => {
      if (this.#failure !== undefined) {
        this.#committing--;
        return;
      }
      try {
        // The lease token as of the commit (a reopened run may have taken its lease again meanwhile).
        const leaseToken = this.#leaseToken;
        const fenced = leaseToken === undefined ? batch : { ...batch, leaseToken };
        if (within === undefined) await this.store.commit(fenced);
        else {
          await (this.store as PostgresStore).commit(fenced, within);
          this.committedWithin?.();
        }
      } catch (error) {
        this.#failure = error instanceof Error ? error : new Error(String(error));
        this.#onFailure(this.#failure);
      } finally {
        this.#committing--;
      }
    });
    return this.#chain;
  }

  /** Resolves when every batch handed to the store so far has been committed (or failed). */
  settled(): Promise<void> {
    return this.#heldFlush?.promise ?? this.#coalesced ?? this.#chain;
  }
}

function toWrite(instance: TaskInstance, now: number): TaskInstanceWrite {
  const context = instance.context;
  return {
    key: instance.key,
    taskId: instance.task.id,
    mapIndex: instance.mapIndex,
    parentKey: instance.parentKey,
    state: instance.state,
    attempt: context.attempt,
    maxAttempts: context.maxAttempts,
    retries: context.retries,
    manuallySetFrom: context.manuallySetFrom,
    deferTimedOut: context.deferTimedOut,
    machineVersion: TASK_INSTANCE_MACHINE_VERSION,
    createdAt: instance.storedAt ?? now,
    updatedAt: now,
    startedAt: instance.startedAt,
    endedAt: instance.endedAt,
    failureKind: instance.failureKind,
    error: instance.error,
    parked: instance.parked,
    awaitsEvent: context.awaitsEvent,
    interruptions: context.interruptions,
    maxInterruptions: context.maxInterruptions,
    timer: instance.timerInfo,
    resumeData: instance.resumeData,
    eventPayload: instance.eventPayload,
    callInput: instance.callInput,
    customContext: instance.customContext,
  };
}
