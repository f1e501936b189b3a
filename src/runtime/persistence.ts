import { FLOW_RUN_MACHINE_VERSION, TASK_INSTANCE_MACHINE_VERSION, type TaskInstanceEventType, type TaskInstanceState } from '../../machines/index.ts';
import type { CommitBatch, ResultWrite, Store, StoredRun, TaskInstanceUpsert, TaskInstanceWrite, TransitionWrite } from '../stores/index.ts';
import type { TaskInstance } from './instance.ts';

/** The parts of the run record the runtime owns. */
export interface RunRecordFields {
  readonly state: StoredRun['state'];
  readonly reason: StoredRun['reason'];
  readonly startedAt: number | undefined;
  readonly endedAt: number | undefined;
}

/**
 * Makes one run durable: collects what a scheduler turn changed — task-instance records, the
 * transitions in order, result records — and commits it as one batch (group commit: one SQLite
 * transaction, one fsync per turn, not per task). Commits are chained, so batches reach the store
 * in turn order, and each instance write is a compare-and-set on the version the previous write
 * produced.
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
  readonly #onFailure: (error: Error) => void;
  /** Batches committed so far (for tests and benchmarks). */
  commits = 0;

  constructor(store: Store, run: StoredRun, onFailure: (error: Error) => void) {
    this.store = store;
    this.runId = run.runId;
    this.#run = run;
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
    this.#run = { ...this.#run, ...fields, machineVersion: FLOW_RUN_MACHINE_VERSION, updatedAt: now };
    this.#runDirty = true;
  }

  touch(instance: TaskInstance): void {
    this.#dirty.add(instance);
  }

  transition(instance: TaskInstance, from: TaskInstanceState, to: TaskInstanceState, event: TaskInstanceEventType, at: number): void {
    this.#dirty.add(instance);
    this.#transitions.push({ key: instance.key, from, to, event, at });
  }

  result(instance: TaskInstance, attempt: number, value: unknown, at: number): void {
    this.#dirty.add(instance);
    this.#results.push({ key: instance.key, attempt, value, at });
  }

  /** A stored instance that no longer exists in the run (a map placeholder after expansion). */
  remove(instance: TaskInstance): void {
    this.#dirty.delete(instance);
    if (instance.version > 0) this.#deleted.push({ key: instance.key, expectedVersion: instance.version });
  }

  /** Commits everything collected since the last flush (nothing when nothing changed). */
  flush(now: number): Promise<void> {
    if (this.#failure !== undefined) return this.#chain;
    if (!this.#runDirty && this.#dirty.size === 0 && this.#transitions.length === 0 && this.#results.length === 0 && this.#deleted.length === 0) {
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
    const batch: CommitBatch = {
      runId: this.runId,
      ...(this.#runDirty ? { run: this.#run } : {}),
      ...(this.#deleted.length ? { deleteInstances: this.#deleted } : {}),
      ...(instances.length ? { instances } : {}),
      ...(this.#transitions.length ? { transitions: this.#transitions } : {}),
      ...(this.#results.length ? { results: this.#results } : {}),
    };
    this.#runDirty = false;
    this.#dirty = new Set();
    this.#deleted = [];
    this.#transitions = [];
    this.#results = [];
    this.#chain = this.#chain.then(async () => {
      if (this.#failure !== undefined) return;
      try {
        await this.store.commit(batch);
        this.commits++;
      } catch (error) {
        this.#failure = error instanceof Error ? error : new Error(String(error));
        this.#onFailure(this.#failure);
      }
    });
    return this.#chain;
  }

  /** Resolves when every batch handed to the store so far has been committed (or failed). */
  settled(): Promise<void> {
    return this.#chain;
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
    waitingForEvent: instance.waitingForEvent,
    timer: instance.timerInfo,
    resumeData: instance.resumeData,
    eventPayload: instance.eventPayload,
    callInput: instance.callInput,
    customContext: instance.customContext,
  };
}
