// taskmachine/otel traces, read back from the SDK's in-memory exporter: the span tree of a run,
// user spans nested in their attempt, failures, links, and runs that join a caller's trace.
import { SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ctx, defineGate, flow, runFlow, startFlow, TaskCheckpointed } from '../../src/index.ts';
import { ATTR, openTelemetry } from '../../src/otel/index.ts';
import { createTestClock } from '../../src/clock.ts';
import { makeTelemetry, useAsyncContext } from './harness.ts';

let removeContext: () => void;
beforeAll(() => (removeContext = useAsyncContext()));
afterAll(() => removeContext());

const quiet = { log: () => {} };

describe('the span tree of a run', () => {
  it('a retry, a map, a child call, a gate and a checkpoint: one run span, attempt spans under it, children under their caller', async () => {
    const telemetry = makeTelemetry();
    const tracer = telemetry.provider.getTracer('test');
    const clock = createTestClock();
    // Holds 'archive' for 30 ms of the run's clock; lets every other task through at once.
    const coldStorage = defineGate({
      name: 'cold-storage',
      prepare: (taskInstance) => (taskInstance.taskId === 'archive' ? new Promise<void>((resolve) => clock.setTimeout(resolve, 30)) : Promise.resolve()),
    });
    const etl = flow('etl', (f) => {
      const extract = f.task('extract', () => {
        if (ctx()!.attempt === 1) throw new Error('connection reset');
        return [1, 2];
      }, { retries: 1, retryDelay: 100 });
      const summarize = f.subtask('summarize', ({ input }) => `${String(input)} rows`);
      const load = f.map('load', extract, ({ item }) => {
        ctx()!.log(`loading ${String(item)}`);
        return (item as number) * 10;
      });
      const report = f.task('report', ({ upstream }) => ctx()!.call(summarize, (upstream['load'] as number[]).length), { after: load });
      f.task('archive', () => {
        if (ctx()!.resumeData === undefined) throw new TaskCheckpointed({ part: 1 });
        return 'archived';
      }, { after: report, resumeAfter: 50 });
    });
    const handle = startFlow(etl, { clock, gates: [coldStorage], listeners: [openTelemetry({ tracer, meter: telemetry.meterProvider.getMeter('test') })], ...quiet });
    await clock.runAll();
    expect((await handle.done).state).toBe('success');

    expect(telemetry.tree()).toBe(
      [
        'taskmachine.run etl [final_state=success] {scheduled(extract), queued(extract), scheduled(extract), queued(extract), scheduled(load[0]), queued(load[0]), scheduled(load[1]), queued(load[1]), scheduled(report), queued(report), scheduled(archive), queued(archive), scheduled(archive), queued(archive)}',
        '  taskmachine.gates extract [attempt=1 final_state=running]',
        '  taskmachine.attempt extract [attempt=1 final_state=up_for_retry] {exception, up_for_retry} ERROR(Error: connection reset)',
        '  taskmachine.gates extract [attempt=2 final_state=running]',
        '  taskmachine.attempt extract [attempt=2 final_state=success] ->taskmachine.attempt extract',
        '  taskmachine.gates load[0] [attempt=1 final_state=running]',
        '  taskmachine.attempt load[0] [attempt=1 final_state=success] {log}',
        '  taskmachine.gates load[1] [attempt=1 final_state=running]',
        '  taskmachine.attempt load[1] [attempt=1 final_state=success] {log}',
        '  taskmachine.gates report [attempt=1 final_state=running]',
        '  taskmachine.attempt report [attempt=1 final_state=success] {scheduled(report/summarize#0), queued(report/summarize#0)}',
        '    taskmachine.gates report/summarize#0 [attempt=1 final_state=running]',
        '    taskmachine.attempt report/summarize#0 [attempt=1 final_state=success]',
        '  taskmachine.gates archive [attempt=1 final_state=running]',
        '  taskmachine.attempt archive [attempt=1 final_state=checkpointed] {checkpointed}',
        '  taskmachine.gates archive [attempt=1 final_state=running]',
        '  taskmachine.attempt archive [attempt=1 final_state=success] ->taskmachine.attempt archive',
      ].join('\n'),
    );
    const [mapped] = telemetry.spans().filter((span) => span.name === 'taskmachine.attempt load[1]');
    expect(mapped?.attributes).toMatchObject({
      [ATTR.runId]: handle.runId,
      [ATTR.taskId]: 'load',
      [ATTR.taskKey]: 'load[1]',
      [ATTR.mapIndex]: 1,
      [ATTR.attempt]: 1,
      [ATTR.maxAttempts]: 1,
      [ATTR.triggerRule]: 'all_success',
      [ATTR.finalState]: 'success',
    });
    expect(mapped?.events[0]).toMatchObject({ name: 'log', attributes: { 'log.message': 'loading 2' } });
    const gateWait = telemetry.spans().find((span) => span.name === 'taskmachine.gates archive');
    expect(gateWait?.attributes[ATTR.gates]).toEqual(['cold-storage']);
    // Spans are timed with the run's clock: with a test clock, to the millisecond.
    const ms = (time: readonly [number, number]) => time[0] * 1000 + time[1] / 1e6;
    const startOf = (name: string) => telemetry.spans().filter((span) => span.name === name).map((span) => ms(span.startTime));
    expect(ms(gateWait!.duration)).toBe(30);
    expect(startOf('taskmachine.attempt extract')).toEqual([0, 100]);
    // (Resumed 50 ms after its checkpoint, at 180, it waits on its gate again: 30 ms more.)
    expect(startOf('taskmachine.attempt archive')).toEqual([130, 210]);
  });

  it('a failing attempt: ERROR status, the exception recorded, failure kind; the run span fails with its reason', async () => {
    const telemetry = makeTelemetry();
    const record = await runFlow(
      flow('fails', (f) => {
        f.task('boom', () => {
          throw new RangeError('row 7 is out of range');
        });
      }),
      { listeners: [openTelemetry({ tracer: telemetry.provider.getTracer('test') })], ...quiet },
    );
    expect(record.state).toBe('failed');
    const [attempt] = telemetry.spans().filter((span) => span.name === 'taskmachine.attempt boom');
    expect(attempt?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'RangeError: row 7 is out of range' });
    expect(attempt?.attributes).toMatchObject({ [ATTR.finalState]: 'failed', [ATTR.failureKind]: 'application' });
    expect(attempt?.events.find((event) => event.name === 'exception')?.attributes).toMatchObject({
      'exception.type': 'RangeError',
      'exception.message': 'row 7 is out of range',
    });
    const [run] = telemetry.spans().filter((span) => span.name === 'taskmachine.run fails');
    expect(run?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'task_failure' });
    expect(run?.attributes).toMatchObject({ [ATTR.finalState]: 'failed', [ATTR.reason]: 'task_failure' });
  });

  it('recordResults: true puts a successful result on its span as JSON; by default it is left out', async () => {
    const results: Array<unknown> = [];
    for (const recordResults of [true, false]) {
      const telemetry = makeTelemetry();
      await runFlow(flow('results', (f) => void f.task('sum', () => ({ total: 3n > 2n ? 42 : 0, rows: [1, 2] }))), {
        listeners: [openTelemetry({ tracer: telemetry.provider.getTracer('test'), recordResults })],
        ...quiet,
      });
      results.push(telemetry.spans().find((span) => span.name === 'taskmachine.attempt sum')?.attributes[ATTR.result]);
    }
    expect(results).toEqual(['{"total":42,"rows":[1,2]}', undefined]);
  });
});

