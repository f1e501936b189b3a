import { createActor, fromCallback, type AnyActorRef } from 'xstate';
import type { Decorator, DecoratorEvent } from '../decorators/types.ts';
import { toError } from '../errors.ts';
import type { Flow } from '../flow/types.ts';
import type { Clock } from './clock.ts';
import type { TaskInstanceChange } from './records.ts';

/**
 * The decorator actors of one run: for each decorated task, one XState actor per decorator in the
 * run's actor system (`runActor.system.get('decorator:<taskId>:<name>:<position>')`), fed every
 * transition of the task's instances. A decorator with `onTransition` reacts to them, owns its
 * state (`scope.local`, e.g. timers) and may send events back. The hooks that decide an attempt's
 * outcome are called by the runtime itself, in their fixed order.
 */
export class DecoratorActors {
  readonly #flow: Flow;
  readonly #runActor: AnyActorRef;
  readonly #clock: Clock;
  readonly #log: (line: string) => void;
  readonly #onEvent: (decorator: Decorator<any>, event: DecoratorEvent) => void;
  readonly #actors = new Map<number, AnyActorRef[]>();
  readonly #scopes: Array<{ local: Map<string, unknown> }> = [];

  constructor(options: {
    flow: Flow;
    runActor: AnyActorRef;
    clock: Clock;
    log: (line: string) => void;
    onEvent: (decorator: Decorator<any>, event: DecoratorEvent) => void;
  }) {
    this.#flow = options.flow;
    this.#runActor = options.runActor;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#onEvent = options.onEvent;
  }

  /** Hands a transition of an instance of task `index` to that task's decorator actors. */
  deliver(index: number, change: TaskInstanceChange): void {
    for (const actor of this.#actorsFor(index)) actor.send({ type: 'transition', change });
  }

  /** At the end of a run: pending timers are cleared (the actors stay, for a reopened run). */
  quiesce(): void {
    for (const scope of this.#scopes) {
      for (const handle of scope.local.values()) this.#clock.clearTimeout(handle);
      scope.local.clear();
    }
  }

  #actorsFor(index: number): AnyActorRef[] {
    let actors = this.#actors.get(index);
    if (actors !== undefined) return actors;
    const task = this.#flow.tasks[index]!;
    actors = task.decorators.map((decorator, position) => {
      const scope = {
        clock: this.#clock,
        send: (event: DecoratorEvent) => this.#onEvent(decorator, event),
        local: new Map<string, unknown>(),
      };
      this.#scopes.push(scope);
      const onTransition = decorator.definition.hooks.onTransition;
      const logic = fromCallback<{ type: 'transition'; change: TaskInstanceChange }>(({ receive }) => {
        receive((event) => {
          if (onTransition === undefined) return;
          try {
            onTransition(event.change, scope, decorator.params);
          } catch (error) {
            this.#log(`taskmachine: decorator '${decorator.name}' onTransition threw: ${toError(error).stack}`);
          }
        });
      });
      const systemId = `decorator:${task.id}:${decorator.name}:${position}`;
      return createActor(logic, { parent: this.#runActor, id: systemId, systemId }).start();
    });
    this.#actors.set(index, actors);
    return actors;
  }
}
