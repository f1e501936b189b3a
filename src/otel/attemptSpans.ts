import { trace, type Attributes, type Context, type Link, type Span, type Tracer } from '@opentelemetry/api';
import type { Flow } from '../flow/types.ts';
import type { TaskInstanceRecord } from '../records.ts';
import { ATTR } from './attributes.ts';
import { hrTime } from './time.ts';

/** One attempt's span, with what its end needs. */
export interface AttemptSpan {
  readonly span: Span;
  /** The context task code runs in: the run's, with this span active. */
  readonly context: Context;
  readonly attempt: number;
  /** When it started (epoch ms, the run's clock). */
  readonly startedAt: number;
  /** `aroundAttempt` runs the task in it (a span the `running` transition made waits to be claimed). */
  claimed: boolean;
  ended: boolean;
}

interface InstanceSpans {
  /** The span of the attempt that the transitions say is running (from `→ running` to its outcome). */
  open: AttemptSpan | undefined;
  /**
   * Spans `aroundAttempt` started before the `→ running` transition reached this listener (hooks
   * are queued; a zero-delay retry can start the next attempt first). Each is taken, in order, by
   * the next `→ running`.
   */
  early: AttemptSpan[] | undefined;
  /** The latest span started for the instance: the next one links to it; children nest under it. */
  latest: AttemptSpan | undefined;
}

/** What attempt spans need from the run around them. */
export interface AttemptSpansHost {
  readonly tracer: Tracer;
  readonly flow: Flow;
  readonly runId: string;
  now(): number;
  /** The run's context (the run span active), the parent of every top-level attempt span. */
  runContext(): Context;
}

/**
 * The attempt spans of one run: `taskmachine.attempt <taskKey>`, from `running` to the attempt's
 * outcome. A span is started by whichever comes first — `aroundAttempt` (synchronous, where the
 * task function is called) or the queued `→ running` transition (an attempt whose function never
 * runs, such as one failed by its deferral timeout) — and the other finds it. A child instance's
 * span (`ctx().call`) is a child of its caller's latest attempt span; every later attempt of an
 * instance links to the one before.
 */
export class AttemptSpans {
  readonly #host: AttemptSpansHost;
  readonly #instances = new Map<string, InstanceSpans>();

  constructor(host: AttemptSpansHost) {
    this.#host = host;
  }

  /** The span `aroundAttempt` runs the attempt in: the one a `→ running` left unclaimed, or a new one. */
  forExecution(record: TaskInstanceRecord, attempt: number): AttemptSpan {
    const spans = this.#spansOf(record.key);
    const open = spans.open;
    if (open !== undefined && !open.claimed && !open.ended && open.attempt === attempt) {
      open.claimed = true;
      return open;
    }
    const made = this.#start(record, attempt, spans, true, this.#host.now());
    (spans.early ??= []).push(made);
    return made;
  }

  /** The `→ running` transition (at `at`): the span `aroundAttempt` already started, or a new one. */
  running(record: TaskInstanceRecord, at: number): AttemptSpan {
    const spans = this.#spansOf(record.key);
    spans.open = spans.early?.shift() ?? this.#start(record, record.attempts, spans, false, at);
    return spans.open;
  }

  /** The transition out of `running`: the span of the attempt that ended (taken out), if this process started one. */
  takeOpen(key: string): AttemptSpan | undefined {
    const spans = this.#instances.get(key);
    const open = spans?.open;
    if (spans === undefined || open === undefined) return undefined;
    spans.open = undefined;
    return open;
  }

  /** The open attempt span of `key` if it is running `attempt` (log lines go there). */
  openFor(key: string, attempt: number): AttemptSpan | undefined {
    const spans = this.#instances.get(key);
    if (spans === undefined) return undefined;
    const open = spans.open;
    if (open !== undefined && open.attempt === attempt && !open.ended) return open;
    // (A line logged before the `→ running` transition reached this listener.)
    return spans.early?.find((span) => span.attempt === attempt && !span.ended);
  }

  /** The caller's latest attempt span, for a child instance's events and spans; `undefined` otherwise. */
  callerOf(record: TaskInstanceRecord): AttemptSpan | undefined {
    return record.parentKey === undefined ? undefined : this.#instances.get(record.parentKey)?.latest;
  }

  /** Every span still open (a run that ends or is let go of ends them). */
  *unended(): Iterable<AttemptSpan> {
    for (const spans of this.#instances.values()) {
      if (spans.open !== undefined && !spans.open.ended) yield spans.open;
      for (const early of spans.early ?? []) if (!early.ended) yield early;
    }
  }

  #spansOf(key: string): InstanceSpans {
    let spans = this.#instances.get(key);
    if (spans === undefined) {
      // (`early` is made on first use: most attempts reach this listener in order.)
      spans = { open: undefined, early: undefined, latest: undefined };
      this.#instances.set(key, spans);
    }
    return spans;
  }

  #start(record: TaskInstanceRecord, attempt: number, spans: InstanceSpans, claimed: boolean, at: number): AttemptSpan {
    const host = this.#host;
    const caller = this.callerOf(record);
    const parent = caller?.context ?? host.runContext();
    const attributes: Attributes = {
      [ATTR.runId]: host.runId,
      [ATTR.taskId]: record.taskId,
      [ATTR.taskKey]: record.key,
      [ATTR.attempt]: attempt,
      [ATTR.maxAttempts]: record.maxAttempts,
    };
    if (record.mapIndex !== undefined) attributes[ATTR.mapIndex] = record.mapIndex;
    if (record.parentKey !== undefined) attributes[ATTR.parentKey] = record.parentKey;
    const trigger = host.flow.task(record.taskId)?.trigger;
    if (trigger !== undefined) attributes[ATTR.triggerRule] = trigger;
    const links: Link[] | undefined =
      spans.latest === undefined ? undefined : [{ context: spans.latest.span.spanContext(), attributes: { [ATTR.attempt]: spans.latest.attempt } }];
    const span = host.tracer.startSpan(`taskmachine.attempt ${record.key}`, { attributes, links, startTime: hrTime(at) }, parent);
    const made: AttemptSpan = { span, context: trace.setSpan(parent, span), attempt, startedAt: at, claimed, ended: false };
    spans.latest = made;
    return made;
  }
}
