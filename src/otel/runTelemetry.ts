import { context, SpanStatusCode, trace, type Attributes, type Context, type HrTime, type Link, type Span, type Tracer } from '@opentelemetry/api';
import type { Flow } from '../flow/types.ts';
import type {
  AttemptScopeArgs,
  FlowRunHookArgs,
  ForRunArgs,
  LifecycleHookArgs,
  RunListener,
  TaskInstanceLogArgs,
  TaskInstanceStateChangeArgs,
} from '../listeners/types.ts';
import type { Clock } from '../clock.ts';
import type { FlowRunRecord, TaskInstanceRecord } from '../records.ts';
import { ATTR, TRACEPARENT_LABEL } from './attributes.ts';
import { AttemptSpans, type AttemptSpan } from './attemptSpans.ts';
import type { RunMetrics } from './runMetrics.ts';
import { hrTime } from './time.ts';
import { formatTraceparent, parseTraceparent } from './traceparent.ts';

/** What one run's telemetry is made with (the resolved `openTelemetry()` options). */
export interface RunTelemetrySettings {
  readonly tracer: Tracer;
  readonly metrics: RunMetrics;
  readonly recordResults: boolean;
  readonly logEvents: boolean;
  readonly instanceEvents: boolean;
}

/**
 * The telemetry of one run: the run listener `openTelemetry()` returns from `forRun`.
 *
 * - The run span `taskmachine.run <flowId>` starts here, where the run begins, as a child of the
 *   span active in the code that started it (an HTTP handler's), and ends with the run. A resumed
 *   run's span links to the span of the start before (its `traceparent` is stored in the run's
 *   labels).
 * - Attempt spans ({@link AttemptSpans}) are made active while task code runs (`aroundAttempt`),
 *   so the spans task code makes are their children.
 * - Every other transition of an instance is a span event on the run span (on the caller's
 *   attempt span for a `ctx().call` child); a gate wait is a span of its own.
 */
export class RunTelemetry implements RunListener {
  /** The run span's context, stored with the run so a resume can link to it. */
  readonly labels: Readonly<Record<string, string>> | undefined;
  readonly #settings: RunTelemetrySettings;
  readonly #flow: Flow;
  readonly #runId: string;
  readonly #clock: Clock;
  /** The context the run was started in: every span of the run keeps its baggage and parent. */
  readonly #parent: Context;
  #runSpan: Span;
  #runContext: Context;
  #runEnded = false;
  readonly #attempts: AttemptSpans;
  readonly #gates = new Map<string, Span>();

