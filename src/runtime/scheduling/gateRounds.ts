import { format } from 'node:util';
import { GateError, isRetryable, TaskError, toError } from '../../errors.ts';
import type { Gate } from '../../gates/defineGate.ts';
import type { TaskInstance } from '../instances/taskInstance.ts';
import type { Lifecycle } from '../lifecycle/lifecycle.ts';
import { retryDelayFor } from './retryTiming.ts';
import type { Wakeups } from './wakeups.ts';

const RESOLVED: Promise<void> = Promise.resolve();

/** What gate rounds need from the run. */
export interface GateRoundsHost {
  /** Every gate passed: the instance may take a slot. */
  admit(instance: TaskInstance): void;
  requestTurn(): void;
}

/**
 * The run's readiness-gate rounds. A round starts when an instance is queued: every gate's
 * `prepare` runs concurrently, each in its own microtask (off the scheduler's turn, so a slow gate
 * never delays other tasks). The instance lists the gates still pending in `pendingGates`; the
 * first rejection aborts the others' signals and fails the attempt with `GATE_FAIL` (the machine
 * decides: a retryable gate error consumes a retry while attempts remain, then the retry delay
 * runs). When all pass the instance is admitted. Aborting a round (a manual change, a cancelled
 * run) means nothing more happens because of it.
 */
export class GateRounds {
  readonly #gates: readonly Gate[];
  readonly #log: (line: string) => void;
  readonly #lifecycle: Lifecycle;
  readonly #wakeups: Wakeups;
  readonly #host: GateRoundsHost;
  /** Rounds running now. */
  pending = 0;

  constructor(gates: readonly Gate[], log: (line: string) => void, lifecycle: Lifecycle, wakeups: Wakeups, host: GateRoundsHost) {
    this.#gates = gates;
    this.#log = log;
    this.#lifecycle = lifecycle;
    this.#wakeups = wakeups;
    this.#host = host;
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
          this.#passed(instance, attempt);
        },
        (thrown: unknown) => {
          if (!current()) return;
          const error = thrown instanceof TaskError ? thrown : new GateError(gate.name, thrown);
          controller.abort(error);
          end();
          this.#failed(instance, attempt, error, isRetryable(thrown), gate.name);
        },
      );
    }
  }

  #passed(instance: TaskInstance, attempt: number): void {
    this.#host.requestTurn();
    if (instance.state === 'queued' && instance.context.attempt === attempt) this.#host.admit(instance);
  }

  #failed(instance: TaskInstance, attempt: number, error: Error, retryable: boolean, gate: string): void {
    this.#host.requestTurn();
    if (instance.state !== 'queued' || instance.context.attempt !== attempt) return;
    try {
      instance.error = error;
      instance.failureKind = 'gate';
      const state = this.#lifecycle.apply(instance, { type: 'GATE_FAIL', retryable }, { error });
      if (state === 'up_for_retry') this.#wakeups.set(instance, retryDelayFor(instance.task, attempt), 'retry');
    } catch (internal) {
      this.#log(`taskmachine: internal error after gate '${gate}' of '${instance.key}' failed: ${toError(internal).stack}`);
    }
  }

  /** Aborts the instance's round, if one runs; nothing more happens because of it. */
  abort(instance: TaskInstance, reason: unknown): void {
    const controller = instance.gateController;
    if (controller === undefined) return;
    instance.gateController = undefined;
    instance.pendingGates = undefined;
    this.pending--;
    controller.abort(reason);
  }
}
