import { DeferSignal, RescheduleSignal } from '../../context/signals.ts';
import { FailTask, RunCancelledError, SkipTask, TaskCheckpointed, TaskTimeoutError, toError } from '../../errors.ts';
import type { FailureKind } from '../../records.ts';
import { StoreError, StoreSerializationError } from '../../stores/errors.ts';

/**
 * How one attempt ended, as a value: what the attempt executor hands back and the run maps to a
 * lifecycle event (`completed` → SUCCEED, `failed` → FAIL, `skipped` → SKIP, `checkpointed` →
 * CHECKPOINT, `deferred` → DEFER, `rescheduled` → RESCHEDULE). An executor never applies a
 * transition itself, so an attempt can run anywhere that can return this.
 */
export type AttemptOutcome =
  | { readonly kind: 'completed'; readonly value: unknown }
  | {
      readonly kind: 'failed';
      readonly error: Error;
      readonly failureKind: FailureKind;
      /** No retry, whatever attempts remain (`FailTask`, a cancelled run). */
      readonly failFast: boolean;
    }
  | { readonly kind: 'skipped' }
  | { readonly kind: 'checkpointed'; readonly data: unknown }
  | {
      readonly kind: 'deferred';
      readonly until: number | undefined;
      readonly awaitEvent: boolean;
      readonly timeout: number | undefined;
    }
  | { readonly kind: 'rescheduled'; readonly delay: number };

/**
 * The outcome of an attempt that returned (`ok`) or threw `value`. Control-flow errors (`SkipTask`,
 * `TaskCheckpointed`, `ctx().defer`, `ctx().reschedule`) are outcomes of their own; anything else
 * thrown is a failure, of kind `timeout` for a `TaskTimeoutError`, `infrastructure` for a cancelled
 * run or a store error (other than a value it cannot take), `application` otherwise.
 */
export function classifyAttempt(ok: boolean, value: unknown): AttemptOutcome {
  if (ok) return { kind: 'completed', value };
  try {
    return classifyThrown(value);
  } catch {
    // (A thrown Proxy whose traps throw on `instanceof`: a failure like any other.)
    return { kind: 'failed', error: toError(value), failureKind: 'application', failFast: false };
  }
}

function classifyThrown(value: unknown): AttemptOutcome {
  if (value instanceof SkipTask) return { kind: 'skipped' };
  if (value instanceof TaskCheckpointed) return { kind: 'checkpointed', data: value.data };
  if (value instanceof DeferSignal) {
    return { kind: 'deferred', until: value.until, awaitEvent: value.waitForEvent, timeout: value.timeout };
  }
  if (value instanceof RescheduleSignal) return { kind: 'rescheduled', delay: value.delay };
  const cancelled = value instanceof RunCancelledError;
  return {
    kind: 'failed',
    error: toError(value),
    failureKind: value instanceof TaskTimeoutError ? 'timeout' : cancelled || storeFailed(value) ? 'infrastructure' : 'application',
    failFast: cancelled || value instanceof FailTask,
  };
}

/**
 * The store failed under the attempt (a `ctx().checkpoint.save()` the store refused: locked past
 * its busy timeout, the disk full): not the task's fault. A value the store cannot take is.
 */
function storeFailed(value: unknown): boolean {
  return value instanceof StoreError && !(value instanceof StoreSerializationError);
}

/** Whether a thrown value is control flow (a skip, checkpoint, deferral or reschedule), not a failure. */
export function isControlFlow(value: unknown): boolean {
  try {
    return value instanceof SkipTask || value instanceof TaskCheckpointed || value instanceof DeferSignal || value instanceof RescheduleSignal;
  } catch {
    return false;
  }
}
