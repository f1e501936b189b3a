import { createActor, type Actor } from 'xstate';
import {
  taskInstanceMachine,
  type TaskInstanceEvent,
  type TaskInstanceMachine,
  type TaskInstanceState,
} from '../../../machines/index.ts';
import type { Clock } from '../../clock.ts';
import type { TaskInstance } from '../instances/taskInstance.ts';
import { applyEvent } from './applyEvent.ts';
import { actorInput } from './events.ts';
import { isFinished } from './stateFlags.ts';
import type { ChangeBus, TransitionDetail } from './changeBus.ts';
import { taskInstanceLogic } from './memoizedMachine.ts';

/**
 * The only place lifecycle events are applied to task instances. Every change goes through the
 * task-instance machine (an illegal event throws `IllegalTransitionError` and changes nothing),
 * and every transition is published on the run's {@link ChangeBus}. Questions about what the
 * machine would do ("is this legal here?", "would this failure be retried?") are asked here too,
 * so no rule of the lifecycle is written anywhere else.
 *
 * An unfinished instance owns a task-instance actor (made when it first moves, or rebuilt from its
 * stored state and context); a finished one keeps only its record, and its actor is stopped.
 */
export class Lifecycle {
  readonly #bus: ChangeBus;
  readonly #clock: Clock;
  /** Task-instance actors created so far. */
  actorsCreated = 0;

  constructor(bus: ChangeBus, clock: Clock) {
    this.#bus = bus;
    this.#clock = clock;
  }

  /** Applies `event` to the instance and publishes the transition; returns the new state. */
  apply(instance: TaskInstance, event: TaskInstanceEvent, detail?: TransitionDetail): TaskInstanceState {
    const actor = instance.actor ?? this.#materialize(instance);
    // (applyEvent's check, inline: this runs several times per task instance.) An illegal event:
    // applyEvent builds the error, naming the legal events, and throws it.
    if (!taskInstanceLogic.can(actor.getSnapshot(), event)) applyEvent(actor, event, `task instance '${instance.key}'`, taskInstanceLogic.can);
    actor.send(event);
    const after = actor.getSnapshot();
    const previousState = instance.state;
    const state = after.value;
    instance.state = state;
    // The machine's own context object: immutable, and shared by every instance in the same
    // configuration (the memoized machine computes each one once).
    instance.context = after.context;
    if (isFinished(state)) {
      instance.endedAt = this.#clock.now();
      this.release(instance);
    }
    this.#bus.publish(instance, previousState, state, event, detail);
    return state;
  }

  /** Whether the machine accepts `event` in the instance's state (guards evaluated). */
  can(instance: TaskInstance, event: TaskInstanceEvent): boolean {
    const actor = instance.actor ?? this.#materialize(instance);
    return taskInstanceLogic.can(actor.getSnapshot(), event);
  }

  /** Throws the machine's `IllegalTransitionError` when `event` is not legal; changes nothing. */
  assertLegal(instance: TaskInstance, event: TaskInstanceEvent): void {
    const actor = instance.actor ?? this.#materialize(instance);
    if (taskInstanceLogic.can(actor.getSnapshot(), event)) return;
    // applyEvent builds the error (it names the legal events); it throws here.
    applyEvent(actor, event, `task instance '${instance.key}'`);
  }

  /** The state `event` would lead to, without applying it; `undefined` when it is not legal. */
  wouldLeadTo(instance: TaskInstance, event: TaskInstanceEvent): TaskInstanceState | undefined {
    const actor = instance.actor ?? this.#materialize(instance);
    const snapshot = actor.getSnapshot();
    if (!taskInstanceLogic.can(snapshot, event)) return undefined;
    const [transition] = taskInstanceMachine.getTransitionData(snapshot, event);
    const target = transition?.target?.[0];
    return target === undefined ? instance.state : (target.key as TaskInstanceState);
  }

  /** Stops the instance's actor (it is rebuilt from its record if the instance moves again). */
  release(instance: TaskInstance): void {
    if (instance.actor === undefined) return;
    instance.actor.stop();
    instance.actor = undefined;
  }

  #materialize(instance: TaskInstance): Actor<TaskInstanceMachine> {
    const context = instance.context;
    const fresh = instance.state === 'none' && context.attempt === 0 && context.manuallySetFrom === null;
    const actor = fresh
      ? createActor(taskInstanceLogic, { input: actorInput(instance.task.retries, context.maxInterruptions) })
      : createActor(taskInstanceLogic, {
          snapshot: taskInstanceMachine.resolveState({ value: instance.state, context: { ...context } }),
        });
    actor.start();
    this.actorsCreated++;
    instance.actor = actor;
    return actor;
  }
}
