import { isDeepStrictEqual } from 'node:util';
import { finishedStates, type TaskInstanceState } from '../../../machines/index.ts';
import { ChildTaskFailedError } from '../../errors.ts';
import type { Flow, TaskDefinition, TaskRef } from '../../flow/types.ts';
import type { Store } from '../../stores/index.ts';
import type { AttemptRun, TaskInstance } from '../instances/taskInstance.ts';
import type { Clock } from '../../clock.ts';
import type { InstanceTable } from '../instances/instanceTable.ts';

/** What child calls need from the run. */
export interface ChildCallsHost {
  /** A new child instance is ready to run (it runs in its caller's slot). */
  ready(child: TaskInstance): void;
  /** A finished child is called again with another input: clear it (reopening a finished run). */
  rerun(child: TaskInstance): void;
  /** Something changed that the scheduler must look at. */
  requestTurn(): void;
  /** The run's store, if it is durable (checkpoints are saved there at once). */
  store(): Store | undefined;
  /** The lease token writes carry (a durable run's). */
  leaseToken(): number | undefined;
  log(line: string): void;
}

/**
 * `ctx().call(task, input)` and task checkpoints. A call makes (or reuses) a child task instance
 * keyed `parent/id#n` (n counts the calls of that task in the calling attempt), with its own
 * lifecycle and retries; the caller's promise settles when the child reaches a finished state
 * (subscribed to the change bus). A child that already succeeded with the same input is not run
 * again. Checkpoints (`ctx().checkpoint`) are read once per attempt and saved to the store at once.
 */
export class ChildCalls {
  readonly #flow: Flow;
  readonly #runId: string;
  readonly #table: InstanceTable;
  readonly #clock: Clock;
  readonly #host: ChildCallsHost;

  constructor(flow: Flow, runId: string, table: InstanceTable, clock: Clock, host: ChildCallsHost) {
    this.#flow = flow;
    this.#runId = runId;
    this.#table = table;
    this.#clock = clock;
    this.#host = host;
  }

  /**
   * Makes (or reuses) the child and settles with it. `index` is the call's number among the
   * calling attempt's calls of this task when the caller counted them itself (an attempt on a
   * worker, whose requests may reach this driver in any order, or reach the driver that adopted
   * the run); without it the calls are counted here, in the order they are made.
   */
  call(parent: AttemptRun, ref: TaskRef<unknown>, input: unknown, customContext: Readonly<Record<string, string>>, index?: number): Promise<unknown> {
    const task = calledTask(this.#flow, ref);
    if (task instanceof TypeError) return Promise.reject(task);
    if (parent.settled) {
      return Promise.reject(new Error(`ctx().call('${task.id}'): the calling attempt of '${parent.instance.key}' has already ended`));
    }
    let sequence = index;
    if (sequence === undefined) {
      parent.callSeq ??= new Map();
      sequence = parent.callSeq.get(task.id) ?? 0;
      parent.callSeq.set(task.id, sequence + 1);
    }
    const key = `${parent.instance.key}/${task.id}#${sequence}`;
    let child = this.#table.get(key);
    const sameCall = child !== undefined && isDeepStrictEqual(child.callInput, input);
    if (child?.state === 'success' && sameCall) return Promise.resolve(child.result);
    if (child !== undefined && !sameCall && !finishedStates.has(child.state)) {
      return Promise.reject(
        new Error(`ctx().call('${task.id}'): child '${key}' is still running with another input; await each call before the next one of the same task when inputs depend on earlier attempts`),
      );
    }
    if (child !== undefined && !sameCall) {
      // The same call position now carries another input (e.g. the caller skipped work it had
      // checkpointed): the earlier result is not this call's, so run the child again.
      child.callInput = input;
      child.customContext = customContext;
    }
    if (child === undefined) {
      child = this.#table.make({ key, task, parentKey: parent.instance.key, callInput: input, customContext });
      this.#table.add(child);
      this.#host.ready(child);
    } else if (finishedStates.has(child.state)) {
      this.#host.rerun(child);
    }
    const promise = new Promise<unknown>((resolve, reject) => {
      (child.waiters ??= []).push({ resolve, reject });
    });
    this.#host.requestTurn();
    return promise;
  }

  /** Settles the callers of a child that reached a finished state: subscribed to the change bus. */
  readonly onTransition = (instance: TaskInstance, previousState: TaskInstanceState, state: TaskInstanceState): void => {
    if (instance.waiters === undefined || !finishedStates.has(state) || finishedStates.has(previousState)) return;
    const waiters = instance.waiters;
    instance.waiters = undefined;
    for (const waiter of waiters) {
      if (state === 'success') waiter.resolve(instance.result);
      else waiter.reject(new ChildTaskFailedError(instance.key, state, { cause: instance.error }));
    }
  };

  /**
   * The checkpoint as earlier attempts left it: read once per attempt (from the store, or the
   * in-memory value), before this attempt's first save, so `load()` means the same with and
   * without a store.
   */
  loadCheckpoint(run: AttemptRun): Promise<unknown> {
    const store = this.#host.store();
    run.checkpointLoad ??=
      store === undefined
        ? Promise.resolve(run.instance.checkpoint)
        : store.loadCheckpoint(this.#runId, run.instance.key).then((stored) => stored?.value);
    return run.checkpointLoad;
  }

  async saveCheckpoint(run: AttemptRun, value: unknown): Promise<void> {
    if (run.settled) {
      this.#host.log(`[${run.instance.key}#${run.attempt}] checkpoint.save ignored: the attempt has already ended`);
      return;
    }
    if (run.checkpointLoad === undefined) await this.loadCheckpoint(run).catch(() => undefined);
    const store = this.#host.store();
    if (store !== undefined) {
      const leaseToken = this.#host.leaseToken();
      await store.saveCheckpoint({
        runId: this.#runId,
        key: run.instance.key,
        value,
        savedAt: this.#clock.now(),
        ...(leaseToken !== undefined ? { leaseToken } : {}),
      });
    }
    // (Only once stored: a save the store refused leaves the checkpoint as it was.)
    run.instance.checkpoint = value;
  }
}

/**
 * The task a `ctx().call` names, or the `TypeError` the call rejects with when it names no task
 * of `flow` (shared by local attempts and attempts on workers, which refuse such a call at once).
 *
 * @example
 * ```ts
 * const task = calledTask(flow, fetchPage);
 * if (task instanceof TypeError) throw task;
 * ```
 */
export function calledTask(flow: Flow, ref: unknown): TaskDefinition | TypeError {
  const task = ref !== null && typeof ref === 'object' ? flow.task((ref as TaskRef).id) : undefined;
  if (task === undefined || (ref as TaskRef).flowId !== flow.id) {
    return new TypeError(`ctx().call: ${describeRef(ref)} is not a task of flow '${flow.id}'; pass a reference returned by f.task/f.subtask of this flow`);
  }
  return task;
}

function describeRef(ref: unknown): string {
  if (ref !== null && typeof ref === 'object' && 'id' in ref) return `task '${String((ref as TaskRef).id)}'`;
  return String(ref);
}
