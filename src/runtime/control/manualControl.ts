import type { ManualTaskInstanceState } from '../../../machines/index.ts';
import type { Executor } from '../attempt/attemptExecutor.ts';
import type { InstanceTable } from '../instances/instanceTable.ts';
import type { TaskInstance } from '../instances/taskInstance.ts';
import type { Lifecycle } from '../lifecycle/lifecycle.ts';
import type { Admission } from '../scheduling/admission.ts';
import type { DependencyTracker } from '../scheduling/dependencyTracker.ts';
import type { GateRounds } from '../scheduling/gateRounds.ts';
import type { Wakeups } from '../scheduling/wakeups.ts';

/** What manual control needs from the run. */
export interface ManualControlHost {
  /** The instance with this key; throws a clear error for an unknown key or a run not open yet. */
  instance(key: string): TaskInstance;
  /** A finished run gets work again: the flow-run machine's `RERUN`. */
  reopen(): void;
  requestTurn(): void;
}

/**
 * Changes a person (or a program) makes to task instances of a run: set-state, clear, resume a
 * checkpointed instance, send the event a deferred one waits for. Each goes through the task
 * instance's machine — legality is checked before anything is discarded, so a refused change
 * changes nothing — and discards what the instance was doing (its attempt in flight, gates, timer).
 */
export class ManualControl {
  readonly #lifecycle: Lifecycle;
  readonly #table: InstanceTable;
  readonly #deps: DependencyTracker;
  readonly #admission: Admission;
  readonly #wakeups: Wakeups;
  readonly #gates: GateRounds;
  readonly #executor: Executor;
  readonly #host: ManualControlHost;

  constructor(parts: {
    lifecycle: Lifecycle;
    table: InstanceTable;
    deps: DependencyTracker;
    admission: Admission;
    wakeups: Wakeups;
    gates: GateRounds;
    executor: Executor;
    host: ManualControlHost;
  }) {
    this.#lifecycle = parts.lifecycle;
    this.#table = parts.table;
    this.#deps = parts.deps;
    this.#admission = parts.admission;
    this.#wakeups = parts.wakeups;
    this.#gates = parts.gates;
    this.#executor = parts.executor;
    this.#host = parts.host;
  }

  /** Sets the state by hand; after a success, failed downstream instances get another chance. */
  setState(key: string, state: ManualTaskInstanceState): void {
    if (state !== 'success' && state !== 'failed' && state !== 'skipped') {
      throw new TypeError(`setState: state must be 'success', 'failed' or 'skipped', got ${JSON.stringify(state)}`);
    }
    const instance = this.#host.instance(key);
    this.#lifecycle.assertLegal(instance, { type: 'SET_STATE', state });
    this.#host.reopen();
    this.stopWaiting(instance, new Error(`task instance '${key}' was manually set to ${state}`));
    if (state === 'failed') {
      instance.error = new Error(`task instance '${key}' was manually set to failed`);
      instance.failureKind = 'manual';
    }
    this.#lifecycle.apply(instance, { type: 'SET_STATE', state });
    if (!instance.isChild) this.#deps.decided(instance.task);
    if (state === 'success') this.#clearFailedDownstream(instance);
    this.#host.requestTurn();
  }

  /** Clears the instance so it runs again (a running one goes through `restarting`). */
  clear(key: string): void {
    const instance = this.#host.instance(key);
    this.#lifecycle.assertLegal(instance, { type: 'CLEAR' });
    this.#host.reopen();
    if (instance.state === 'running') {
      this.stopWaiting(instance, new Error(`task instance '${key}' was cleared while running`));
      // The attempt is abandoned at once (no zombie is awaited), so it has stopped already.
      this.#lifecycle.apply(instance, { type: 'CLEAR' });
      this.#lifecycle.apply(instance, { type: 'STOPPED' });
      this.#wakeups.set(instance, 0, 'retry');
    } else {
      this.stopWaiting(instance, new Error(`task instance '${key}' was cleared`));
      this.resetToNone(instance);
    }
    this.#host.requestTurn();
  }