describe('nesting', () => {
  it('a span task code makes is a child of its attempt span, also after awaits', async () => {
    const telemetry = makeTelemetry();
    const tracer = telemetry.provider.getTracer('test');
    await runFlow(
      flow('user-spans', (f) => {
        f.task('fetch', async () => {
          await Promise.resolve();
          // What an instrumented HTTP client or database driver does: a span in the active context.
          await tracer.startActiveSpan('GET /prices', async (span) => {
            await Promise.resolve();
            tracer.startSpan('dns.lookup').end();
            span.end();
          });
        });
      }),
      { listeners: [openTelemetry({ tracer })], ...quiet },
    );
    expect(telemetry.tree([])).toBe(
      ['taskmachine.run user-spans {scheduled(fetch), queued(fetch)}', '  taskmachine.attempt fetch', '    GET /prices', '      dns.lookup'].join('\n'),
    );
  });

  it('concurrent attempts never see each other’s span', async () => {
    const telemetry = makeTelemetry();
    const tracer = telemetry.provider.getTracer('test');
    const seen: Record<string, string | undefined> = {};
    await runFlow(
      flow('concurrent', (f) => {
        const list = f.task('list', () => [30, 10, 20]);
        f.map('item', list, async ({ item }) => {
          await new Promise((resolve) => setImmediate(resolve, item));
          seen[ctx()!.taskKey] = trace.getActiveSpan()?.spanContext().spanId;
        });
      }),
      { listeners: [openTelemetry({ tracer })], ...quiet },
    );
    for (const key of ['item[0]', 'item[1]', 'item[2]']) {
      expect(seen[key]).toBe(telemetry.spans().find((span) => span.name === `taskmachine.attempt ${key}`)?.spanContext().spanId);
    }
  });

  it('a run started inside an active span joins its trace: the run span is that span’s child', async () => {
    const telemetry = makeTelemetry();
    const tracer: Tracer = telemetry.provider.getTracer('test');
    const definition = flow('joined', (f) => void f.task('a', () => 1));
    await tracer.startActiveSpan('POST /exports', async (request) => {
      await runFlow(definition, { listeners: [openTelemetry({ tracer })], ...quiet });
      request.end();
    });
    expect(telemetry.tree([])).toBe(['POST /exports', '  taskmachine.run joined {scheduled(a), queued(a)}', '    taskmachine.attempt a'].join('\n'));
    expect(new Set(telemetry.spans().map((span) => span.spanContext().traceId)).size).toBe(1);
  });

  it('without an active span each run is a trace of its own', async () => {
    const telemetry = makeTelemetry();
    const tracer = telemetry.provider.getTracer('test');
    const definition = flow('separate', (f) => void f.task('a', () => 1));
    const otel = openTelemetry({ tracer });
    await Promise.all([runFlow(definition, { listeners: [otel], ...quiet }), runFlow(definition, { listeners: [otel], ...quiet })]);
    const runs = telemetry.spans().filter((span) => span.name === 'taskmachine.run separate');
    expect(runs).toHaveLength(2);
    expect(runs[0]!.spanContext().traceId).not.toBe(runs[1]!.spanContext().traceId);
    expect(runs.every((span) => span.parentSpanContext === undefined)).toBe(true);
  });

  // Attempts on workers (executor 'workers') join the run's trace through the traceparent their
  // job carries: test/workers/traces.test.ts (it needs PostgreSQL).
});
