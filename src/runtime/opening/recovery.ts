import { finishedStates } from '../../../machines/index.ts';
import type { InstanceTable } from '../instances/instanceTable.ts';
import type { TaskInstance } from '../instances/taskInstance.ts';
import type { Lifecycle } from '../lifecycle/lifecycle.ts';
import type { Admission } from '../scheduling/admission.ts';
import type { GateRounds } from '../scheduling/gateRounds.ts';
import { applyInterruption } from '../scheduling/outcomeEvents.ts';
import type { Wakeups } from '../scheduling/wakeups.ts';

/** What recovery needs from the run. */
export interface RecoveryParts {
  readonly table: InstanceTable;
  readonly lifecycle: Lifecycle;
  readonly admission: Admission;
  readonly wakeups: Wakeups;
  readonly gates: GateRounds;
  /** A queued instance whose gates passed (or that has none): to a slot, or started (a child). */
  admit(instance: TaskInstance): void;
  /** A decorated instance restored as `success`: its decorators learn of it with `isCloned`. */
  reused(instance: TaskInstance): void;
  /**
   * With attempts on workers: takes over the attempt of an instance stored `running` whose worker
   * may still run it (or has finished it); `false` when it is lost (then it is interrupted).
   */
  reattach?(instance: TaskInstance): boolean;
}

/**
 * Continues what the stored states of a restored run say was in progress. An attempt that was
 * `running` in a process that crashed, was killed or lost its lease was interrupted: it runs again
 * (no retry used) while the instance has interruptions left (`INTERRUPT`); stored timers are armed
 * with the time left (fired at once when past);
 * scheduled instances are queued, queued ones start their readiness gates again; mapped and
 * called instances still `none` are ready; unfinished instances of tasks that left the definition
 * are marked `removed` (one stored `running` is failed instead, and kept like finished ones).
 */
export function recoverRun(parts: RecoveryParts): void {
  const { table, lifecycle, admission, wakeups, gates } = parts;
  for (const instance of [...table.values()]) {
    if (instance.task.index < 0) {
      removeLeftover(instance, lifecycle);
      continue;
    }
    const timer = instance.timerInfo;
    switch (instance.state) {
      case 'success':
        // Reused, not run again: decorators learn of it with isCloned (as Metaflow's resume).
        if (instance.created) parts.reused(instance);
        break;
      case 'none':
        if (instance.isChild || instance.mapIndex !== undefined) admission.enqueueReady(instance);
        break;
      case 'scheduled':
        admission.toQueue.push(instance);
        break;
      case 'queued':
        if (gates.any) gates.start(instance);
        else parts.admit(instance);
        break;
      case 'running':
        if (parts.reattach?.(instance) === true) break;
        if (applyInterruption(instance, lifecycle, 'the process running it stopped before the attempt ended') === 'scheduled') {
          admission.toQueue.push(instance);
        }
        break;
      case 'restarting':
        lifecycle.apply(instance, { type: 'STOPPED' });
        wakeups.set(instance, 0, 'retry');
        break;
      case 'up_for_retry':
      case 'up_for_reschedule':
      case 'deferred':
      case 'checkpointed':
        if (timer !== undefined) wakeups.rearm(instance, timer);
        else if (instance.state === 'up_for_retry') wakeups.set(instance, 0, 'retry');
        else if (instance.state === 'up_for_reschedule') wakeups.set(instance, 0, 'poke');
        else if (instance.state === 'checkpointed' && instance.task.resumeAfter !== undefined) {
          wakeups.set(instance, instance.task.resumeAfter, 'resume');
        }
        // Otherwise it is parked: only a manual resume or an event continues it.
        break;
      default:
        break;
    }
  }
}

/** An instance of a task that left the definition: ended, then marked removed. */
function removeLeftover(instance: TaskInstance, lifecycle: Lifecycle): void {
  if (finishedStates.has(instance.state)) return;
  if (instance.state === 'running') {
    instance.error = new Error(`task '${instance.task.id}' is no longer in the flow definition`);
    instance.failureKind = 'infrastructure';
    lifecycle.apply(instance, { type: 'FAIL', failFast: true }, { error: instance.error });
    return;
  }
  if (instance.state === 'restarting') lifecycle.apply(instance, { type: 'STOPPED' });
  if (instance.state !== 'none') lifecycle.apply(instance, { type: 'CLEAR' });
  lifecycle.apply(instance, { type: 'REMOVE' });
}
