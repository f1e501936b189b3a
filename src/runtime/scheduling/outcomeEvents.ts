import type { TaskInstanceState } from '../../../machines/index.ts';
import type { AttemptRun, TaskInstance } from '../instances/taskInstance.ts';
import type { AttemptOutcome } from '../attempt/attemptOutcome.ts';
import type { Clock } from '../../clock.ts';
import type { Lifecycle } from '../lifecycle/lifecycle.ts';
import { SUCCEED } from '../lifecycle/events.ts';
import { retryDelayFor } from './retryTiming.ts';
import type { Wakeups } from './wakeups.ts';

/** What mapping an outcome to its event needs. */
export interface OutcomeContext {
  readonly lifecycle: Lifecycle;
  readonly wakeups: Wakeups;
  readonly clock: Clock;
  /** The run is shutting down: a failed attempt was interrupted, not failed. */
  readonly stopping: boolean;
}

/**
 * Applies the lifecycle event for an attempt's outcome (`completed` → SUCCEED, `failed` → FAIL,
 * `skipped` → SKIP, `checkpointed` → CHECKPOINT, `deferred` → DEFER, `rescheduled` → RESCHEDULE),
 * with the instance's record fields and the wake-up that follows (retry delay, poke, deferral
 * deadline, auto-resume). Whether a failure is retried is the machine's answer to FAIL.
 */
export function applyOutcome(instance: TaskInstance, run: AttemptRun, outcome: AttemptOutcome, context: OutcomeContext): void {
  const { lifecycle, wakeups } = context;
  switch (outcome.kind) {
    case 'completed':
      instance.result = outcome.value;
      instance.resultAttempt = undefined;
      instance.error = undefined;
      instance.failureKind = undefined;
      // Persistence commits the result record in the same batch as this transition.
      lifecycle.apply(instance, SUCCEED);
      return;
    case 'skipped':
      lifecycle.apply(instance, { type: 'SKIP' });
      return;
    case 'checkpointed': {
      instance.resumeData = outcome.data;
      lifecycle.apply(instance, { type: 'CHECKPOINT' }, { checkpointData: outcome.data });
      const resumeAfter = instance.task.resumeAfter;
      if (resumeAfter !== undefined) wakeups.set(instance, resumeAfter, 'resume');
      return;
    }
    case 'deferred': {
      lifecycle.apply(instance, { type: 'DEFER', awaitEvent: outcome.awaitEvent });
      const now = context.clock.now();
      const deadlines: Array<{ at: number; timedOut: boolean }> = [];
      if (outcome.until !== undefined) deadlines.push({ at: outcome.until, timedOut: false });
      if (outcome.timeout !== undefined) deadlines.push({ at: now + outcome.timeout, timedOut: true });
      if (deadlines.length === 0) return;
      const first = deadlines.reduce((a, b) => (b.at < a.at ? b : a));
      wakeups.set(instance, Math.max(0, first.at - now), first.timedOut ? 'trigger-timeout' : 'trigger');
      return;
    }
    case 'rescheduled':
      lifecycle.apply(instance, { type: 'RESCHEDULE' });
      wakeups.set(instance, outcome.delay, 'poke');
      return;
    case 'failed': {
      // Ended by a shutdown's abort: an interruption, not a failure (it runs again on resume), and
      // a graceful one: a stop is not the task's doing, so it does not count toward maxInterruptions.
      if (context.stopping) {
        applyInterruption(instance, lifecycle, 'its process was shut down', true);
        return;
      }
      instance.error = outcome.error;
      instance.failureKind = outcome.failureKind;
      const state = lifecycle.apply(instance, { type: 'FAIL', failFast: outcome.failFast }, { error: outcome.error });
      if (state === 'up_for_retry') wakeups.set(instance, retryDelayFor(instance.task, run.attempt), 'retry');
      return;
    }
  }
}

/**
 * An attempt that ended because its process crashed, was killed or was shut down (or its worker
 * was lost): `INTERRUPT`. The machine runs the same attempt again (`scheduled`, no retry used)
 * while the instance has interruptions left, and fails it (`interrupted`) once it has none, so a
 * task that kills its process every time ends. A `graceful` one (a shutdown, a worker that stopped
 * and handed the attempt back) is not counted: it always runs again. Returns the new state.
 */
export function applyInterruption(instance: TaskInstance, lifecycle: Lifecycle, how: string, graceful = false): TaskInstanceState {
  if (graceful) return lifecycle.apply(instance, GRACEFUL_INTERRUPT);
  const { attempt, interruptions, maxInterruptions } = instance.context;
  if (lifecycle.wouldLeadTo(instance, { type: 'INTERRUPT' }) !== 'failed') {
    return lifecycle.apply(instance, { type: 'INTERRUPT' });
  }
  const error = new Error(
    `task instance '${instance.key}' was interrupted ${interruptions + 1} times (attempt ${attempt}; last: ${how}), ` +
      `more than maxInterruptions (${maxInterruptions}) allows: it is failed rather than run again, in case it is what ` +
      'crashes its process. Raise maxInterruptions (a task option, or runFlow\'s) if its process is stopped that often for other reasons.',
  );
  instance.error = error;
  instance.failureKind = 'interrupted';
  return lifecycle.apply(instance, { type: 'INTERRUPT' }, { error });
}

/** (Made once: the memoized machine keys an event it has not seen by its JSON.) */
const GRACEFUL_INTERRUPT = Object.freeze({ type: 'INTERRUPT', graceful: true } as const);
