// OpenTelemetry: a span per run and per attempt, the spans your task code makes nested inside,
// printed as a tree. Run it:  npx node examples/observability.ts
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { flow, runFlow } from 'taskmachine';
import { openTelemetry } from 'taskmachine/otel';

// What an application sets up once (the Node SDK does the same, exporting over OTLP instead):
// a context manager so the active span follows async code, and a tracer provider.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
const tracer = trace.getTracer('shop');

/** What an instrumented HTTP client does: a span around the call, in the active context. */
function get(path: string, fail = false): Promise<number[]> {
  return tracer.startActiveSpan(`GET ${path}`, async (span) => {
    try {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (fail) throw new Error(`503 from ${path}`);
      return [120, 80, 45];
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

const nightly = flow('nightly-report', (f) => {
  const orders = f.task('fetch-orders', ({ ctx }) => get('/orders', ctx.attempt === 1), { retries: 1 });
  const price = f.map('price', orders, ({ item }) => Math.round(item * 1.2)); // item: number
  const render = f.subtask('render', ({ input }: { input: readonly number[] }) => `total ${input.reduce((a, b) => a + b, 0)}`);
  f.task('report', async ({ upstream, ctx }) => {
    const text = await ctx.call(render, upstream.price); // upstream.price: readonly number[]
    ctx.log(text);
    return text;
  }, { after: price });
});

// A run started inside an active span (here a scheduled job's; often an HTTP request's) joins its trace.
await tracer.startActiveSpan('cron nightly-report', async (job) => {
  await runFlow(nightly, { listeners: [openTelemetry()], log: () => {} });
  job.end();
});

printTree(exporter.getFinishedSpans());

/** Each span on a line, under its parent: name, duration, status, events, links. */
function printTree(spans: readonly ReadableSpan[]): void {
  const ids = new Set(spans.map((span) => span.spanContext().spanId));
  const names = new Map(spans.map((span) => [span.spanContext().spanId, span.name]));
  const ms = (time: readonly [number, number]) => time[0] * 1e3 + time[1] / 1e6;
  const print = (parentId: string | undefined, depth: number) => {
    const children = spans
      .filter((span) => (span.parentSpanContext !== undefined && ids.has(span.parentSpanContext.spanId) ? span.parentSpanContext.spanId : undefined) === parentId)
      .sort((a, b) => ms(a.startTime) - ms(b.startTime) || ms(a.endTime) - ms(b.endTime));
    for (const span of children) {
      const status = span.status.code === SpanStatusCode.ERROR ? `  ERROR ${span.status.message ?? ''}` : '';
      const attempt = span.attributes['taskmachine.attempt'] !== undefined ? ` #${String(span.attributes['taskmachine.attempt'])}` : '';
      const eventNames = span.events.map((event) => {
        const key = event.attributes?.['taskmachine.task_key'];
        return key === undefined ? event.name : `${event.name} ${String(key)}`;
      });
      const events = eventNames.length > 0 ? `  {${eventNames.join(', ')}}` : '';
      const links = span.links.map((link) => `  → linked to ${names.get(link.context.spanId) ?? 'an earlier span'}`).join('');
      console.log(`${'  '.repeat(depth)}${span.name}${attempt} (${ms(span.duration).toFixed(1)} ms)${status}${events}${links}`);
      print(span.spanContext().spanId, depth + 1);
    }
  };
  print(undefined, 0);
}
