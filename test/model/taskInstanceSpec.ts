import { taskInstanceEvents as representativeEvents } from '../../src/testing/taskInstanceEvents.ts';
import type { TaskInstanceEvent } from '../../machines/index.ts';
import type { Spec, SpecRow } from './spec.ts';

/**
 * DESIGN §3 as a table — written by hand from the design, not from the machine, so that a
 * transition removed from (or added to) the machine, or a flipped retry guard, shows up as a
 * disagreement. Imports only the event *type* from the machines.
 */
export interface TaskModel {
  state: string;
  /** 1-based number of the current attempt; 0 before the first. */
  attempt: number;
  /** `retries: N` allows N + 1 attempts; clearing grants `retries + 1` more from the current one. */
  maxAttempts: number;
  retries: number;
  manuallySetFrom: string | null;
  deferTimedOut: boolean;
  /** Deferred with `event: true`: only then does an event (TRIGGER with byEvent) resume it. */
  awaitsEvent: boolean;
  /** Interrupted attempts so far (an interruption is not a failure: no retry is used). */
  interruptions: number;
  /** Interruptions allowed; one more fails the instance. */
  maxInterruptions: number;
}

export const taskStates = [
  'none',
  'scheduled',
  'queued',
  'running',
  'success',
  'failed',
  'up_for_retry',
  'up_for_reschedule',
  'upstream_failed',
  'skipped',
  'deferred',
  'removed',
  'restarting',
  'checkpointed',
] as const;

export function initialTaskModel(retries: number, maxInterruptions = 3): TaskModel {
  return {
    state: 'none',
    attempt: 0,
    maxAttempts: retries + 1,
    retries,
    manuallySetFrom: null,
    deferTimedOut: false,
    awaitsEvent: false,
    interruptions: 0,
    maxInterruptions,
  };
}

type Row = SpecRow<TaskModel, TaskInstanceEvent>;

const nextAttempt = (m: TaskModel) => ({ attempt: m.attempt + 1 });
const attemptsLeft = (m: TaskModel) => m.attempt < m.maxAttempts;
/** Entering `scheduled` records whether it was a deferral timing out (the next run must fail). */
const enterScheduled = (_m: TaskModel, e: TaskInstanceEvent) => ({
  deferTimedOut: e.type === 'TRIGGER' && e.timedOut === true,
});

