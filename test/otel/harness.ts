// In-memory OpenTelemetry for the tests: a tracer provider with the SDK's in-memory exporter, a
// meter provider read on demand, and the AsyncLocalStorage context manager (what the Node SDK
// registers), so `context.with` really propagates across awaits.
import { context, type Attributes, type AttributeValue } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { DataPointType, MeterProvider, MetricReader, type DataPoint, type Histogram, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type Span, type SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** A metric reader that exports nothing by itself: tests call `collect()`. */
class ManualReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** Numbers spans in the order they are made: the order of siblings whose start times tie. */
class StartOrder implements SpanProcessor {
  readonly order = new Map<string, number>();
  onStart(span: Span): void {
    this.order.set(span.spanContext().spanId, this.order.size);
  }
  onEnd(): void {}
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/** Registers the async-hooks context manager for the current test file; returns the function that removes it. */
export function useAsyncContext(): () => void {
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  return () => {
    manager.disable();
    context.disable();
  };
}

export interface Telemetry {
  readonly exporter: InMemorySpanExporter;
  readonly provider: BasicTracerProvider;
  readonly meterProvider: MeterProvider;
  spans(): ReadableSpan[];
  /** The finished spans as an indented tree (see {@link spanTree}). */
  tree(show?: readonly string[]): string;
  /** Every data point of the metric `name`, with its attributes. */
  points(name: string): Promise<Array<DataPoint<number | Histogram>>>;
}

export function makeTelemetry(): Telemetry {
  const exporter = new InMemorySpanExporter();
  const started = new StartOrder();
  const provider = new BasicTracerProvider({ spanProcessors: [started, new SimpleSpanProcessor(exporter)] });
  const reader = new ManualReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    exporter,
    provider,
    meterProvider,
    spans: () => exporter.getFinishedSpans(),
    tree: (show) => spanTree(exporter.getFinishedSpans(), show, started.order),
    points: async (name) => {
      const { resourceMetrics } = await reader.collect();
      const metric: MetricData | undefined = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((m) => m.descriptor.name === name);
      if (metric === undefined) return [];
      if (metric.dataPointType === DataPointType.HISTOGRAM) return metric.dataPoints;
      if (metric.dataPointType === DataPointType.SUM || metric.dataPointType === DataPointType.GAUGE) return metric.dataPoints;
      return [];
    },
  };
}

/**
 * Spans as an indented tree, children by start time. A test clock starts many spans in the same
 * millisecond: those are ordered by end time, then by task key (an instance's gate wait before its
 * attempt), then in the order they were made.
 * `name [attr=value …] {event, event(attr=value)} ERROR(message) ->link`.
 * `show` names the attributes to print (without their `taskmachine.` prefix).
 */
export function spanTree(
  spans: readonly ReadableSpan[],
  show: readonly string[] = ['attempt', 'final_state'],
  order: ReadonlyMap<string, number> = new Map(),
): string {
  const rank = (span: ReadableSpan) => order.get(span.spanContext().spanId) ?? Number.MAX_SAFE_INTEGER;
  const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]));
  const children = new Map<string | undefined, ReadableSpan[]>();
  for (const span of spans) {
    const parentId = span.parentSpanContext?.spanId;
    const key = parentId !== undefined && byId.has(parentId) ? parentId : undefined;
    children.set(key, [...(children.get(key) ?? []), span]);
  }
  const lines: string[] = [];
  const walk = (parent: string | undefined, depth: number) => {
    const list = [...(children.get(parent) ?? [])].sort(
      (a, b) =>
        compareTime(a.startTime, b.startTime) ||
        compareTime(a.endTime, b.endTime) ||
        instanceOrder(a).localeCompare(instanceOrder(b)) ||
        rank(a) - rank(b),
    );
    for (const span of list) {
      lines.push(`${'  '.repeat(depth)}${describeSpan(span, byId, show)}`);
      walk(span.spanContext().spanId, depth + 1);
    }
  };
  walk(undefined, 0);
  return lines.join('\n');
}

function describeSpan(span: ReadableSpan, byId: ReadonlyMap<string, ReadableSpan>, show: readonly string[]): string {
  const attrs = show
    .filter((name) => span.attributes[`taskmachine.${name}`] !== undefined)
    .map((name) => `${name}=${text(span.attributes[`taskmachine.${name}`])}`);
  const events = span.events.map((event) => event.name + (event.attributes?.['taskmachine.task_key'] !== undefined ? `(${text(event.attributes['taskmachine.task_key'])})` : ''));
  const links = span.links.map((link) => `->${byId.get(link.context.spanId)?.name ?? 'elsewhere'}`);
  const status = span.status.code === 2 ? ` ERROR(${span.status.message ?? ''})` : '';
  return [span.name, attrs.length > 0 ? `[${attrs.join(' ')}]` : '', events.length > 0 ? `{${events.join(', ')}}` : '', ...links]
    .filter(Boolean)
    .join(' ') + status;
}

/** `key` + 0 for a gate wait, + 1 for an attempt; '' for spans that are not an instance's. */
function instanceOrder(span: ReadableSpan): string {
  const key = span.attributes['taskmachine.task_key'];
  if (key === undefined) return '';
  return `${String(key)}\u0000${span.name.startsWith('taskmachine.gates') ? 0 : 1}`;
}

function text(value: AttributeValue | undefined): string {
  return Array.isArray(value) ? value.join('+') : String(value);
}

function compareTime(a: readonly [number, number], b: readonly [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

/** The attributes of a data point, as a plain object (for `toEqual`). */
export function attributesOf(point: { attributes: Attributes }): Record<string, AttributeValue | undefined> {
  return { ...point.attributes };
}
