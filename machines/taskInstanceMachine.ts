import { assign, setup } from 'xstate';
import type { TaskInstanceState } from './taskInstanceState.ts';

/**
 * The three states a person (or an API call) may set a task instance to by hand.
 *
 * @example
 * ```ts
 * import type { ManualTaskInstanceState } from 'taskmachine/machines';
 * const mark = (key: string, state: ManualTaskInstanceState) => handle.setState(key, state);
 * mark('load', 'success'); // mark('load', 'running') does not compile
 * ```
 */
export type ManualTaskInstanceState = 'success' | 'failed' | 'skipped';

/**
 * Every event the task-instance machine accepts. Each names one kind of transition; anything not
 * legal in the current state is rejected (see `applyTaskInstanceEvent` in the runtime).
 *
 * | event | from → to | who sends it |
 * |---|---|---|
 * | `SCHEDULE` | none → scheduled (attempt + 1) | scheduler: dependencies met |
 * | `UPSTREAM_FAILED` | none → upstream_failed | scheduler: trigger rule |
 * | `SKIP` | none → skipped (trigger rule); running → skipped (`SkipTask`) | scheduler / task |
 * | `REMOVE` | none → removed | resume: task gone from the definition |
 * | `QUEUE` | scheduled → queued | executor accepted it; readiness gates start |
 * | `START` | queued → running (same attempt again while running: no-op) | executor: slot free, gates passed |
 * | `GATE_FAIL` | queued → up_for_retry or failed | gate manager |
 * | `SUCCEED` | running → success | attempt returned |
 * | `FAIL` | running → up_for_retry or failed | attempt threw or timed out |
 * | `INTERRUPT` | running → scheduled (attempt unchanged), or failed past `maxInterruptions`; with `graceful: true` always scheduled, not counted | its process crashed or was killed, its worker was lost; `graceful`: its process or worker was shut down (Ctrl-C, SIGTERM, a deploy) |
 * | `DEFER` / `RESCHEDULE` / `CHECKPOINT` | running → deferred / up_for_reschedule / checkpointed | task code (`DEFER` with `awaitEvent: true` waits for an event) |
 * | `RETRY` | up_for_retry → scheduled (attempt + 1) | retry delay elapsed |
 * | `POKE` | up_for_reschedule → scheduled | reschedule time reached |
 * | `TRIGGER` | deferred → scheduled (`byEvent: true` only when it awaits an event) | event arrived, `until` reached, or deferral timed out |
 * | `RESUME` | checkpointed → scheduled | auto-resume delay or manual resume |
 * | `CLEAR` | running → restarting; any other but none → none (the retry budget is renewed) | person / API |
 * | `STOPPED` | restarting → up_for_retry | the cleared attempt has stopped |
 * | `SET_STATE` | any → success, failed or skipped (not the state it is in) | person / API |
 *
 * @example
 * ```ts
 * import type { TaskInstanceEvent } from 'taskmachine/machines';
 * const start: TaskInstanceEvent = { type: 'START', attempt: 1 };
 * ```
 */
export type TaskInstanceEvent =
  | { type: 'SCHEDULE' }
  | { type: 'UPSTREAM_FAILED' }
  | { type: 'SKIP' }
  | { type: 'REMOVE' }
  | { type: 'QUEUE' }
  | { type: 'START'; attempt: number }
  | { type: 'GATE_FAIL'; retryable: boolean }
  | { type: 'SUCCEED' }
  | { type: 'FAIL'; failFast?: boolean }
  | { type: 'INTERRUPT'; graceful?: boolean }
  | { type: 'DEFER'; awaitEvent?: boolean }
  | { type: 'RESCHEDULE' }
  | { type: 'CHECKPOINT' }
  | { type: 'RETRY' }
  | { type: 'POKE' }
  | { type: 'TRIGGER'; timedOut?: boolean; byEvent?: boolean }
  | { type: 'RESUME' }
  | { type: 'CLEAR' }
  | { type: 'STOPPED' }
  | { type: 'SET_STATE'; state: ManualTaskInstanceState };

/**
 * The event type names, e.g. `'START'`.
 *
 * @example
 * ```ts
 * import type { TaskInstanceEventType } from 'taskmachine/machines';
 * const byHand: readonly TaskInstanceEventType[] = ['CLEAR', 'SET_STATE'];
 * handle.subscribe(({ event, taskInstance }) => {
 *   if (byHand.includes(event)) console.log(`${taskInstance.key}: ${event} by hand`);
 * });
 * ```
 */
