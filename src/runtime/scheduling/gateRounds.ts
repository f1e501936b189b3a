import { format } from 'node:util';
import { GateError, isRetryable, TaskError } from '../../errors.ts';
import type { Gate } from '../../gates/defineGate.ts';
import type { TaskInstance } from '../instances/taskInstance.ts';

const RESOLVED: Promise<void> = Promise.resolve();

/** How a round of readiness gates ended (reported once, unless the round was aborted). */
export interface GateRoundOutcome {
  /** Every gate resolved for `attempt` of the instance. */
  passed(instance: TaskInstance, attempt: number): void;
  /** A gate rejected: `error` keeps a task error's identity, wraps anything else in `GateError`. */
  failed(instance: TaskInstance, attempt: number, error: Error, retryable: boolean, gate: string): void;
}

/**
 * The run's readiness-gate rounds. A round starts when an instance is queued: every gate's
 * `prepare` runs concurrently, each in its own microtask (off the scheduler's turn, so a slow gate
 * never delays other tasks). The instance lists the gates still pending in `pendingGates`; the
 * first rejection aborts the others' signals. Aborting a round (a manual change, a cancelled run)
 * means no outcome is ever reported for it.
 */
export class GateRounds {
  readonly #gates: readonly Gate[];
  readonly #log: (line: string) => void;
  readonly #outcome: GateRoundOutcome;
  /** Rounds running now. */
  pending = 0;

  constructor(gates: readonly Gate[], log: (line: string) => void, outcome: GateRoundOutcome) {
    this.#gates = gates;
    this.#log = log;
    this.#outcome = outcome;
  }

  /** Whether the run has gates at all (without any, queued instances go straight to a slot). */
  get any(): boolean {
    return this.#gates.length > 0;
  }

  /** Names the gates the instance will wait on, before its `QUEUE` (so listeners see them). */
  announce(instance: TaskInstance): void {
    instance.pendingGates = this.#gates.map((gate) => gate.name);
  }

  /** Starts a round for the instance's current attempt. */
  start(instance: TaskInstance): void {
    const gates = this.#gates;
    const controller = new AbortController();
    const attempt = instance.context.attempt;
    this.pending++;
    instance.gateController = controller;
    instance.pendingGates = gates.map((gate) => gate.name);
    const record = instance.toRecord();
    const current = () => instance.gateController === controller;
    const end = () => {
      instance.gateController = undefined;
      instance.pendingGates = undefined;
      this.pending--;
    };
    let remaining = gates.length;
    for (const gate of gates) {
      const context = Object.freeze({
        signal: controller.signal,
        hints: instance.task.hints,
        log: (...parts: unknown[]) => this.#log(`[${instance.key}#${attempt} gate ${gate.name}] ${format(...parts)}`),
      });
      RESOLVED.then(() => gate.prepare(record, context)).then(
        () => {
          if (!current()) return;
          instance.pendingGates = instance.pendingGates?.filter((name) => name !== gate.name);
          if (--remaining > 0) return;
          end();
          this.#outcome.passed(instance, attempt);
        },
        (thrown: unknown) => {
          if (!current()) return;
          const error = thrown instanceof TaskError ? thrown : new GateError(gate.name, thrown);
          controller.abort(error);
          end();
          this.#outcome.failed(instance, attempt, error, isRetryable(thrown), gate.name);
        },
      );
    }
  }

  /** Aborts the instance's round, if one runs; no outcome is reported for it. */
  abort(instance: TaskInstance, reason: unknown): void {
    const controller = instance.gateController;
    if (controller === undefined) return;
    instance.gateController = undefined;
    instance.pendingGates = undefined;
    this.pending--;
    controller.abort(reason);
  }
}
