import type { Actor } from 'xstate';
import { DEFAULT_MAX_INTERRUPTIONS, type TaskInstanceContext, type TaskInstanceMachine, type TaskInstanceState } from '../../../machines/index.ts';
import type { TaskDefinition } from '../../flow/types.ts';
import type { FailureKind, TaskInstanceRecord } from '../../records.ts';
import type { TimerAction } from '../../stores/index.ts';
import type { SystemContext } from '../../decorators/types.ts';

/** Fields most task instances never set (mapped, child, parked, gated or failed instances do). */
interface RareFields {
  mapIndex: number | undefined;
  item: unknown;
  parentKey: string | undefined;
  callInput: unknown;
  customContext: Readonly<Record<string, string>> | undefined;
  error: Error | undefined;
  failureKind: FailureKind | undefined;
  timer: unknown;
  timerInfo: { deadline: number; action: TimerAction } | undefined;
  storedAt: number | undefined;
  resumeData: unknown;
  eventPayload: unknown;
  startFailure: Error | undefined;
  checkpoint: unknown;
  waiters: Array<{ resolve: (value: unknown) => void; reject: (error: Error) => void }> | undefined;
  pendingGates: string[] | undefined;
  gateController: AbortController | undefined;
  resultAttempt: number | undefined;
}

const RARE_DEFAULTS: Readonly<RareFields> = Object.freeze({
  mapIndex: undefined,
  item: undefined,
  parentKey: undefined,
  callInput: undefined,
  customContext: undefined,
  error: undefined,
  failureKind: undefined,
  timer: undefined,
  timerInfo: undefined,
  storedAt: undefined,
  resumeData: undefined,
  eventPayload: undefined,
  startFailure: undefined,
  checkpoint: undefined,
  waiters: undefined,
  pendingGates: undefined,
  gateController: undefined,
  resultAttempt: undefined,
});

/**
 * Timestamps are kept as whole milliseconds after this process's start when they are whole
 * numbers: small integers live inside the object (V8 "Smis"), where an epoch-based millisecond
 * count would need a 16-byte number object per field, two per task instance for a run's length.
 * Fractional timestamps (a clock with sub-millisecond precision) are kept as they are; they can
 * never be mistaken for an offset, which is always whole.
 */
const TIME_BASE = Date.now();

// (Clock values beyond ±9e15 ms, 285,000 years from 1970, are not supported.)
function toStoredTime(time: number | undefined): number | undefined {
  return time !== undefined && Number.isSafeInteger(time) ? time - TIME_BASE : time;
}

function fromStoredTime(stored: number | undefined): number | undefined {
  return stored !== undefined && Number.isSafeInteger(stored) ? stored + TIME_BASE : stored;
}

/** Machine contexts of fresh instances, one shared (immutable) object per (retries, maxInterruptions). */
const initialContexts = new Map<number, Map<number, Readonly<TaskInstanceContext>>>();
function initialContext(retries: number, maxInterruptions: number): Readonly<TaskInstanceContext> {
  let byMax = initialContexts.get(retries);
  if (byMax === undefined) initialContexts.set(retries, (byMax = new Map()));
  let context = byMax.get(maxInterruptions);
  if (context === undefined) {
    context = Object.freeze({
      attempt: 0,
      retries,
      maxAttempts: retries + 1,
      manuallySetFrom: null,
      deferTimedOut: false,
      awaitsEvent: false,
      interruptions: 0,
      maxInterruptions,
    });
    byMax.set(maxInterruptions, context);
  }
  return context;
}

/**
 * The runtime's record of one task instance. While the instance is unfinished (and has been
 * materialized) it owns a live task-instance actor; once finished the actor is stopped and only
 * this compact record remains.
 *
 * A run holds one per task for its whole length, so it is kept small: the fields a plain task
 * instance never sets live in a side object made on the first write of a non-default value (the
 * accessors below read the default until then), and `context` is the machine's own immutable
 * context object, shared by every instance in the same configuration.
 */