export type TaskInstanceEventType = TaskInstanceEvent['type'];

/**
 * The machine's context: only what the lifecycle itself needs. Results, errors and timing are
 * runtime-owned records, kept outside the machine.
 *
 * @example
 * ```ts
 * import { createActor } from 'xstate';
 * import { taskInstanceMachine } from 'taskmachine/machines';
 * const context = createActor(taskInstanceMachine, { input: { retries: 2 } }).getSnapshot().context;
 * context.maxAttempts; // 3
 * ```
 */
export interface TaskInstanceContext {
  /** Number of the current (or last) attempt, 1-based; 0 before the first attempt. */
  attempt: number;
  /** Retries configured for the task: `retries: N` means N + 1 attempts. */
  retries: number;
  /** Attempts allowed: `retries + 1`, extended by `retries + 1` from the current attempt on clear. */
  maxAttempts: number;
  /** The state the instance was in when it was last set by hand, or `null`. */
  manuallySetFrom: TaskInstanceState | null;
  /** True when the instance was scheduled because its deferral timed out: the next run fails. */
  deferTimedOut: boolean;
  /** True while the instance is deferred waiting for an event (`sendEvent`, `TRIGGER` with `byEvent`). */
  awaitsEvent: boolean;
  /**
   * Attempts of this instance that were interrupted (their process crashed, was killed or shut
   * down): they run again without using a retry. Reset when the instance is cleared.
   */
  interruptions: number;
  /** Interruptions allowed: one more fails the instance (failure kind `interrupted`). */
  maxInterruptions: number;
}

/**
 * Input of the task-instance machine.
 *
 * @example
 * ```ts
 * import { createActor } from 'xstate';
 * import { taskInstanceMachine } from 'taskmachine/machines';
 * createActor(taskInstanceMachine, { input: { retries: 3 } }).start();
 * ```
 */
export interface TaskInstanceInput {
  /**
   * Retries allowed after the first attempt.
   * @default 0
   */
  retries?: number;
  /**
   * Interrupted attempts (crash, kill, shutdown) the instance runs again after; one more fails it.
   * @default 3
   */
  maxInterruptions?: number;
}

/**
 * Version of the machine definition, stored beside every durable task-instance record.
 *
 * @example
 * ```ts
 * import { TASK_INSTANCE_MACHINE_VERSION } from 'taskmachine/machines';
 * const loaded = await store.loadRun('nightly');
 * const older = loaded?.instances.filter((ti) => ti.machineVersion !== TASK_INSTANCE_MACHINE_VERSION) ?? [];
 * ```
 */
export const TASK_INSTANCE_MACHINE_VERSION = '3';

/**
 * Task-instance machine versions whose stored records this version opens. Version 1 kept
 * `awaitsEvent` outside the machine (the same fact, stored as `waitingForEvent`); versions before 3
 * had no interruption count (it starts at 0).
 *
 * @example
 * ```ts
 * import { compatibleTaskInstanceMachineVersions } from 'taskmachine/machines';
 * compatibleTaskInstanceMachineVersions.has('2'); // true: records stored by version 2 open here
 * ```
 */
export const compatibleTaskInstanceMachineVersions: ReadonlySet<string> = new Set(['1', '2', '3']);

/**
 * Interruptions an instance runs again after when neither the task nor the run says otherwise.
 *
 * @example
 * ```ts
 * import { createActor } from 'xstate';
 * import { DEFAULT_MAX_INTERRUPTIONS, taskInstanceMachine } from 'taskmachine/machines';
 * DEFAULT_MAX_INTERRUPTIONS; // 3
 * createActor(taskInstanceMachine, { input: {} }).getSnapshot().context.maxInterruptions; // 3
 * ```
 */
export const DEFAULT_MAX_INTERRUPTIONS = 3;

const manualTargets: readonly ManualTaskInstanceState[] = ['success', 'failed', 'skipped'];