  /**
   * Clears `key` and, as asked, every clearable instance of the tasks downstream / upstream of its
   * task (instances that cannot be cleared — not run yet, say — are left as they are). The named
   * instance must be clearable: otherwise nothing changes. Returns the keys cleared, named first.
   */
  clearWith(key: string, options: { readonly downstream?: boolean; readonly upstream?: boolean }): string[] {
    const instance = this.#host.instance(key);
    this.#lifecycle.assertLegal(instance, { type: 'CLEAR' });
    const family: TaskInstance[] = [];
    if (!instance.isChild && instance.task.index >= 0) {
      const tasks = [
        ...(options.upstream === true ? this.#deps.closureOf(instance.task, 'upstream') : []),
        ...(options.downstream === true ? this.#deps.closureOf(instance.task, 'downstream') : []),
      ];
      for (const task of tasks) {
        for (const candidate of this.#table.instancesOf(task)) {
          if (this.#lifecycle.can(candidate, { type: 'CLEAR' })) family.push(candidate);
        }
      }
    }
    this.clear(key);
    for (const other of family) {
      // (Clearing one may have reset another already, e.g. a failed downstream.)
      if (this.#lifecycle.can(other, { type: 'CLEAR' })) this.clear(other.key);
    }
    return [key, ...family.map((other) => other.key)];
  }

  /** Resumes a checkpointed instance now; `payload` (if any) is what its next attempt sees as `ctx().event`. */
  resumeTask(key: string, payload?: unknown): void {
    const instance = this.#host.instance(key);
    this.#lifecycle.assertLegal(instance, { type: 'RESUME' });
    if (payload !== undefined) instance.eventPayload = payload;
    this.#wakeups.clear(instance);
    this.#lifecycle.apply(instance, { type: 'RESUME' });
    this.#admission.toQueue.push(instance);
    this.#host.requestTurn();
  }

  /** Resumes an instance deferred with `event: true`; `payload` becomes its `ctx().event`. */
  sendEvent(key: string, payload: unknown): void {
    const instance = this.#host.instance(key);
    this.#lifecycle.assertLegal(instance, { type: 'TRIGGER', byEvent: true });
    instance.eventPayload = payload;
    this.endDeferral(instance, { byEvent: true });
  }

  /** Ends a deferral (an event arrived, `until` was reached, or the deferral timed out). */
  endDeferral(instance: TaskInstance, how: { byEvent?: boolean; timedOut?: boolean }): void {
    this.#wakeups.clear(instance);
    this.#lifecycle.apply(instance, { type: 'TRIGGER', ...how });
    this.#admission.toQueue.push(instance);
    this.#host.requestTurn();
  }

  /** Discards the instance's attempt in flight, gate round and pending wake-up, before a manual change. */
  stopWaiting(instance: TaskInstance, reason: Error): void {
    this.#wakeups.clear(instance);
    this.#gates.abort(instance, reason);
    instance.queuedAs = undefined;
    const run = instance.current;
    if (run !== undefined) this.#executor.discard(run, reason);
  }

  /** Clears a finished (or waiting) instance back to `none`, forgetting its outcome. */
  resetToNone(instance: TaskInstance): void {
    this.#lifecycle.apply(instance, { type: 'CLEAR' });
    instance.result = undefined;
    instance.resultAttempt = undefined;
    instance.error = undefined;
    instance.failureKind = undefined;
    instance.endedAt = undefined;
    this.#deps.reconsider(instance);
  }

  /** After a manual success, downstream instances that failed because of it get another chance. */
  #clearFailedDownstream(instance: TaskInstance): void {
    if (instance.isChild || instance.task.index < 0) return;
    this.#deps.downstreamClosure(instance.task, (downstream) => {
      let reset = false;
      for (const candidate of this.#table.instancesOf(downstream)) {
        if (candidate.state !== 'failed' && candidate.state !== 'upstream_failed') continue;
        this.stopWaiting(candidate, new Error('cleared after an upstream was set to success'));
        this.resetToNone(candidate);
        reset = true;
      }
      return reset;
    });
  }
}
