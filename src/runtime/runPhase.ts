import { createActor, type Actor } from 'xstate';
import {
  flowRunMachine,
  flowRunPhaseOf,
  flowRunStateOf,
  type FlowRunEvent,
  type FlowRunFailureReason,
  type FlowRunMachine,
  type FlowRunPhase,
  type FlowRunSnapshot,
  type FlowRunState,
} from '../../machines/index.ts';
import { applyEvent } from './lifecycle/applyEvent.ts';

/**
 * The run's phase, kept by the flow-run actor: every change of it (start, pause for inspection,
 * cancel, shutdown, letting go, finish, rerun) is an event of the flow-run machine, and an event
 * the machine does not accept throws `IllegalTransitionError` and changes nothing. A stored run's
 * actor is restored from its stored state, so reopening a finished run goes through `RERUN`.
 *
 * The actor is the root of the run's actor system (the decorator actors live in it). When the run
 * ends or lets go it is stopped, and everything in its system with it; a run that gets work again
 * after its end continues on a new actor restored from the last snapshot.
 */
export class RunPhase {
  #actor: Actor<FlowRunMachine>;
  #stopped = false;
  readonly #onStop: () => void;

  /**
   * @param stored the stored run's state and failure reason (a new run starts `queued`).
   * @param onStop called when the actor is about to stop: children it does not own stop now.
   */
  constructor(stored: { state: FlowRunState; reason: FlowRunFailureReason | null } | undefined, onStop: () => void) {
    this.#onStop = onStop;
    this.#actor =
      stored === undefined
        ? createActor(flowRunMachine).start()
        : restoredActor(stored.state === 'running' ? { running: 'active' } : stored.state, { reason: stored.reason, manuallySetFrom: null });
  }

  /** The flow-run actor: the root of the run's actor system (restarted if it was stopped). */
  get actor(): Actor<FlowRunMachine> {
    if (this.#stopped) {
      const { value, context } = this.#actor.getSnapshot();
      this.#actor = restoredActor(value, context);
      this.#stopped = false;
    }
    return this.#actor;
  }

  get snapshot(): FlowRunSnapshot {
    return this.#actor.getSnapshot();
  }

  /** The stored state: queued, running, success or failed. */
  get state(): FlowRunState {
    return flowRunStateOf(this.#actor.getSnapshot());
  }

  /** What the process does with a running run; `undefined` when it is not running. */
  get phase(): FlowRunPhase | undefined {
    return flowRunPhaseOf(this.#actor.getSnapshot());
  }

  get reason(): FlowRunFailureReason | null {
    return this.#actor.getSnapshot().context.reason;
  }

  /** Success or failed. */
  get finished(): boolean {
    return this.#actor.getSnapshot().hasTag('finished');
  }

  /** Scheduling and running task instances (running, active). */
  get active(): boolean {
    return this.phase === 'active';
  }

  /** Whether the machine accepts `event` now. */
  can(event: FlowRunEvent): boolean {
    return this.#actor.getSnapshot().can(event);
  }

  /** Applies a phase event; throws `IllegalTransitionError` (changing nothing) when it is not legal. */
  send(event: FlowRunEvent): void {
    applyEvent(this.actor, event, 'flow run');
  }

  /** Stops the actor and its children (the run ended or let go); the snapshot stays readable. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#onStop();
    this.#actor.stop();
  }
}

function restoredActor(value: FlowRunSnapshot['value'], context: FlowRunSnapshot['context']): Actor<FlowRunMachine> {
  return createActor(flowRunMachine, { snapshot: flowRunMachine.resolveState({ value, context }) }).start();
}