  constructor(settings: RunTelemetrySettings, args: ForRunArgs) {
    this.#settings = settings;
    this.#flow = args.flow;
    this.#runId = args.flowRun.runId;
    this.#clock = args.clock;
    this.#parent = context.active();
    const earlier = args.resumed ? parseTraceparent(args.labels?.[TRACEPARENT_LABEL]) : undefined;
    const links: Link[] = earlier === undefined ? [] : [{ context: earlier, attributes: { [ATTR.resumed]: true } }];
    this.#runSpan = this.#startRunSpan(args.resumed ? { [ATTR.resumed]: true } : {}, links, args.clock.now());
    this.#runContext = trace.setSpan(this.#parent, this.#runSpan);
    const traceparent = formatTraceparent(this.#runSpan.spanContext());
    this.labels = traceparent === undefined ? undefined : Object.freeze({ [TRACEPARENT_LABEL]: traceparent });
    this.#attempts = new AttemptSpans({
      tracer: settings.tracer,
      flow: this.#flow,
      runId: this.#runId,
      now: () => this.#clock.now(),
      runContext: () => this.#currentRunContext(),
    });
  }

  aroundAttempt<T>(args: AttemptScopeArgs, run: () => T): T {
    return context.with(this.#attempts.forExecution(args.taskInstance, args.attempt).context, run);
  }

  /**
   * An attempt handed to a worker (`executor: 'workers'`): its span starts here, in the driver, and
   * the job carries its `traceparent`, so task code on the worker runs under it.
   */
  attemptCarrier(args: AttemptScopeArgs): Readonly<Record<string, string>> | undefined {
    const traceparent = formatTraceparent(this.#attempts.forExecution(args.taskInstance, args.attempt).span.spanContext());
    return traceparent === undefined ? undefined : { traceparent };
  }

  onTaskInstanceStateChange({ previousState, state, taskInstance, msg, at }: TaskInstanceStateChangeArgs): void {
    const { metrics } = this.#settings;
    const key = taskInstance.key;
    if (previousState === 'queued') {
      metrics.dequeued(key);
      this.#endGateWait(taskInstance, state, at);
    }
    if (previousState === 'running') this.#attemptEnded(taskInstance, msg === 'interrupted' ? 'interrupted' : state, msg, at);
    if (state === 'running') {
      metrics.running(key);
      this.#attempts.running(taskInstance, at);
      return;
    }
    if (state === 'queued') {
      metrics.queued(key);
      if (taskInstance.pendingGates !== undefined && taskInstance.pendingGates.length > 0) this.#startGateWait(taskInstance, at);
    }
    // (An attempt's end is an event on its own span; every other change on the instance's home span.)
    if (previousState !== 'running' && this.#settings.instanceEvents) {
      const home = this.#homeSpan(taskInstance);
      // (Attributes of events are built only for a span that keeps them: not for a sampled-out or no-op one.)
      if (!home.isRecording()) return;
      const attributes: Attributes = { [ATTR.taskKey]: key, [ATTR.attempt]: taskInstance.attempts, [ATTR.previousState]: previousState };
      if (msg !== undefined) attributes[ATTR.msg] = msg;
      home.addEvent(state, attributes, hrTime(at));
    }
  }

  onTaskInstanceLog({ taskKey, attempt, message, at }: TaskInstanceLogArgs): void {
    if (this.#settings.logEvents) this.#attempts.openFor(taskKey, attempt)?.span.addEvent('log', { 'log.message': message }, hrTime(at));
  }

  onFlowRunSuccess({ flowRun }: FlowRunHookArgs): void {
    this.#endRun(flowRun, undefined);
  }

  onFlowRunFailed({ flowRun, msg }: FlowRunHookArgs): void {
    this.#endRun(flowRun, msg);
  }

  /** The run's last hook: after its end nothing is left; before it (a shutdown) this process lets go of the run. */
  beforeStopping({ flowRun }: LifecycleHookArgs): void {
    if (this.#runEnded) return;
    const now = hrTime(this.#clock.now());
    for (const open of this.#attempts.unended()) {
      open.span.addEvent('shutdown', now);
      this.#end(open, now);
    }
    this.#endGates(now);
    this.#settings.metrics.release();
    this.#runSpan.setAttributes({ [ATTR.finalState]: flowRun.state, [ATTR.shutdown]: true });
    this.#runSpan.end(now);
    this.#runEnded = true;
  }

  #attemptEnded(record: TaskInstanceRecord, outcome: string, msg: string | undefined, at: number): void {
    const open = this.#attempts.takeOpen(record.key);
    this.#settings.metrics.attemptEnded(record.key, record.taskId, outcome, open === undefined ? undefined : at - open.startedAt);
    const time = hrTime(at);
    if (open === undefined) {
      // Began in another process (a crash, then this resume): no span here to end.
      const home = this.#homeSpan(record);
      if (this.#settings.instanceEvents && home.isRecording()) {
        home.addEvent(outcome, { [ATTR.taskKey]: record.key, [ATTR.attempt]: record.attempts, [ATTR.previousState]: 'running' }, time);
      }
      return;
    }
    const { span } = open;
    span.setAttribute(ATTR.finalState, outcome);
    if (msg !== undefined && msg.startsWith('manually_')) span.setAttribute(ATTR.msg, msg);
    if (outcome === 'failed' || outcome === 'up_for_retry') {
      if (record.failureKind !== undefined) span.setAttribute(ATTR.failureKind, record.failureKind);
      const error = record.error;
      if (error !== undefined) span.recordException(error, time);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error === undefined ? outcome : `${error.name}: ${error.message}` });
    }
    if (outcome === 'success' && this.#settings.recordResults && record.result !== undefined) {
      span.setAttribute(ATTR.result, resultText(record.result));
    }
    if (outcome !== 'success') span.addEvent(outcome, time);
    this.#end(open, time);
  }

  #startGateWait(record: TaskInstanceRecord, at: number): void {
    this.#gates.get(record.key)?.end(hrTime(at));
    const parent = this.#attempts.callerOf(record)?.context ?? this.#currentRunContext();
    const attributes: Attributes = { [ATTR.taskKey]: record.key, [ATTR.attempt]: record.attempts, [ATTR.gates]: [...(record.pendingGates ?? [])] };
    this.#gates.set(record.key, this.#settings.tracer.startSpan(`taskmachine.gates ${record.key}`, { attributes, startTime: hrTime(at) }, parent));
  }

  #endGateWait(record: TaskInstanceRecord, state: string, at: number): void {
    const span = this.#gates.get(record.key);
    if (span === undefined) return;
    this.#gates.delete(record.key);
    span.setAttribute(ATTR.finalState, state);
    if (state !== 'running' && record.failureKind === 'gate') {
      if (record.error !== undefined) span.recordException(record.error, hrTime(at));
      span.setStatus({ code: SpanStatusCode.ERROR, message: record.error?.message ?? 'a readiness gate failed' });
    }
    span.end(hrTime(at));
  }

  #endGates(time: HrTime): void {
    for (const gate of this.#gates.values()) gate.end(time);
    this.#gates.clear();
  }

  #endRun(flowRun: FlowRunRecord, reason: string | undefined): void {
    const span = this.#currentRunSpan();
    const endedAt = flowRun.endedAt ?? this.#clock.now();
    const time = hrTime(endedAt);
    for (const open of this.#attempts.unended()) this.#end(open, time);
    this.#endGates(time);
    span.setAttribute(ATTR.finalState, flowRun.state);
    if (reason !== undefined) {
      span.setAttribute(ATTR.reason, reason);
      span.setStatus({ code: SpanStatusCode.ERROR, message: reason });
    }
    const { startedAt } = flowRun;
    this.#settings.metrics.runEnded(flowRun.state, startedAt === undefined ? undefined : endedAt - startedAt);
    span.end(time);
    this.#runEnded = true;
  }

  #end(open: AttemptSpan, time: HrTime): void {
    open.ended = true;
    open.span.end(time);
  }

  /** Where an instance's events go: its caller's attempt span (a `ctx().call` child), else the run span. */
  #homeSpan(record: TaskInstanceRecord): Span {
    const caller = this.#attempts.callerOf(record);
    return caller !== undefined && !caller.ended ? caller.span : this.#currentRunSpan();
  }

  #currentRunContext(): Context {
    this.#currentRunSpan();
    return this.#runContext;
  }

  /** The run span; a finished run that got work again (a clear) gets a new one, linked to the one that ended. */
  #currentRunSpan(): Span {
    if (!this.#runEnded) return this.#runSpan;
    const links: Link[] = [{ context: this.#runSpan.spanContext(), attributes: { [ATTR.reopened]: true } }];
    this.#runSpan = this.#startRunSpan({ [ATTR.reopened]: true }, links, this.#clock.now());
    this.#runContext = trace.setSpan(this.#parent, this.#runSpan);
    this.#runEnded = false;
    return this.#runSpan;
  }

  #startRunSpan(extra: Attributes, links: Link[], at: number): Span {
    const attributes: Attributes = { [ATTR.flowId]: this.#flow.id, [ATTR.runId]: this.#runId, ...extra };
    return this.#settings.tracer.startSpan(`taskmachine.run ${this.#flow.id}`, { attributes, links, startTime: hrTime(at) }, this.#parent);
  }
}

/** A result as an attribute value: JSON where it can be, else its string form. */
function resultText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
