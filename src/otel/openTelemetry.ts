import { metrics, trace, type Meter, type Tracer } from '@opentelemetry/api';
import type { Listener } from '../listeners/types.ts';
import { Instruments, RunMetrics } from './runMetrics.ts';
import { RunTelemetry } from './runTelemetry.ts';

/**
 * Options of {@link openTelemetry}.
 *
 * @example
 * ```ts
 * openTelemetry({ tracer: provider.getTracer('etl'), recordResults: true, instanceEvents: false });
 * ```
 */
export interface OpenTelemetryOptions {
  /**
   * Where spans are made.
   * @default trace.getTracer('taskmachine') — the globally registered tracer provider's (a no-op until an SDK registers one)
   */
  tracer?: Tracer;
  /**
   * Where metrics are recorded.
   * @default metrics.getMeter('taskmachine') — the globally registered meter provider's (a no-op until an SDK registers one)
   */
  meter?: Meter;
  /**
   * Put each successful attempt's result on its span as `taskmachine.result` (JSON). Off by
   * default: results can be large or hold data that must not leave the process.
   * @default false
   */
  recordResults?: boolean;
  /**
   * Record the lines tasks log with `ctx().log` as `log` events on their attempt's span.
   * @default true
   */
  logEvents?: boolean;
  /**
   * Record the transitions of task instances outside their attempts (scheduled, queued,
   * up_for_retry → scheduled, upstream_failed, interrupted, …) as events on the run span (on the
   * caller's attempt span for `ctx().call` children). A flow of thousands of tasks makes
   * thousands of these: turn them off, or raise the SDK's `spanLimits.eventCountLimit`
   * (default 128 per span), when only spans matter.
   * @default true
   */
  instanceEvents?: boolean;
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set(['tracer', 'meter', 'recordResults', 'logEvents', 'instanceEvents']);

/**
 * OpenTelemetry traces and metrics for flow runs: the one thing to add to a run (or register for
 * every run with `registerListener`). Built only on `@opentelemetry/api`; bring your own SDK.
 *
 * Traces: a span per run (`taskmachine.run <flowId>`, a child of the span active where the run was
 * started), a span per attempt (`taskmachine.attempt <taskKey>`), active while task code runs so
 * the spans it makes (HTTP clients, database drivers) are its children, `ctx().call` children under
 * their caller, a span per readiness-gate wait, span events for the other transitions and for
 * `ctx().log` lines, ERROR status with the exception on failure, links from a retry to the attempt
 * before and from a resumed run to its earlier span.
 * Metrics: `taskmachine.attempts` (by outcome), `taskmachine.attempt.duration`,
 * `taskmachine.task_instances.running` / `.queued`, `taskmachine.run.duration` (by final state).
 *
 * @example
 * ```ts
 * import { runFlow } from 'taskmachine';
 * import { openTelemetry } from 'taskmachine/otel';
 * await runFlow(etl, { listeners: [openTelemetry()] });
 * ```
 */
export function openTelemetry(options: OpenTelemetryOptions = {}): Listener {
  if (options === null || typeof options !== 'object') throw new TypeError(`openTelemetry(options): options must be an object, got ${String(options)}`);
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new TypeError(`openTelemetry: unknown option '${key}'; known options: ${[...KNOWN_OPTIONS].join(', ')}`);
  }
  for (const key of ['recordResults', 'logEvents', 'instanceEvents'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') throw new TypeError(`openTelemetry: ${key} must be true or false`);
  }
  const recordResults = options.recordResults ?? false;
  const logEvents = options.logEvents ?? true;
  const instanceEvents = options.instanceEvents ?? true;
  // Made once, on the first run: the meter keeps one instrument per name anyway.
  let instruments: Instruments | undefined;
  return Object.freeze({
    forRun: (args) => {
      instruments ??= new Instruments(options.meter ?? metrics.getMeter('taskmachine'));
      const tracer = options.tracer ?? trace.getTracer('taskmachine');
      const runMetrics = new RunMetrics(instruments, args.flow.id);
      return new RunTelemetry({ tracer, metrics: runMetrics, recordResults, logEvents, instanceEvents }, args);
    },
  } satisfies Listener);
}
