import { allTaskInstanceStates, type TaskInstanceState } from '../../../machines/index.ts';
import { isFinished, stateIndex } from '../lifecycle/stateFlags.ts';
import type { Flow, TaskDefinition } from '../../flow/types.ts';
import { TaskInstance } from './taskInstance.ts';

/**
 * Every task instance of a run, by key, and how many are in each state. A DAG task has one
 * instance until it is mapped (then one per item, keyed `id[i]`); instances called with
 * `ctx().call` are keyed `parent/id#n`. The counters follow every transition (the table subscribes
 * to the change bus), so `stats()`, `status` and the end-of-run check never walk the instances.
 */
export class InstanceTable {
  readonly #byKey = new Map<string, TaskInstance>();
  /** The single instance of each DAG task (for a mapped task: its placeholder until expanded). */
  readonly #primary: (TaskInstance | undefined)[];
  /** Instances of expanded map tasks, in map-index order. */
  readonly #mapped = new Map<number, TaskInstance[]>();
  readonly #counts = new Int32Array(allTaskInstanceStates.length);
  readonly #maxInterruptions: number;
  #unfinished = 0;

  /**
   * Makes the instance of every DAG task (not of subtasks: they exist only when called).
   * @param maxInterruptions the run's default for tasks that set none.
   */
  constructor(flow: Flow, maxInterruptions: number) {
    this.#maxInterruptions = maxInterruptions;
    this.#primary = new Array(flow.tasks.length);
    for (const task of flow.tasks) {
      if (task.kind === 'subtask') continue;
      // (As make() does, without an options object per task.)
      const instance = new TaskInstance({ key: task.id, task, maxInterruptions: task.maxInterruptions ?? maxInterruptions });
      this.#primary[task.index] = instance;
      this.add(instance);
    }
  }

  /** A new instance (not added yet), with the run's interruption bound unless its task has one. */
  make(init: Omit<ConstructorParameters<typeof TaskInstance>[0], 'maxInterruptions'>): TaskInstance {
    return new TaskInstance({ ...init, maxInterruptions: init.task.maxInterruptions ?? this.#maxInterruptions });
  }

  /** Task instances not in a finished state. */
  get unfinished(): number {
    return this.#unfinished;
  }

  get(key: string): TaskInstance | undefined {
    return this.#byKey.get(key);
  }

  values(): IterableIterator<TaskInstance> {
    return this.#byKey.values();
  }

  keys(): IterableIterator<string> {
    return this.#byKey.keys();
  }

  /** The DAG task's own instance (a map task's placeholder), if it has one. */
  primaryOf(index: number): TaskInstance | undefined {
    return this.#primary[index];
  }

  /** The instances of a DAG task: its mapped instances once expanded, else its own. */
  instancesOf(task: TaskDefinition): readonly TaskInstance[] {
    const mapped = this.#mapped.get(task.index);
    if (mapped !== undefined) return mapped;
    const primary = this.#primary[task.index];
    return primary === undefined ? [] : [primary];
  }

  /** Whether the map task has been expanded into its instances. */
  isMapped(index: number): boolean {
    return this.#mapped.has(index);
  }

  /** Adds an instance (counted in its current state). */
  add(instance: TaskInstance): void {
    this.#byKey.set(instance.key, instance);
    this.#count(instance.state, 1);
  }

  /** Removes an instance (a map placeholder once its task is expanded). */
  delete(instance: TaskInstance): void {
    if (this.#byKey.get(instance.key) !== instance) return;
    this.#byKey.delete(instance.key);
    this.#count(instance.state, -1);
  }

  /** Replaces a map task's placeholder by its mapped instances (sorted by map index). */
  setMapped(index: number, instances: TaskInstance[]): void {
    const placeholder = this.#primary[index];
    if (placeholder !== undefined) this.delete(placeholder);
    this.#mapped.set(index, instances);
    for (const instance of instances) if (this.#byKey.get(instance.key) !== instance) this.add(instance);
  }

  /** Keeps the counters right: subscribed to the change bus. */
  readonly onTransition = (_instance: TaskInstance, previousState: TaskInstanceState, state: TaskInstanceState): void => {
    if (previousState === state) return;
    this.#count(previousState, -1);
    this.#count(state, 1);
  };

  /** Task instances per state (states with none are left out). */
  stateCounts(): Partial<Record<TaskInstanceState, number>> {
    const counts: Partial<Record<TaskInstanceState, number>> = {};
    allTaskInstanceStates.forEach((state, index) => {
      if (this.#counts[index]! > 0) counts[state] = this.#counts[index]!;
    });
    return counts;
  }

  /** Counts again from scratch (after a restore wrote states directly into the records). */
  recount(): void {
    this.#counts.fill(0);
    this.#unfinished = 0;
    for (const instance of this.#byKey.values()) this.#count(instance.state, 1);
  }

  #count(state: TaskInstanceState, by: number): void {
    this.#counts[stateIndex(state)]! += by;
    if (!isFinished(state)) this.#unfinished += by;
  }
}
