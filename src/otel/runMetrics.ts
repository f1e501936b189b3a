import type { Counter, Histogram, Meter, UpDownCounter } from '@opentelemetry/api';
import { ATTR } from './attributes.ts';

/**
 * The metric names `taskmachine/otel` records.
 *
 * @example
 * ```ts
 * import { METRICS } from 'taskmachine/otel';
 * const attempts = scopeMetrics.metrics.find((m) => m.descriptor.name === METRICS.attempts);
 * ```
 */
export const METRICS = Object.freeze({
  /** Counter: attempts that ended, by `taskmachine.flow_id`, `taskmachine.task_id`, `taskmachine.outcome`. */
  attempts: 'taskmachine.attempts',
  /** Histogram (seconds): how long attempts ran, with the same attributes as `attempts`. */
  attemptDuration: 'taskmachine.attempt.duration',
  /** Up-down counter: task instances running now, by `taskmachine.flow_id`. */
  running: 'taskmachine.task_instances.running',
  /** Up-down counter: task instances queued now (waiting for a slot or for their gates), by `taskmachine.flow_id`. */
  queued: 'taskmachine.task_instances.queued',
  /** Histogram (seconds): how long runs took, start to end, by `taskmachine.flow_id` and `taskmachine.state`. */
  runDuration: 'taskmachine.run.duration',
});

/** The instruments of one `openTelemetry()` hook-in, shared by its runs. */
export class Instruments {
  readonly attempts: Counter;
  readonly attemptDuration: Histogram;
  readonly running: UpDownCounter;
  readonly queued: UpDownCounter;
  readonly runDuration: Histogram;

  constructor(meter: Meter) {
    this.attempts = meter.createCounter(METRICS.attempts, { description: 'Task attempts that ended, by outcome', unit: '{attempt}' });
    this.attemptDuration = meter.createHistogram(METRICS.attemptDuration, { description: 'How long task attempts ran', unit: 's' });
    this.running = meter.createUpDownCounter(METRICS.running, { description: 'Task instances running now', unit: '{task_instance}' });
    this.queued = meter.createUpDownCounter(METRICS.queued, { description: 'Task instances queued now', unit: '{task_instance}' });
    this.runDuration = meter.createHistogram(METRICS.runDuration, { description: 'How long flow runs took, by final state', unit: 's' });
  }
}

/**
 * One run's metrics. It remembers which instances it counted as running or queued, so a run that
 * ends or is let go of takes back exactly what it added (a resumed run never subtracts what an
 * earlier process added). Durations are measured on the run's clock.
 */
export class RunMetrics {
  readonly #instruments: Instruments;
  readonly #flow: { readonly [ATTR.flowId]: string };
  readonly #running = new Set<string>();
  readonly #queued = new Set<string>();
  /** The attributes of each task and outcome, made once (a run records one point per attempt). */
  readonly #attemptAttributes = new Map<string, Readonly<Record<string, string>>>();

  constructor(instruments: Instruments, flowId: string) {
    this.#instruments = instruments;
    this.#flow = Object.freeze({ [ATTR.flowId]: flowId });
  }

  queued(key: string): void {
    if (this.#queued.has(key)) return;
    this.#queued.add(key);
    this.#instruments.queued.add(1, this.#flow);
  }

  dequeued(key: string): void {
    if (this.#queued.delete(key)) this.#instruments.queued.add(-1, this.#flow);
  }

  running(key: string): void {
    if (this.#running.has(key)) return;
    this.#running.add(key);
    this.#instruments.running.add(1, this.#flow);
  }

  /** An attempt ended; `durationMs` is `undefined` when it began in another process. */
  attemptEnded(key: string, taskId: string, outcome: string, durationMs: number | undefined): void {
    if (this.#running.delete(key)) this.#instruments.running.add(-1, this.#flow);
    const cacheKey = `${taskId}\u0000${outcome}`;
    let attributes = this.#attemptAttributes.get(cacheKey);
    if (attributes === undefined) {
      attributes = Object.freeze({ ...this.#flow, [ATTR.taskId]: taskId, [ATTR.outcome]: outcome });
      this.#attemptAttributes.set(cacheKey, attributes);
    }
    this.#instruments.attempts.add(1, attributes);
    if (durationMs !== undefined) this.#instruments.attemptDuration.record(Math.max(0, durationMs) / 1000, attributes);
  }

  runEnded(state: string, durationMs: number | undefined): void {
    if (durationMs !== undefined) this.#instruments.runDuration.record(Math.max(0, durationMs) / 1000, { ...this.#flow, [ATTR.state]: state });
    this.release();
  }

  /** Takes back the running and queued counts this run still holds (its end, or a shutdown). */
  release(): void {
    if (this.#running.size > 0) this.#instruments.running.add(-this.#running.size, this.#flow);
    if (this.#queued.size > 0) this.#instruments.queued.add(-this.#queued.size, this.#flow);
    this.#running.clear();
    this.#queued.clear();
  }
}
