import { createActor, fromCallback, type AnyActorRef } from 'xstate';
import type { Decorator, DecoratorActorScope, DecoratorEvent } from '../../decorators/types.ts';
import { toError } from '../../errors.ts';
import type { Flow } from '../../flow/types.ts';
import type { Clock } from '../clock.ts';
import type { ChangeBus } from '../lifecycle/changeBus.ts';
import type { TaskInstance } from '../instances/taskInstance.ts';

/** The system id of the actor that receives decorator actors' requests for the runtime. */
export const RUNTIME_INBOX = 'taskmachine.runtime';

interface InboxEvent {
  readonly type: 'decorator.request';
  readonly decorator: Decorator<any>;
  readonly request: DecoratorEvent;
}

/**
 * The decorator actors of one run. Every decorator with an `onTransition` hook runs, for each task
 * it decorates, as an XState actor in the run's actor system
 * (`system.get('decorator:<taskId>:<name>:<position>')`) that subscribes itself to the change bus
 * for that task's instances, keeps its own state (`scope.local`, its timers), and sends its
 * requests (e.g. `ABORT_ATTEMPT`) as events through the system to the runtime's inbox actor.
 * Actors are spawned at their task's first transition as children of the flow-run actor, and
 * stopped with it when the run ends or lets go (the actor system owns them: stopping ends their
 * subscriptions and clears their timers); a reopened run spawns them again.
 */
export class DecoratorActors {
  readonly #flow: Flow;
  readonly #bus: ChangeBus;
  readonly #clock: Clock;
  readonly #log: (line: string) => void;
  readonly #onRequest: (decorator: Decorator<any>, request: DecoratorEvent) => void;
  readonly #hasActors: Uint8Array;
  #spawned: Uint8Array;
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
      if (task.decorators.some((d) => d.definition.hooks.onTransition !== undefined)) this.#hasActors[task.index] = 1;
    }
    this.#spawned = new Uint8Array(options.flow.tasks.length);
  }

  /** Whether any task of the flow has a decorator actor. */
  get any(): boolean {
    return this.#hasActors.includes(1);
  }

  /**
   * Subscribed to the change bus (ahead of the task subscriptions): spawns a task's actors at its
   * first transition, so they receive that transition themselves.
   */
  readonly spawnFor = (instance: TaskInstance, runActor: AnyActorRef): void => {
    const index = instance.task.index;
    if (index < 0 || this.#hasActors[index] !== 1 || this.#spawned[index] === 1) return;
    this.#spawned[index] = 1;
    const system = runActor.system;
    if (system.get(RUNTIME_INBOX) === undefined) {
      const inbox = fromCallback<InboxEvent>(({ receive }) => {
        receive((event) => this.#onRequest(event.decorator, event.request));
      });
      createActor(inbox, { parent: runActor, id: RUNTIME_INBOX, systemId: RUNTIME_INBOX }).start();
    }
    const task = this.#flow.tasks[index]!;
    task.decorators.forEach((decorator, position) => {
      const onTransition = decorator.definition.hooks.onTransition;
      if (onTransition === undefined) return;
      const bus = this.#bus;
      const baseClock = this.#clock;
      const log = this.#log;
      const logic = fromCallback(({ system: actorSystem }) => {
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
          send: (request: DecoratorEvent) => {
            actorSystem.get(RUNTIME_INBOX)?.send({ type: 'decorator.request', decorator, request } satisfies InboxEvent);
          },
          local: new Map<string, unknown>(),
        };
        this.#alive++;
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
      const systemId = `decorator:${task.id}:${decorator.name}:${position}`;
      createActor(logic, { parent: runActor, id: systemId, systemId }).start();
    });
  };

  /** The flow-run actor stopped, and its children with it: a reopened run spawns them again. */
  stopped(): void {
    this.#spawned = new Uint8Array(this.#flow.tasks.length);
  }

  /** Decorator actors alive now. */
  get alive(): number {
    return this.#alive;
  }
}