export class TaskInstance {
  readonly key: string;
  readonly task: TaskDefinition;
  actor: Actor<TaskInstanceMachine> | undefined = undefined;
  state: TaskInstanceState = 'none';
  /** The machine context as of the last transition (kept so the actor can be rebuilt). Immutable. */
  context: Readonly<TaskInstanceContext>;
  result: unknown = undefined;
  #startedAt: number | undefined = undefined;
  #endedAt: number | undefined = undefined;
  /** The finished state this instance contributes to its downstream counters, if any. */
  countedAs: TaskInstanceState | undefined = undefined;
  /** The attempt in flight. */
  current: AttemptRun | undefined = undefined;
  /** Version of the stored record (compare-and-set); 0 when never stored. */
  version = 0;
  /** Set while the instance waits in a scheduler queue, so a stale queue entry is recognised. */
  queuedAs: 'ready' | 'slot' | undefined = undefined;
  /** Whether decorators' `taskCreated` has run for this instance. */
  created = false;
  #rare: RareFields | undefined = undefined;

  // Rare fields, read from and written to #rare (declared here for their types).
  declare readonly mapIndex: number | undefined;
  /** For a mapped instance: its item (set again from the stored list when a run is restored). */
  declare item: unknown;
  declare readonly parentKey: string | undefined;
  /** The input of a child's call (replaced when a later attempt calls it with another input). */
  declare callInput: unknown;
  /** Custom context captured when a child was called; `undefined` uses the run's. */
  declare customContext: Readonly<Record<string, string>> | undefined;
  declare error: Error | undefined;
  declare failureKind: FailureKind | undefined;
  /** Pending timer (retry delay, poke, deferral, auto-resume). */
  declare timer: unknown;
  /** The pending timer as stored: absolute deadline and what it does (never an XState `after`). */
  declare timerInfo: RareFields['timerInfo'];
  /** When the record was first stored. */
  declare storedAt: number | undefined;
  declare resumeData: unknown;
  declare eventPayload: unknown;
  /** Why this instance cannot run even though its trigger rule passed (e.g. no list to map over). */
  declare startFailure: Error | undefined;
  /** Last value saved with `ctx().checkpoint.save`. */
  declare checkpoint: unknown;
  /** Callers of `ctx().call` waiting for this (child) instance to finish. */
  declare waiters: RareFields['waiters'];
  /** Readiness gates still pending for the current attempt. */
  declare pendingGates: string[] | undefined;
  /** Aborts the gates of the current attempt; set while they run. */
  declare gateController: AbortController | undefined;
  /**
   * The attempt whose result record holds `result`, when it is not `context.attempt` (a restored
   * instance whose newest result record is older than its attempt count); see {@link resultRecordAttempt}.
   */
  declare resultAttempt: number | undefined;

