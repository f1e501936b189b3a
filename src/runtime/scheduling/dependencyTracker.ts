import { failedStates, finishedStates, type TaskInstanceState } from '../../../machines/index.ts';
import { FailTask } from '../../errors.ts';
import type { FlowGraph } from '../../flow/graph.ts';
import { countUpstreamOutcome, evaluateTriggerRule } from '../../flow/triggerRules.ts';
import type { Flow, TaskDefinition } from '../../flow/types.ts';
import type { InstanceTable } from '../instances/instanceTable.ts';
import type { TaskInstance } from '../instances/taskInstance.ts';
import type { Lifecycle } from '../lifecycle/lifecycle.ts';
import { isFinished } from '../lifecycle/stateFlags.ts';
import type { Admission } from './admission.ts';
import { UpstreamCountsTable } from './upstreamCountsTable.ts';

/** `upstream` of a task without upstreams (and of a called child). */
export const NO_UPSTREAM: Readonly<Record<string, unknown>> = Object.freeze(Object.create(null));

/**
 * Where a worker finds the value one upstream task hands on, instead of the value (see
 * {@link DependencyTracker.upstreamRefs}): result records are written once and never changed, so a
 * record named by `(key, attempt)` always holds the same value.
 * - `{ id, key, attempt }`: the result record `(key, attempt)` of the run; `{ id }` alone: `undefined`.
 * - `{ id, count, attempts }`: a list of `count` values (a map task's), element `i` the record
 *   (`keys[i]` or `` `${id}[${i}]` ``, `attempts[i]`, or `attempts` for every element); attempt 0: `undefined`.
 *
 * @example
 * ```ts
 * const refs: UpstreamRef[] = [{ id: 'extract', key: 'extract', attempt: 1 }, { id: 'score', count: 3, attempts: 1 }];
 * ```
 */
export type UpstreamRef =
  | { readonly id: string; readonly key?: string; readonly attempt?: number }
  | { readonly id: string; readonly count: number; readonly attempts: number | readonly number[]; readonly keys?: readonly string[] };

/** What the tracker changes in the store besides transitions. */
export interface DependencyRecorder {
  /** The instance's record must be written in this turn's batch. */
  touch(instance: TaskInstance): void;
  /** The instance's record must be deleted (a map placeholder once its task is expanded). */
  remove(instance: TaskInstance): void;
}

/**
 * Dependency tracking: when may a DAG task run, and with which upstream values. Each task keeps
 * counters of how its upstream instances ended (one row of an `Int32Array`), moved by every
 * finished transition (the tracker subscribes to the change bus), so a trigger rule is evaluated
 * only when one of its counters changed: at most tasks + dependency edges evaluations in a run.
 * A decided rule skips the task, marks it `upstream_failed`, expands a map task into one
 * instance per item, or hands the instance to admission.
 */
export class DependencyTracker {
  readonly #flow: Flow;
  readonly #graph: FlowGraph;
  readonly #table: InstanceTable;
  readonly #lifecycle: Lifecycle;
  readonly #admission: Admission;
  readonly #recorder: DependencyRecorder;
  readonly #counts: UpstreamCountsTable;
  /** Whether each task's trigger rule has decided (run, skipped or upstream_failed). */
  readonly #decided: Uint8Array;
  #toEvaluate: number[] = [];
  /** Trigger-rule evaluations so far (bounded by tasks + edges: counters are incremental). */
  evaluations = 0;