const ts = setup({
  types: {
    context: {} as TaskInstanceContext,
    events: {} as TaskInstanceEvent,
    // `| void` keeps the input optional for createActor (inference drops a plain `| undefined`).
    input: {} as TaskInstanceInput | void,
    tags: {} as 'finished' | 'unfinished',
  },
  guards: {
    isCurrentAttempt: ({ context, event }) =>
      event.type === 'START' && event.attempt === context.attempt,
    hasAttemptsLeft: ({ context }) => context.attempt < context.maxAttempts,
    canRetryFailedAttempt: ({ context, event }) =>
      event.type === 'FAIL' && event.failFast !== true && context.attempt < context.maxAttempts,
    canRetryGateFailure: ({ context, event }) =>
      event.type === 'GATE_FAIL' && event.retryable && context.attempt < context.maxAttempts,
    // A graceful stop (Ctrl-C, SIGTERM, a worker's deploy) is not the task's doing: it never counts
    // toward maxInterruptions, the bound on tasks that crash their process.
    isGracefulStop: ({ event }) => event.type === 'INTERRUPT' && event.graceful === true,
    canRunAgainAfterInterruption: ({ context }) => context.interruptions < context.maxInterruptions,
    isManualTarget: ({ event }, params: { state: ManualTaskInstanceState }) =>
      event.type === 'SET_STATE' && event.state === params.state,
    acceptsTrigger: ({ context, event }) => event.type === 'TRIGGER' && (event.byEvent !== true || context.awaitsEvent),
  },
  actions: {
    // Targetless transitions count as legal (`snapshot.can`) only when they have an action.
    acknowledgeDuplicateStart: () => {},
    incrementAttempt: assign({ attempt: ({ context }) => context.attempt + 1 }),
    recordManualSet: assign((_, params: { from: TaskInstanceState }) => ({
      manuallySetFrom: params.from,
      awaitsEvent: false,
    })),
    extendRetryBudget: assign({
      maxAttempts: ({ context }) => context.attempt + context.retries + 1,
      manuallySetFrom: null,
      deferTimedOut: false,
      awaitsEvent: false,
      interruptions: 0,
    }),
    countInterruption: assign({ interruptions: ({ context }) => context.interruptions + 1 }),
    noteDeferral: assign({
      awaitsEvent: ({ event }) => event.type === 'DEFER' && event.awaitEvent === true,
    }),
    endDeferral: assign({ awaitsEvent: false }),
    noteDeferTimeout: assign({
      deferTimedOut: ({ event }) => event.type === 'TRIGGER' && event.timedOut === true,
    }),
  },
});

/** `SET_STATE` edges from `from` to every manual target except `from` itself. */
function manualSetEdges(from: TaskInstanceState) {
  return manualTargets
    .filter((target) => target !== from)
    .map((target) => ({
      guard: { type: 'isManualTarget' as const, params: { state: target } },
      target,
      actions: { type: 'recordManualSet' as const, params: { from } },
    }));
}

const clearToNone = { target: 'none', actions: 'extendRetryBudget' } as const;
const finished = { tags: ['finished'] } as const;

/**
 * The task-instance lifecycle: Airflow's fourteen states (with a real `checkpointed`) and exactly
 * the transitions of DESIGN §3. A pure definition: no side effects, context from a factory, so it
 * can be embedded, inspected, drawn and traversed.
 *
 * No state is `final`: a finished instance can still be cleared or set by hand. Finished states
 * carry the tag `finished`, the others `unfinished`.
 *
 * @example
 * ```ts
 * import { createActor } from 'xstate';
 * import { taskInstanceMachine } from 'taskmachine/machines';
 * const ti = createActor(taskInstanceMachine, { input: { retries: 1 } }).start();
 * ti.send({ type: 'SCHEDULE' });
 * ti.send({ type: 'QUEUE' });
 * ti.send({ type: 'START', attempt: 1 });
 * ti.send({ type: 'FAIL' });
 * ti.getSnapshot().value; // 'up_for_retry'
 * ```
 */
