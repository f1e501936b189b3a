import type { TaskInstanceState } from '../../machines/index.ts';

/**
 * What kind of failure ended an attempt. The same union as the runtime's `FailureKind` (a type
 * test keeps them identical): `application`, `timeout`, `gate`, `infrastructure`, `manual`.
 *
 * @example
 * ```ts
 * import type { StoredFailureKind } from 'taskmachine/stores';
 * const kind: StoredFailureKind = 'timeout';
 * ```
 */
export type StoredFailureKind = 'application' | 'timeout' | 'gate' | 'infrastructure' | 'interrupted' | 'manual';

/**
 * What a pending timer does when its deadline passes:
 * `retry` (up_for_retry → scheduled), `poke` (up_for_reschedule → scheduled),
 * `trigger` (deferred → scheduled, `until` reached), `trigger-timeout` (deferred → scheduled with
 * the deferral timed out), `resume` (checkpointed → scheduled, auto-resume).
 *
 * @example
 * ```ts
 * import type { TimerAction } from 'taskmachine/stores';
 * const action: TimerAction = 'retry';
 * ```
 */
export type TimerAction = 'retry' | 'poke' | 'trigger' | 'trigger-timeout' | 'resume';

/**
 * A timer owned by the runtime, stored as an absolute deadline (never as an XState `after` delay,
 * which is lost on restore). After a restart the runtime fires it at once if `deadline` has passed.
 *
 * @example
 * ```ts
 * import type { PendingTimer } from 'taskmachine/stores';
 * const timer: PendingTimer = { deadline: Date.now() + 30_000, action: 'retry' };
 * ```
 */
export interface PendingTimer {
  /** When it fires (epoch ms). */
  readonly deadline: number;
  /** What it does then. */
  readonly action: TimerAction;
}

/**
 * A task instance as the runtime writes it: the runtime-owned durable record (never a raw XState
 * snapshot). `attempt`, `maxAttempts`, `retries`, `manuallySetFrom`, `deferTimedOut`,
 * `awaitsEvent`, `interruptions` and `maxInterruptions` are the task-instance machine's context, so the actor can be rebuilt from this record alone.
 *
 * @example
 * ```ts
 * import type { TaskInstanceWrite } from 'taskmachine/stores';
 * const extract: TaskInstanceWrite = {
 *   key: 'extract', taskId: 'extract', mapIndex: undefined, parentKey: undefined,
 *   callInput: undefined, customContext: undefined,
 *   state: 'up_for_retry', attempt: 1, maxAttempts: 3, retries: 2, manuallySetFrom: null,
 *   deferTimedOut: false, machineVersion: '1', createdAt: 1000, updatedAt: 1500, startedAt: 1100,
 *   endedAt: undefined, failureKind: 'application', error: new Error('HTTP 503'), parked: false,
 *   awaitsEvent: false, interruptions: 0, maxInterruptions: 3, timer: { deadline: 31_500, action: 'retry' },
 *   resumeData: undefined, eventPayload: undefined,
 * };
 * ```
 */
export interface TaskInstanceWrite {
  /** Unique key in the run (`extract`, `load[3]`, `parent/child#1`): the second half of the idempotency key. */
  readonly key: string;
  /** The task's id. */
  readonly taskId: string;
  /** Index of a mapped instance. */
  readonly mapIndex: number | undefined;
  /** For an instance started with `ctx().call`, the caller's key. */
  readonly parentKey: string | undefined;
  /**
   * For a child instance started with `ctx().call(task, input)`, the call's `input` (any value the
   * serializer supports; stored like `resumeData`). `undefined` for ordinary instances — and for a
   * call made without an input.
   */
  readonly callInput: unknown;
  /**
   * For a child instance started with `ctx().call`, the custom context in force at the call (the
   * run's custom context with any `withCustomContext` scope applied), which the child's attempts see
   * as `ctx().customContext`. `undefined` for ordinary instances (they see the run's). Every value
   * must be a string (a commit with another value is rejected with a `StoreError` naming the key).
   */
  readonly customContext: Readonly<Record<string, string>> | undefined;
  /** Lifecycle state. */
  readonly state: TaskInstanceState;
  /** Number of the current (or last) attempt, 1-based; 0 before the first. */
  readonly attempt: number;
  /** Attempts allowed in all. */
  readonly maxAttempts: number;
  /** Retries configured for the task. */
  readonly retries: number;
  /** The state it was in when last set by hand, or `null`. */
  readonly manuallySetFrom: TaskInstanceState | null;
  /** Scheduled because its deferral timed out: the next run fails. */
  readonly deferTimedOut: boolean;
  /** `TASK_INSTANCE_MACHINE_VERSION` of the machine whose context this is. */
  readonly machineVersion: string;
  /** When the instance was first written (epoch ms). */
  readonly createdAt: number;
  /** When this record was last written (epoch ms). */
  readonly updatedAt: number;
  /** When its first attempt started (epoch ms). */
  readonly startedAt: number | undefined;
  /** When it last reached a finished state (epoch ms). */
  readonly endedAt: number | undefined;
  /** What kind of failure `error` is. */
  readonly failureKind: StoredFailureKind | undefined;
  /** The error of the last failed attempt (stored with name, message, stack, cause and own props). */
  readonly error: Error | undefined;
  /** Waiting for a manual resume with no timer that would move it. */
  readonly parked: boolean;
  /** Deferred, waiting for an event (machine context; stored as `waiting_for_event` by SQLite). */
  readonly awaitsEvent: boolean;
  /** Attempts of this instance that were interrupted (crash, kill, shutdown) and ran again. */
  readonly interruptions: number;
  /** Interruptions it runs again after; one more fails it (failure kind `interrupted`). */
  readonly maxInterruptions: number;
  /** The pending timer, if one is set. */
  readonly timer: PendingTimer | undefined;
  /** Data handed to the next run of a checkpointed task (`TaskCheckpointed(data)` or a manual resume). */
  readonly resumeData: unknown;
  /** Payload of the event that ended a deferral. */
  readonly eventPayload: unknown;
}

/**
 * A task instance as the store returns it: what was written, plus the run it belongs to and its
 * `version` (1 after the first write, +1 on every write; the value to pass as `expectedVersion`
 * next time).
 *
 * @example
 * ```ts
 * const loaded = await store.loadRun('nightly');
 * const versions = new Map(loaded?.instances.map((i) => [i.key, i.version]));
 * ```
 */
export interface StoredTaskInstance extends TaskInstanceWrite {
  /** The run it belongs to. */
  readonly runId: string;
  /** Compare-and-set version: 1 after the first write, +1 per write. */
  readonly version: number;
}
