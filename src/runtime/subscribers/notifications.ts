import { emitTaskInstanceHooks } from '../../listeners/taskInstanceHooks.ts';
import type { ListenerDispatcher } from '../../listeners/dispatch.ts';
import type { TaskInstanceChange } from '../../records.ts';
import type { ChangeBus } from '../lifecycle/changeBus.ts';

/** Observer of every task-instance change in a run (`handle.subscribe`). */
export type ChangeObserver = (change: TaskInstanceChange) => void;

/**
 * Tells the outside world about transitions: `handle.subscribe` observers (called synchronously,
 * each in a try/catch) and the run's listeners (their hooks queued per listener). Subscribes to
 * the change bus only while there is someone to tell, so a run without observers or listeners
 * never builds a public change record.
 */
export class Notifications {
  readonly #bus: ChangeBus;
  readonly #dispatcher: ListenerDispatcher | undefined;
  readonly #log: (line: string) => void;
  #observers: ChangeObserver[] = [];
  #unsubscribe: (() => void) | undefined;

  constructor(bus: ChangeBus, dispatcher: ListenerDispatcher | undefined, log: (line: string) => void) {
    this.#bus = bus;
    this.#dispatcher = dispatcher;
    this.#log = log;
    if (dispatcher !== undefined) this.#unsubscribe = bus.subscribe(this.#onTransition);
  }

  subscribe(observer: ChangeObserver): () => void {
    this.#observers = [...this.#observers, observer];
    this.#unsubscribe ??= this.#bus.subscribe(this.#onTransition);
    return () => {
      this.#observers = this.#observers.filter((o) => o !== observer);
      if (this.#observers.length === 0 && this.#dispatcher === undefined) {
        this.#unsubscribe?.();
        this.#unsubscribe = undefined;
      }
    };
  }

  readonly #onTransition = (): void => {
    const change = this.#bus.currentChange();
    for (const observer of this.#observers) {
      try {
        observer(change);
      } catch (error) {
        this.#log(`taskmachine: a run observer threw: ${error instanceof Error ? error.stack : String(error)}`);
      }
    }
    if (this.#dispatcher !== undefined) emitTaskInstanceHooks(this.#dispatcher, change);
  };
}