export const taskInstanceMachine = ts.createMachine({
  id: 'taskInstance',
  version: TASK_INSTANCE_MACHINE_VERSION,
  initial: 'none',
  context: ({ input }) => {
    const retries = (input ? input.retries : undefined) ?? 0;
    return {
      attempt: 0,
      retries,
      maxAttempts: retries + 1,
      manuallySetFrom: null,
      deferTimedOut: false,
      awaitsEvent: false,
      interruptions: 0,
      maxInterruptions: (input ? input.maxInterruptions : undefined) ?? DEFAULT_MAX_INTERRUPTIONS,
    };
  },
  states: {
    none: {
      tags: ['unfinished'],
      on: {
        SCHEDULE: { target: 'scheduled', actions: 'incrementAttempt' },
        UPSTREAM_FAILED: 'upstream_failed',
        SKIP: 'skipped',
        REMOVE: 'removed',
        SET_STATE: manualSetEdges('none'),
      },
    },
    scheduled: {
      tags: ['unfinished'],
      entry: 'noteDeferTimeout',
      on: {
        QUEUE: 'queued',
        CLEAR: clearToNone,
        SET_STATE: manualSetEdges('scheduled'),
      },
    },
    queued: {
      tags: ['unfinished'],
      on: {
        START: { guard: 'isCurrentAttempt', target: 'running' },
        GATE_FAIL: [{ guard: 'canRetryGateFailure', target: 'up_for_retry' }, { target: 'failed' }],
        CLEAR: clearToNone,
        SET_STATE: manualSetEdges('queued'),
      },
    },
    running: {
      tags: ['unfinished'],
      on: {
        // A duplicate start of the attempt that is already running is accepted and changes nothing.
        START: { guard: 'isCurrentAttempt', actions: 'acknowledgeDuplicateStart' },
        SUCCEED: 'success',
        FAIL: [{ guard: 'canRetryFailedAttempt', target: 'up_for_retry' }, { target: 'failed' }],
        // An interruption is not a failure: the same attempt runs again, no retry is used.
        INTERRUPT: [
          { guard: 'isGracefulStop', target: 'scheduled' },
          { guard: 'canRunAgainAfterInterruption', target: 'scheduled', actions: 'countInterruption' },
          { target: 'failed', actions: 'countInterruption' },
        ],
        SKIP: 'skipped',
        DEFER: { target: 'deferred', actions: 'noteDeferral' },
        RESCHEDULE: 'up_for_reschedule',
        CHECKPOINT: 'checkpointed',
        CLEAR: { target: 'restarting', actions: 'extendRetryBudget' },
        SET_STATE: manualSetEdges('running'),
      },
    },
    success: { ...finished, on: { CLEAR: clearToNone, SET_STATE: manualSetEdges('success') } },
    failed: { ...finished, on: { CLEAR: clearToNone, SET_STATE: manualSetEdges('failed') } },
    up_for_retry: {
      tags: ['unfinished'],
      on: {
        RETRY: { guard: 'hasAttemptsLeft', target: 'scheduled', actions: 'incrementAttempt' },
        CLEAR: clearToNone,
        SET_STATE: manualSetEdges('up_for_retry'),
      },
    },
    up_for_reschedule: {
      tags: ['unfinished'],
      on: {
        POKE: 'scheduled',
        CLEAR: clearToNone,
        SET_STATE: manualSetEdges('up_for_reschedule'),
      },
    },
    upstream_failed: {
      ...finished,
      on: { CLEAR: clearToNone, SET_STATE: manualSetEdges('upstream_failed') },
    },
    skipped: { ...finished, on: { CLEAR: clearToNone, SET_STATE: manualSetEdges('skipped') } },
    deferred: {
      tags: ['unfinished'],
      on: {
        TRIGGER: {
          guard: 'acceptsTrigger',
          target: 'scheduled',
          actions: 'endDeferral',
          description:
            'an event (TRIGGER with byEvent, sendEvent) is accepted only by an instance that deferred with event: true; ' +
            'one that deferred without event: true resumes only at its until or timeout',
        },
        CLEAR: clearToNone,
        SET_STATE: manualSetEdges('deferred'),
      },
    },
    removed: { ...finished, on: { CLEAR: clearToNone, SET_STATE: manualSetEdges('removed') } },
    restarting: {
      tags: ['unfinished'],
      on: {
        STOPPED: 'up_for_retry',
        CLEAR: clearToNone,
        SET_STATE: manualSetEdges('restarting'),
      },
    },
    checkpointed: {
      tags: ['unfinished'],
      on: {
        RESUME: 'scheduled',
        CLEAR: clearToNone,
        SET_STATE: manualSetEdges('checkpointed'),
      },
    },
  },
});

/**
 * The task-instance machine's type, for typing actors and snapshots.
 *
 * @example
 * ```ts
 * import type { SnapshotFrom } from 'xstate';
 * import type { TaskInstanceMachine } from 'taskmachine/machines';
 * const isFinished = (snapshot: SnapshotFrom<TaskInstanceMachine>) => snapshot.hasTag('finished');
 * ```
 */
export type TaskInstanceMachine = typeof taskInstanceMachine;

// Compile-time check that the machine's states are exactly the fourteen states.
type MachineStateValue = ReturnType<TaskInstanceMachine['getInitialSnapshot']>['value'];
type StatesMatch = [MachineStateValue] extends [TaskInstanceState]
  ? [TaskInstanceState] extends [MachineStateValue]
    ? true
    : never
  : never;
const statesMatch: StatesMatch = true;
void statesMatch;