const lifecycle: Row[] = [
  // none → scheduled (dependencies met; attempt number + 1) · → upstream_failed | skipped | removed
  { from: 'none', event: 'SCHEDULE', to: 'scheduled', note: 'attempt + 1', update: (m, e) => ({ ...nextAttempt(m), ...enterScheduled(m, e) }) },
  { from: 'none', event: 'UPSTREAM_FAILED', to: 'upstream_failed' },
  { from: 'none', event: 'SKIP', to: 'skipped' },
  { from: 'none', event: 'REMOVE', to: 'removed' },
  // scheduled → queued
  { from: 'scheduled', event: 'QUEUE', to: 'queued' },
  // queued → running, only for the attempt that was scheduled
  { from: 'queued', event: 'START', guard: 'isCurrentAttempt', when: (m, e) => e.type === 'START' && e.attempt === m.attempt, to: 'running' },
  // queued → up_for_retry | failed: a retryable gate error consumes a retry while attempts remain
  {
    from: 'queued',
    event: 'GATE_FAIL',
    guard: 'canRetryGateFailure',
    when: (m, e) => e.type === 'GATE_FAIL' && e.retryable && attemptsLeft(m),
    to: 'up_for_retry',
  },
  { from: 'queued', event: 'GATE_FAIL', guard: 'else', to: 'failed' },
  // running: a duplicate start of the same attempt is idempotent
  { from: 'running', event: 'START', guard: 'isCurrentAttempt', when: (m, e) => e.type === 'START' && e.attempt === m.attempt, to: 'running', note: 'no change' },
  { from: 'running', event: 'SUCCEED', to: 'success' },
  // running → up_for_retry while attempts remain, unless FailTask (failFast) → failed
  {
    from: 'running',
    event: 'FAIL',
    guard: 'canRetryFailedAttempt',
    when: (m, e) => e.type === 'FAIL' && e.failFast !== true && attemptsLeft(m),
    to: 'up_for_retry',
  },
  { from: 'running', event: 'FAIL', guard: 'else', to: 'failed' },
  // running → scheduled when its process was interrupted: the same attempt runs again (no retry
  // used) while interruptions remain; past maxInterruptions it fails (a poison pill ends)
  // a graceful stop (shutdown, a worker's hand-back) is not counted: it always runs again
  {
    from: 'running',
    event: 'INTERRUPT',
    guard: 'isGracefulStop',
    when: (_m, e) => e.type === 'INTERRUPT' && e.graceful === true,
    to: 'scheduled',
    note: 'attempt unchanged, not counted',
    update: enterScheduled,
  },
  {
    from: 'running',
    event: 'INTERRUPT',
    guard: 'canRunAgainAfterInterruption',
    when: (m) => m.interruptions < m.maxInterruptions,
    to: 'scheduled',
    note: 'attempt unchanged, interruptions + 1',
    update: (m, e) => ({ ...enterScheduled(m, e), interruptions: m.interruptions + 1 }),
  },
  { from: 'running', event: 'INTERRUPT', guard: 'else', to: 'failed', update: (m) => ({ interruptions: m.interruptions + 1 }) },
  { from: 'running', event: 'SKIP', to: 'skipped' },
  // a deferral remembers whether it waits for an event
  { from: 'running', event: 'DEFER', to: 'deferred', update: (_m, e) => ({ awaitsEvent: e.type === 'DEFER' && e.awaitEvent === true }) },
  { from: 'running', event: 'RESCHEDULE', to: 'up_for_reschedule' },
  { from: 'running', event: 'CHECKPOINT', to: 'checkpointed' },
  // up_for_retry → scheduled after the retry delay: the next attempt
  { from: 'up_for_retry', event: 'RETRY', guard: 'hasAttemptsLeft', when: attemptsLeft, to: 'scheduled', note: 'attempt + 1', update: (m, e) => ({ ...nextAttempt(m), ...enterScheduled(m, e) }) },
  // up_for_reschedule | deferred | checkpointed → scheduled: attempt unchanged
  { from: 'up_for_reschedule', event: 'POKE', to: 'scheduled', update: enterScheduled },
  // an event resumes only a deferral that waits for one; until/timeout resume any deferral
  {
    from: 'deferred',
    event: 'TRIGGER',
    guard: 'acceptsTrigger',
    when: (m, e) => e.type === 'TRIGGER' && (e.byEvent !== true || m.awaitsEvent),
    to: 'scheduled',
    update: (m, e) => ({ ...enterScheduled(m, e), awaitsEvent: false }),
  },
  { from: 'checkpointed', event: 'RESUME', to: 'scheduled', update: enterScheduled },
  // running → restarting (cleared while running) → up_for_retry
  { from: 'running', event: 'CLEAR', to: 'restarting', note: 'maxAttempts = attempt + retries + 1', update: (m) => cleared(m) },
  { from: 'restarting', event: 'STOPPED', to: 'up_for_retry' },
];

/** Clearing grants a fresh retry budget from the current attempt and forgets a manual mark. */
function cleared(m: TaskModel): Partial<TaskModel> {
  return { maxAttempts: m.attempt + m.retries + 1, manuallySetFrom: null, deferTimedOut: false, awaitsEvent: false, interruptions: 0 };
}

// Manual: clear → none from any other state (running: see above) · set-state to
// success | failed | skipped from any state, never to the state it is in.
const clearRows: Row[] = taskStates
  .filter((from) => from !== 'none' && from !== 'running')
  .map((from) => ({
    from,
    event: 'CLEAR' as const,
    to: 'none',
    note: 'maxAttempts = attempt + retries + 1',
    update: (m: TaskModel) => cleared(m),
  }));

const setStateRows: Row[] = taskStates.flatMap((from) =>
  (['success', 'failed', 'skipped'] as const)
    .filter((target) => target !== from)
    .map(
      (target): Row => ({
        from,
        event: 'SET_STATE',
        guard: `isManualTarget(state=${target})`,
        when: (_m, e) => e.type === 'SET_STATE' && e.state === target,
        to: target,
        update: () => ({ manuallySetFrom: from, awaitsEvent: false }),
      }),
    ),
);

export const taskInstanceSpec: Spec<TaskModel, TaskInstanceEvent> = {
  name: 'DESIGN §3 task-instance lifecycle',
  rows: [...lifecycle, ...clearRows, ...setStateRows],
};

/**
 * Representative events for a snapshot: every event type, payload variants that take every
 * branch, and stale/future `START`s that must be rejected.
 */
export function taskInstanceEvents(snapshot: { context: { attempt: number } }): TaskInstanceEvent[] {
  return representativeEvents(snapshot, { wrongAttempts: true });
}
