import { format } from 'node:util';
import { GateError, isRetryable, TaskError } from '../errors.ts';
import type { Gate } from '../gates/defineGate.ts';
import type { TaskInstance } from './instance.ts';

const RESOLVED: Promise<void> = Promise.resolve();

/** How one round of readiness gates ended (reported once, unless the round was aborted). */
export interface GateRoundOutcome {
  /** Every gate resolved. */
  passed(): void;
  /** A gate rejected: `error` keeps a task error's identity, wraps anything else in `GateError`. */
  failed(error: Error, retryable: boolean, gate: string): void;
}

/**
 * Starts every gate for the instance's current attempt: concurrently, each `prepare` in its own
 * microtask (off the scheduler's turn). The instance lists the gates still pending in
 * `pendingGates`; the first rejection aborts the others' signals. The round belongs to the
 * instance while `instance.gateController` is the returned controller: aborting it (and clearing
 * that field) cancels the round, and then no outcome is reported.
 */
export function startGateRound(
  instance: TaskInstance,
  gates: readonly Gate[],
  log: (line: string) => void,
  outcome: GateRoundOutcome,
): AbortController {
  const controller = new AbortController();
  const attempt = instance.context.attempt;
  instance.gateController = controller;
  instance.pendingGates = gates.map((gate) => gate.name);
  const record = instance.toRecord();
  const current = () => instance.gateController === controller;
  const end = () => {
    instance.gateController = undefined;
    instance.pendingGates = undefined;
  };
  let remaining = gates.length;
  for (const gate of gates) {
    const context = Object.freeze({
      signal: controller.signal,
      hints: instance.task.hints,
      log: (...parts: unknown[]) => log(`[${instance.key}#${attempt} gate ${gate.name}] ${format(...parts)}`),
    });
    RESOLVED.then(() => gate.prepare(record, context)).then(
      () => {
        if (!current()) return;
        instance.pendingGates = instance.pendingGates?.filter((name) => name !== gate.name);
        if (--remaining > 0) return;
        end();
        outcome.passed();
      },
      (thrown: unknown) => {
        if (!current()) return;
        const error = thrown instanceof TaskError ? thrown : new GateError(gate.name, thrown);
        controller.abort(error);
        end();
        outcome.failed(error, isRetryable(thrown), gate.name);
      },
    );
  }
  return controller;
}