  constructor(flow: Flow, graph: FlowGraph, table: InstanceTable, lifecycle: Lifecycle, admission: Admission, recorder: DependencyRecorder) {
    this.#flow = flow;
    this.#graph = graph;
    this.#table = table;
    this.#lifecycle = lifecycle;
    this.#admission = admission;
    this.#recorder = recorder;
    const taskCount = flow.tasks.length;
    this.#counts = new UpstreamCountsTable(taskCount);
    this.#decided = new Uint8Array(taskCount);
    for (const task of flow.tasks) {
      if (task.kind === 'subtask') continue;
      const upstreams = graph.upstreamCount(task.index);
      if (upstreams > 0) this.#counts.add(task.index, upstreams);
      else this.#toEvaluate.push(task.index);
    }
    const { down, downStart } = graph;
    for (const task of flow.tasks) {
      if (!task.setup) continue;
      for (let k = downStart[task.index]!; k < downStart[task.index + 1]!; k++) this.#counts.at(down[k]!)!.setupTotal++;
    }
  }

  /** Trigger rules are waiting to be evaluated. */
  get pending(): boolean {
    return this.#toEvaluate.length > 0;
  }

  /**
   * After a restore wrote stored states into the instances: counters for the expanded map tasks
   * and every finished instance, and which rules have decided already.
   */
  restored(mappedCounts: ReadonlyMap<number, number>): void {
    for (const [index, count] of mappedCounts) this.#addUpstreamInstances(index, count - 1);
    for (const task of this.#flow.tasks) {
      if (task.kind === 'subtask') continue;
      const primary = this.#table.primaryOf(task.index);
      if (this.#table.isMapped(task.index) || (primary !== undefined && primary.state !== 'none')) this.#decided[task.index] = 1;
      for (const instance of this.#table.instancesOf(task)) {
        if (finishedStates.has(instance.state)) this.#recount(instance, instance.state);
      }
    }
  }

  /** Moves the instance's contribution to its downstream counters: subscribed to the change bus. */
  readonly onTransition = (instance: TaskInstance, previousState: TaskInstanceState, state: TaskInstanceState): void => {
    const finished = isFinished(state);
    if (isFinished(previousState) !== finished || (finished && previousState !== state)) {
      this.#recount(instance, finished ? state : undefined);
    }
  };

  /** Evaluates every trigger rule whose counters changed; returns whether there were any. */
  evaluatePending(): boolean {
    if (this.#toEvaluate.length === 0) return false;
    while (this.#toEvaluate.length > 0) {
      const batch = this.#toEvaluate;
      this.#toEvaluate = [];
      for (const index of batch) this.#evaluate(index);
    }
    return true;
  }

  /** A DAG task set by hand: its rule has decided. */
  decided(task: TaskDefinition): void {
    if (task.index >= 0) this.#decided[task.index] = 1;
  }

  /**
   * An instance cleared back to `none`: a mapped or called one is ready again, a DAG task's rule
   * decides anew, and one of a task that left the flow definition is removed again (it cannot run).
   */
  reconsider(instance: TaskInstance): void {
    if (instance.task.index < 0) {
      this.#lifecycle.apply(instance, { type: 'REMOVE' });
      return;
    }
    if (instance.isChild || instance.mapIndex !== undefined) {
      this.#admission.enqueueReady(instance);
      return;
    }
    this.#decided[instance.task.index] = 0;
    this.#toEvaluate.push(instance.task.index);
  }

  /** The task's result as its downstream tasks see it: a mapped task's is the list of its instances'. */
  resultOf(task: TaskDefinition): unknown {
    if (this.#table.isMapped(task.index)) return this.#table.instancesOf(task).map(successResult);
    if (task.kind === 'map') return [];
    const primary = this.#table.primaryOf(task.index);
    return primary === undefined ? undefined : successResult(primary);
  }

  /** The `upstream` argument of the task's attempts. */
  upstreamValues(task: TaskDefinition): Readonly<Record<string, unknown>> {
    const { up, upStart } = this.#graph;
    if (task.index < 0 || upStart[task.index] === upStart[task.index + 1]) return NO_UPSTREAM;
    // A null-prototype object (like Object.groupBy's results), which V8 keeps in dictionary mode:
    // every task has its own set of upstream ids, and a plain object would make V8 create hidden
    // classes for each task's ids (270 bytes per task of old-space garbage); giving the dictionary
    // Object.prototype back would still cost a hidden class per object.
    const upstream: Record<string, unknown> = Object.create(null);
    for (let k = upStart[task.index]!; k < upStart[task.index + 1]!; k++) {
      const upstreamTask = this.#flow.tasks[up[k]!]!;
      upstream[upstreamTask.id] = this.resultOf(upstreamTask);
    }
    return upstream;
  }

  /**
   * Where the stored values of the task's `upstream` argument are, one ref per upstream task in the
   * order of {@link upstreamValues} (for a mapped task the list's task first): what a job for a
   * worker carries instead of the values. Mirrors `upstreamValues` / `resultOf` / `successResult`.
   */
  upstreamRefs(task: TaskDefinition): UpstreamRef[] {
    const { up, upStart } = this.#graph;
    if (task.index < 0) return [];
    const refs: UpstreamRef[] = [];
    for (let k = upStart[task.index]!; k < upStart[task.index + 1]!; k++) refs.push(this.#refOf(this.#flow.tasks[up[k]!]!));
    return refs;
  }

  #refOf(task: TaskDefinition): UpstreamRef {
    if (this.#table.isMapped(task.index)) {
      const instances = this.#table.instancesOf(task);
      const attempts = new Array<number>(instances.length);
      let uniform = true;
      let keyed = true;
      for (let i = 0; i < instances.length; i++) {
        attempts[i] = recordAttemptOf(instances[i]!);
        if (attempts[i] !== attempts[0]) uniform = false;
        if (keyed && instances[i]!.key !== `${task.id}[${i}]`) keyed = false;
      }
      return {
        id: task.id,
        count: instances.length,
        attempts: uniform ? (attempts[0] ?? 0) : attempts,
        ...(keyed ? {} : { keys: instances.map((instance) => instance.key) }),
      };
    }
    if (task.kind === 'map') return { id: task.id, count: 0, attempts: 0 };
    const primary = this.#table.primaryOf(task.index);
    const attempt = primary === undefined ? 0 : recordAttemptOf(primary);
    return attempt === 0 ? { id: task.id } : { id: task.id, key: primary!.key, attempt };
  }

  /** Whether a leaf task (no downstream) has an instance in a failed state: the run then fails. */
  anyLeafFailed(): boolean {
    for (const task of this.#flow.tasks) {
      if (task.kind === 'subtask' || this.#graph.downstreamCount(task.index) > 0) continue;
      for (const instance of this.#table.instancesOf(task)) if (failedStates.has(instance.state)) return true;
    }
    return false;
  }

  /** The tasks downstream of a task, transitively, in depth-first order (each once). */
  /** Every task reachable from `task` going downstream (or upstream), `task` itself excluded. */
  closureOf(task: TaskDefinition, direction: 'downstream' | 'upstream'): TaskDefinition[] {
    const next = (index: number) => (direction === 'downstream' ? this.#graph.downstreamOf(index) : this.#graph.upstreamOf(index));
    const stack = [...next(task.index)];
    const seen = new Set<number>();
    const out: TaskDefinition[] = [];
    while (stack.length > 0) {
      const index = stack.pop()!;
      if (seen.has(index)) continue;
      seen.add(index);
      out.push(this.#flow.tasks[index]!);
      stack.push(...next(index));
    }
    return out;
  }

  downstreamClosure(task: TaskDefinition, follow: (downstream: TaskDefinition) => boolean): void {
    const stack = [...this.#graph.downstreamOf(task.index)];
    const seen = new Set<number>();
    while (stack.length > 0) {
      const index = stack.pop()!;
      if (seen.has(index)) continue;
      seen.add(index);
      const downstream = this.#flow.tasks[index]!;
      if (follow(downstream)) stack.push(...this.#graph.downstreamOf(index));
    }
  }

  #evaluate(index: number): void {
    if (this.#decided[index] === 1) return;
    const task = this.#flow.tasks[index]!;
    const instance = this.#table.primaryOf(index);
    if (instance === undefined || instance.state !== 'none') return;
    const counts = this.#counts.at(index);
    this.evaluations++;
    const decision = counts === undefined ? 'run' : evaluateTriggerRule(task.trigger, counts);
    if (decision === 'wait') return;
    this.#decided[index] = 1;
    if (decision === 'skipped') this.#lifecycle.apply(instance, { type: 'SKIP' });
    else if (decision === 'upstream_failed') this.#lifecycle.apply(instance, { type: 'UPSTREAM_FAILED' });
    else if (task.kind === 'map') this.#expand(task, instance);
    else this.#admission.enqueueReady(instance);
  }

  /** A map task whose rule passed: one instance per item of its list, replacing the placeholder. */
  #expand(task: TaskDefinition, placeholder: TaskInstance): void {
    const over = this.#flow.tasks[task.mapOver]!;
    const overInstances = this.#table.instancesOf(over);
    const succeeded = overInstances.length > 0 && overInstances.every((i) => i.state === 'success');
    const list = succeeded ? this.resultOf(over) : undefined;
    if (!Array.isArray(list)) {
      placeholder.startFailure = new FailTask(
        succeeded
          ? `cannot map '${task.id}' over '${over.id}': its result is not a list (got ${typeof list})`
          : `cannot map '${task.id}' over '${over.id}': it did not succeed, so there is no list to map over`,
      );
      this.#admission.enqueueReady(placeholder);
      return;
    }
    if (list.length === 0) {
      this.#lifecycle.apply(placeholder, { type: 'SKIP' });
      return;
    }
    this.#recorder.remove(placeholder);
    const instances = list.map((item, mapIndex) => this.#table.make({ key: `${task.id}[${mapIndex}]`, task, mapIndex, item }));
    this.#table.setMapped(task.index, instances);
    this.#addUpstreamInstances(task.index, instances.length - 1);
    for (const instance of instances) {
      // Stored now, in the batch that deletes the placeholder: a crash must not lose the
      // instances that were not scheduled yet.
      this.#recorder.touch(instance);
      this.#admission.enqueueReady(instance);
    }
  }

  /** A mapped task expanded to `extra` more instances than its placeholder: its downstream tasks wait for all. */
  #addUpstreamInstances(index: number, extra: number): void {
    const { down, downStart } = this.#graph;
    for (let k = downStart[index]!; k < downStart[index + 1]!; k++) this.#counts.at(down[k]!)!.total += extra;
  }

  #recount(instance: TaskInstance, finishedAs: TaskInstanceState | undefined): void {
    if (instance.isChild) return;
    const task = instance.task;
    const { down, downStart } = this.#graph;
    if (task.index < 0 || downStart[task.index] === downStart[task.index + 1]) {
      instance.countedAs = finishedAs;
      return;
    }
    const previous = instance.countedAs;
    instance.countedAs = finishedAs;
    for (let k = downStart[task.index]!; k < downStart[task.index + 1]!; k++) {
      const index = down[k]!;
      const counts = this.#counts.at(index)!;
      if (previous !== undefined) countUpstreamOutcome(counts, previous, task.setup, -1);
      if (finishedAs !== undefined) countUpstreamOutcome(counts, finishedAs, task.setup, 1);
      if (this.#decided[index] === 0) this.#toEvaluate.push(index);
    }
  }
}

/**
 * What downstream tasks see of an instance: its result only while it is `success` (an instance set
 * to `failed` or `skipped` by hand after it succeeded keeps its result object, but hands nothing
 * on), as its record shows it and as `upstream`'s type says.
 */
function successResult(instance: TaskInstance): unknown {
  return instance.state === 'success' ? instance.result : undefined;
}

/** The attempt of the result record holding what {@link successResult} gives; 0 for `undefined`. */
function recordAttemptOf(instance: TaskInstance): number {
  return instance.state === 'success' && instance.result !== undefined ? instance.resultRecordAttempt() : 0;
}
