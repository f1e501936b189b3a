import type { Actor } from 'xstate';
import type { TaskInstanceContext, TaskInstanceMachine, TaskInstanceState } from '../../machines/index.ts';
import type { TaskDefinition } from '../flow/types.ts';
import type { FailureKind, TaskInstanceRecord } from './records.ts';

/** One attempt in flight. Settling it twice, or after it was discarded, does nothing. */
export class AttemptRun {
  settled = false;
  /** Set when a manual change abandoned the attempt: its outcome is never applied. */
  discarded = false;
  #published: Map<string, Map<string, unknown>> | undefined = undefined;
  /** Attempt-scoped values published by decorators (invisible to other attempts and instances). */
  get published(): Map<string, Map<string, unknown>> {
    // Made on first use: attempts of undecorated tasks never need one.
    return (this.#published ??= new Map());
  }
  /** The checkpoint read of this attempt (one store read per attempt at most). */
  checkpointLoad: Promise<unknown> | undefined = undefined;
  /** The system context decorator hooks of this attempt share. */
  sys: import('../decorators/types.ts').SystemContext | undefined = undefined;
  controller: AbortController | undefined;
  abortReason: unknown = undefined;
  timeoutTimer: unknown = undefined;
  /** Calls of each task made with `ctx().call` in this attempt, for deterministic child keys. */
  callSeq: Map<string, number> | undefined;
  readonly instance: TaskInstance;
  readonly attempt: number;

  constructor(instance: TaskInstance, attempt: number) {
    this.instance = instance;
    this.attempt = attempt;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}

/**
 * The runtime's record of one task instance. While the instance is unfinished (and has been
 * materialized) it owns a live task-instance actor; once finished the actor is stopped and only
 * this compact record remains.
 */
export class TaskInstance {
  readonly key: string;
  readonly task: TaskDefinition;
  readonly mapIndex: number | undefined;
  /** For a mapped instance: its item (set again from the stored list when a run is restored). */
  item: unknown;
  readonly parentKey: string | undefined;
  /** The input of a child's call (replaced when a later attempt calls it with another input). */
  callInput: unknown;
  /** Custom context captured when a child was called; `undefined` uses the run's. */
  customContext: Readonly<Record<string, string>> | undefined;

  actor: Actor<TaskInstanceMachine> | undefined = undefined;
  state: TaskInstanceState = 'none';
  /** The machine context as of the last transition (kept so the actor can be rebuilt). */
  context: TaskInstanceContext;
  result: unknown = undefined;
  error: Error | undefined = undefined;
  failureKind: FailureKind | undefined = undefined;
  startedAt: number | undefined = undefined;
  endedAt: number | undefined = undefined;
  /** The finished state this instance contributes to its downstream counters, if any. */
  countedAs: TaskInstanceState | undefined = undefined;
  /** The attempt in flight. */
  current: AttemptRun | undefined = undefined;
  /** Pending timer (retry delay, poke, deferral, auto-resume). */
  timer: unknown = undefined;
  /** The pending timer as stored: absolute deadline and what it does (never an XState `after`). */
  timerInfo: { deadline: number; action: 'retry' | 'poke' | 'trigger' | 'trigger-timeout' | 'resume' } | undefined = undefined;
  /** Version of the stored record (compare-and-set); 0 when never stored. */
  version = 0;
  /** When the record was first stored. */
  storedAt: number | undefined = undefined;
  /** Set while the instance waits in a scheduler queue, so a stale queue entry is recognised. */
  queuedAs: 'ready' | 'slot' | undefined = undefined;
  /** Waiting for a manual resume or an event, with no timer that would move it. */
  parked = false;
  waitingForEvent = false;
  resumeData: unknown = undefined;
  eventPayload: unknown = undefined;
  /** Why this instance cannot run even though its trigger rule passed (e.g. no list to map over). */
  startFailure: Error | undefined = undefined;
  /** Last value saved with `ctx().checkpoint.save`. */
  checkpoint: unknown = undefined;
  /** Callers of `ctx().call` waiting for this (child) instance to finish. */
  waiters: Array<{ resolve: (value: unknown) => void; reject: (error: Error) => void }> | undefined = undefined;
  /** Whether decorators' `taskCreated` has run for this instance. */
  created = false;
  /** Readiness gates still pending for the current attempt. */
  pendingGates: string[] | undefined = undefined;
  /** Aborts the gates of the current attempt; set while they run. */
  gateController: AbortController | undefined = undefined;

  constructor(init: {
    key: string;
    task: TaskDefinition;
    mapIndex?: number;
    item?: unknown;
    parentKey?: string;
    callInput?: unknown;
    customContext?: Readonly<Record<string, string>>;
  }) {
    this.key = init.key;
    this.task = init.task;
    this.mapIndex = init.mapIndex;
    this.item = init.item;
    this.parentKey = init.parentKey;
    this.callInput = init.callInput;
    this.customContext = init.customContext;
    const retries = init.task.retries;
    this.context = { attempt: 0, retries, maxAttempts: retries + 1, manuallySetFrom: null, deferTimedOut: false };
  }

  get isChild(): boolean {
    return this.parentKey !== undefined;
  }

  toRecord(): TaskInstanceRecord {
    const record: {
      -readonly [K in keyof TaskInstanceRecord]: TaskInstanceRecord[K];
    } = {
      key: this.key,
      taskId: this.task.id,
      mapIndex: this.mapIndex,
      parentKey: this.parentKey,
      state: this.state,
      attempts: this.context.attempt,
      maxAttempts: this.context.maxAttempts,
    };
    if (this.state === 'success') record.result = this.result;
    if (this.error !== undefined) record.error = this.error;
    if (this.failureKind !== undefined) record.failureKind = this.failureKind;
    if (this.pendingGates !== undefined && this.pendingGates.length > 0) record.pendingGates = [...this.pendingGates];
    if (this.startedAt !== undefined) record.startedAt = this.startedAt;
    if (this.endedAt !== undefined) record.endedAt = this.endedAt;
    return Object.freeze(record);
  }
}
