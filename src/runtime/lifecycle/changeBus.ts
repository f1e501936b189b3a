import type { TaskInstanceEvent, TaskInstanceState } from '../../../machines/index.ts';
import type { TaskInstanceChange } from '../../records.ts';
import type { Clock } from '../../clock.ts';
import type { TaskInstance } from '../instances/taskInstance.ts';
import { msgFor } from './transitionMsg.ts';

/** What a transition carries besides the event: the error of a failure, a checkpoint's data. */
export interface TransitionDetail {
  readonly error?: Error;
  readonly checkpointData?: unknown;
}

/**
 * A subscriber of the change bus: called once per task-instance transition, in transition order,
 * synchronously (while the instance is in its new state). Subscribers must not throw.
 */
export type TransitionSubscriber = (
  instance: TaskInstance,
  previousState: TaskInstanceState,
  state: TaskInstanceState,
  event: TaskInstanceEvent,
  detail: TransitionDetail | undefined,
) => void;

/**
 * The one stream of task-instance transitions of a run. The lifecycle publishes every transition
 * it applies; persistence, the instance table's counters, dependency tracking, child waiters,
 * decorator hooks and actors, listeners and `handle.subscribe` observers subscribe. Subscribers of
 * all tasks are called first (in subscription order), then those of the instance's task.
 *
 * Arguments are passed positionally (no object per transition): a run makes several transitions
 * per task. The public {@link TaskInstanceChange} is built only when a subscriber asks for it
 * ({@link currentChange}), once per transition however many ask.
 */
export class ChangeBus {
  /** Tells the time of a transition, read only when a public change record is built. */
  readonly #clock: Pick<Clock, 'now'>;
  #all: TransitionSubscriber[] = [];
  #byTask: Map<number, TransitionSubscriber[]> | undefined = undefined;
  #instance: TaskInstance | undefined;
  #previousState: TaskInstanceState = 'none';
  #state: TaskInstanceState = 'none';
  #depth = 0;
  #event: TaskInstanceEvent | undefined;
  #detail: TransitionDetail | undefined;
  #change: TaskInstanceChange | undefined;

  constructor(clock: Pick<Clock, 'now'>) {
    this.#clock = clock;
  }

  /** Subscribes to every transition; returns the unsubscribe function. */
  subscribe(subscriber: TransitionSubscriber): () => void {
    this.#all = [...this.#all, subscriber];
    return () => {
      this.#all = this.#all.filter((s) => s !== subscriber);
    };
  }

  /** Subscribes to the transitions of one task's instances (by task index). */
  subscribeTask(index: number, subscriber: TransitionSubscriber): () => void {
    const byTask = (this.#byTask ??= new Map<number, TransitionSubscriber[]>());
    byTask.set(index, [...(byTask.get(index) ?? []), subscriber]);
    return () => {
      const rest = (byTask.get(index) ?? []).filter((s) => s !== subscriber);
      if (rest.length > 0) byTask.set(index, rest);
      else byTask.delete(index);
    };
  }

  publish(
    instance: TaskInstance,
    previousState: TaskInstanceState,
    state: TaskInstanceState,
    event: TaskInstanceEvent,
    detail: TransitionDetail | undefined,
  ): void {
    // A subscriber may cause a transition of its own (an observer calling setState): the outer
    // transition's fields are saved for currentChange() and restored after the inner one.
    const saved = this.#depth++ > 0 ? ([this.#instance, this.#previousState, this.#state, this.#event, this.#detail, this.#change] as const) : undefined;
    this.#instance = instance;
    this.#previousState = previousState;
    this.#state = state;
    this.#event = event;
    this.#detail = detail;
    this.#change = undefined;
    try {
      // (Indexed loops: this runs for every transition, often before the optimizing compiler has
      // seen it, where an array iterator costs an object and a call per subscriber.) A subscriber
      // added or removed meanwhile replaces the array, so this one stays as it was.
      const all = this.#all;
      for (let i = 0; i < all.length; i++) all[i]!(instance, previousState, state, event, detail);
      const byTask = this.#byTask;
      if (byTask !== undefined) {
        const forTask = byTask.get(instance.task.index);
        if (forTask !== undefined) for (let i = 0; i < forTask.length; i++) forTask[i]!(instance, previousState, state, event, detail);
      }
    } finally {
      this.#depth--;
      if (saved !== undefined) [this.#instance, this.#previousState, this.#state, this.#event, this.#detail, this.#change] = saved;
      else {
        this.#instance = undefined;
        this.#event = undefined;
        this.#detail = undefined;
        this.#change = undefined;
      }
    }
  }

  /** The transition being published, as the public (frozen) change record. */
  currentChange(): TaskInstanceChange {
    if (this.#change !== undefined) return this.#change;
    const instance = this.#instance;
    const event = this.#event;
    if (instance === undefined || event === undefined) throw new Error('ChangeBus.currentChange() called outside a transition');
    const previousState = this.#previousState;
    const state = this.#state;
    const detail = this.#detail;
    this.#change = Object.freeze({
      previousState,
      state,
      event: event.type,
      msg: msgFor(event, previousState, state),
      // (Read here, while the transition is being published: its time, at no cost to runs nobody watches.)
      at: this.#clock.now(),
      taskInstance: instance.toRecord(),
      ...(detail?.error !== undefined ? { error: detail.error } : {}),
      ...(event.type === 'SET_STATE' && state === 'failed' ? { error: instance.error } : {}),
      ...(event.type === 'CHECKPOINT' ? { checkpointData: detail?.checkpointData ?? null } : {}),
    });
    return this.#change;
  }
}
