import { createActor, enqueueActions, fromCallback, setup, type Actor, type AnyActorLogic, type AnyActorRef } from 'xstate';
import type { Decorator, DecoratorActorScope, DecoratorEvent } from '../../decorators/types.ts';
import { toError } from '../../errors.ts';
import type { Flow } from '../../flow/types.ts';
import type { Clock } from '../../clock.ts';
import type { ChangeBus } from '../lifecycle/changeBus.ts';
import type { TaskInstance } from '../instances/taskInstance.ts';

/** The system id of the runtime's supervisor of decorator actors (and the inbox of their requests). */
export const RUNTIME_SUPERVISOR = 'taskmachine.runtime';

type SupervisorEvent =
  | { readonly type: 'spawn'; readonly logic: AnyActorLogic; readonly id: string }
  | { readonly type: 'stopAll' }
  | { readonly type: 'decorator.request'; readonly decorator: Decorator<any>; readonly request: DecoratorEvent };

/**
 * The supervisor: a small machine in the run's actor system (a child of the flow-run actor) whose
 * children are the decorator actors. It spawns them, stops them all at the end of the run, and
 * receives their requests (`sendBack`) for the runtime.
 */
function supervisorMachine(onRequest: (decorator: Decorator<any>, request: DecoratorEvent) => void) {
  return setup({ types: { events: {} as SupervisorEvent } }).createMachine({
    id: 'decoratorSupervisor',
    on: {
      spawn: {
        actions: enqueueActions(({ enqueue, event }) => {
          // Inline logic registered under its system id (the machine declares no actors of its own).
          const spawn = enqueue.spawnChild as unknown as (logic: AnyActorLogic, options: { id: string; systemId: string }) => void;
          spawn(event.logic, { id: event.id, systemId: event.id });
        }),
      },
      stopAll: {
        actions: enqueueActions(({ enqueue, self }) => {
          for (const child of Object.values(self.getSnapshot().children)) enqueue.stopChild(child as AnyActorRef);
        }),
      },
      'decorator.request': { actions: ({ event }) => onRequest(event.decorator, event.request) },
    },
  });
}

/**
 * The decorator actors of one run. Every decorator with an `onTransition` hook runs, for each task
 * it decorates, as an XState actor in the run's actor system
 * (`system.get('decorator:<taskId>:<name>:<position>')`): it subscribes itself to the change bus
 * for that task's instances, keeps its own state (`scope.local`, its timers), and sends its
 * requests (e.g. `ABORT_ATTEMPT`) to its parent, the runtime's supervisor actor. Actors are spawned
 * at their task's first transition and stopped by the supervisor when the run ends or lets go
 * (which ends their subscriptions and clears their timers); a reopened run spawns them again.
 */
export class DecoratorActors {
  readonly #flow: Flow;
  readonly #bus: ChangeBus;
  readonly #clock: Clock;
  readonly #log: (line: string) => void;
  readonly #onRequest: (decorator: Decorator<any>, request: DecoratorEvent) => void;
  readonly #hasActors: Uint8Array;
  #spawned: Uint8Array;
  #supervisor: Actor<ReturnType<typeof supervisorMachine>> | undefined;
  #alive = 0;

  constructor(options: {
    flow: Flow;
    bus: ChangeBus;
    clock: Clock;
    log: (line: string) => void;
    onRequest: (decorator: Decorator<any>, request: DecoratorEvent) => void;
  }) {
    this.#flow = options.flow;
    this.#bus = options.bus;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#onRequest = options.onRequest;
    this.#hasActors = new Uint8Array(options.flow.tasks.length);
    for (const task of options.flow.tasks) {
      if (task.decorators.length > 0 && task.decorators.some((d) => d.definition.hooks.onTransition !== undefined)) this.#hasActors[task.index] = 1;
    }
    this.#spawned = new Uint8Array(options.flow.tasks.length);
  }

  /** Whether any task of the flow has a decorator actor. */
  get any(): boolean {
    return this.#hasActors.includes(1);
  }

  /** Decorator actors alive now. */
  get alive(): number {
    return this.#alive;
  }

  /**
   * Subscribed to the change bus (ahead of the per-task subscriptions): spawns a task's actors at
   * its first transition, so they receive that transition themselves.
   */
  spawnFor(instance: TaskInstance, runActor: AnyActorRef): void {
    const index = instance.task.index;
    if (index < 0 || this.#hasActors[index] !== 1 || this.#spawned[index] === 1) return;
    this.#spawned[index] = 1;
    const supervisor = (this.#supervisor ??= createActor(supervisorMachine(this.#onRequest), {
      parent: runActor,
      id: RUNTIME_SUPERVISOR,
      systemId: RUNTIME_SUPERVISOR,
    }).start());
    const task = this.#flow.tasks[index]!;
    task.decorators.forEach((decorator, position) => {
      if (decorator.definition.hooks.onTransition === undefined) return;
      supervisor.send({ type: 'spawn', logic: this.#actorLogic(index, decorator), id: `decorator:${task.id}:${decorator.name}:${position}` });
    });
  }

  /** Stops every decorator actor (the run ended or let go); they are spawned again if needed. */
  stopAll(): void {
    this.#supervisor?.send({ type: 'stopAll' });
    this.#supervisor = undefined;
    this.#spawned = new Uint8Array(this.#flow.tasks.length);
  }

  /** One decorator's actor: subscribes to its task's transitions while it lives. */
  #actorLogic(index: number, decorator: Decorator<any>): AnyActorLogic {
    const onTransition = decorator.definition.hooks.onTransition!;
    const bus = this.#bus;
    const baseClock = this.#clock;
    const log = this.#log;
    return fromCallback(({ sendBack }) => {
      this.#alive++;
      const timers = new Set<unknown>();
      const scope: DecoratorActorScope = {
        clock: {
          now: () => baseClock.now(),
          setTimeout(fn, ms) {
            const handle: unknown = baseClock.setTimeout(() => {
              timers.delete(handle);
              fn();
            }, ms);
            timers.add(handle);
            return handle;
          },
          clearTimeout(handle) {
            timers.delete(handle);
            baseClock.clearTimeout(handle);
          },
        },
        send: (request: DecoratorEvent) => sendBack({ type: 'decorator.request', decorator, request } satisfies SupervisorEvent),
        local: new Map<string, unknown>(),
      };
      const unsubscribe = bus.subscribeTask(index, () => {
        try {
          onTransition(bus.currentChange(), scope, decorator.params);
        } catch (error) {
          log(`taskmachine: decorator '${decorator.name}' onTransition threw: ${toError(error).stack}`);
        }
      });
      return () => {
        this.#alive--;
        unsubscribe();
        for (const handle of timers) baseClock.clearTimeout(handle);
        timers.clear();
      };
    });
  }
}
