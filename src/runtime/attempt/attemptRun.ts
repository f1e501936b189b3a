import type { SystemContext } from '../../decorators/types.ts';
import type { TaskInstance } from '../instances/taskInstance.ts';

/**
 * One attempt in flight: its abort signal and what its decorators and context share. It ends once
 * (`settled`); an attempt a manual change abandoned is `discarded` and its outcome is never applied.
 */
export class AttemptRun {
  /** The attempt's result is known (returned, thrown, timed out, cancelled or abandoned). */
  settled = false;
  /** Set when a manual change abandoned the attempt: its outcome is never applied. */
  discarded = false;
  #published: Map<string, Map<string, unknown>> | undefined = undefined;
  /** The checkpoint read of this attempt (one store read per attempt at most). */
  checkpointLoad: Promise<unknown> | undefined = undefined;
  /** The system context decorator hooks of this attempt share. */
  sys: SystemContext | undefined = undefined;
  /** The timer of the task's `timeout` (owned by the wake-ups). */
  deadline: unknown = undefined;
  /** Calls of each task made with `ctx().call` in this attempt, for deterministic child keys. */
  callSeq: Map<string, number> | undefined;
  #controller: AbortController | undefined;
  #abortReason: unknown = undefined;
  readonly instance: TaskInstance;
  readonly attempt: number;

  constructor(instance: TaskInstance, attempt: number) {
    this.instance = instance;
    this.attempt = attempt;
  }

  /** Attempt-scoped values published by decorators (invisible to other attempts and instances). */
  get published(): Map<string, Map<string, unknown>> {
    // Made on first use: attempts of undecorated tasks never need one.
    return (this.#published ??= new Map());
  }

  /** The attempt's `ctx().signal` (made on first use: most attempts never read it). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /** Aborts the signal with `reason` (the first reason wins). */
  abort(reason: unknown): void {
    if (this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }
}