  /** When the first attempt started (clock ms). */
  get startedAt(): number | undefined {
    return fromStoredTime(this.#startedAt);
  }
  set startedAt(time: number | undefined) {
    this.#startedAt = toStoredTime(time);
  }
  /** When the instance last finished (clock ms). */
  get endedAt(): number | undefined {
    return fromStoredTime(this.#endedAt);
  }
  set endedAt(time: number | undefined) {
    this.#endedAt = toStoredTime(time);
  }

  static {
    for (const name of Object.keys(RARE_DEFAULTS) as (keyof RareFields)[]) {
      const fallback = RARE_DEFAULTS[name];
      Object.defineProperty(this.prototype, name, {
        get(this: TaskInstance) {
          const rare = this.#rare;
          return rare === undefined ? fallback : rare[name];
        },
        set(this: TaskInstance, value: unknown) {
          let rare = this.#rare;
          if (rare === undefined) {
            if (value === fallback) return;
            rare = this.#rare = { ...RARE_DEFAULTS };
          }
          (rare as unknown as Record<string, unknown>)[name] = value;
        },
      });
    }
  }

  constructor(init: {
    key: string;
    task: TaskDefinition;
    mapIndex?: number;
    item?: unknown;
    parentKey?: string;
    callInput?: unknown;
    customContext?: Readonly<Record<string, string>>;
    /** Interruptions it runs again after (the run's default when the task sets none). */
    maxInterruptions?: number;
  }) {
    this.key = init.key;
    this.task = init.task;
    this.context = initialContext(init.task.retries, init.maxInterruptions ?? init.task.maxInterruptions ?? DEFAULT_MAX_INTERRUPTIONS);
    if (init.mapIndex !== undefined) (this as { mapIndex: number | undefined }).mapIndex = init.mapIndex;
    if (init.item !== undefined) this.item = init.item;
    if (init.parentKey !== undefined) (this as { parentKey: string | undefined }).parentKey = init.parentKey;
    if (init.callInput !== undefined) this.callInput = init.callInput;
    if (init.customContext !== undefined) this.customContext = init.customContext;
  }

  /**
   * The attempt of the result record that holds `result` (its `(key, attempt)` in the store): the
   * attempt that succeeded — `context.attempt`, since only a clear (which drops the result) lets
   * another attempt start — or, for a restored instance, the attempt of its newest result record.
   */
  resultRecordAttempt(): number {
    return this.resultAttempt ?? this.context.attempt;
  }

  get isChild(): boolean {
    return this.parentKey !== undefined;
  }

  /**
   * Waiting for a manual resume (`checkpointed`) or an event (`deferred`) with no timer that would
   * move it: only a person or another program can continue it.
   */
  get parked(): boolean {
    return (this.state === 'checkpointed' || this.state === 'deferred') && this.timerInfo === undefined;
  }

  toRecord(): TaskInstanceRecord {
    if (this.state === 'success' && this.#rare === undefined && this.startedAt !== undefined && this.endedAt !== undefined) {
      // The common case as one literal: every field in the object itself (adding fields one by one
      // to a smaller literal gives each record a separate overflow array, 40 bytes more).
      return Object.freeze({
        key: this.key,
        taskId: this.task.id,
        mapIndex: undefined,
        parentKey: undefined,
        state: this.state,
        attempts: this.context.attempt,
        maxAttempts: this.context.maxAttempts,
        result: this.result,
        startedAt: this.startedAt,
        endedAt: this.endedAt,
      });
    }
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

// An instance and its attempt in flight point at each other, so both live in this file.
/**
 * One attempt in flight: its abort signal and what its decorators and context share. It ends once
 * (`settled`); an attempt a manual change abandoned is `discarded` and its outcome is never applied.
 */
export class AttemptRun {
  /** The attempt's result is known (returned, thrown, timed out, cancelled or abandoned). */
  settled = false;
  /** Set when a manual change abandoned the attempt: its outcome is never applied. */
  discarded = false;
  #published: Map<string, Map<string, unknown>> | undefined = undefined;
  /** The checkpoint read of this attempt (one store read per attempt at most). */
  checkpointLoad: Promise<unknown> | undefined = undefined;
  /** The system context decorator hooks of this attempt share. */
  sys: SystemContext | undefined = undefined;
  /** The timer of the task's `timeout` (owned by the wake-ups). */
  deadline: unknown = undefined;
  /** Calls of each task made with `ctx().call` in this attempt, for deterministic child keys. */
  callSeq: Map<string, number> | undefined;
  #controller: AbortController | undefined;
  #abortReason: unknown = undefined;
  readonly instance: TaskInstance;
  readonly attempt: number;

  constructor(instance: TaskInstance, attempt: number) {
    this.instance = instance;
    this.attempt = attempt;
  }

  /** Attempt-scoped values published by decorators (invisible to other attempts and instances). */
  get published(): Map<string, Map<string, unknown>> {
    // Made on first use: attempts of undecorated tasks never need one.
    return (this.#published ??= new Map());
  }

  /** The attempt's `ctx().signal` (made on first use: most attempts never read it). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /** Aborts the signal with `reason` (the first reason wins). */
  abort(reason: unknown): void {
    if (this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }
}
