// OpenTelemetry across processes: an attempt handed to a worker carries its span's `traceparent`
// (the driver's `openTelemetry()` listener gives it through `attemptCarrier`), and the worker runs
// task code under that span, so the spans task code makes on the worker join the run's trace —
// the in-process suite's promise (test/otel/traces.test.ts) kept for `executor: 'workers'`.
// Driver and worker share one process here (one in-memory exporter sees both sides); a worker
// process loads the same module for jobs that carry a traceparent.
import { trace } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { flow, runFlow } from '../../src/index.ts';
import { openTelemetry } from '../../src/otel/index.ts';
import { startWorker, type WorkerHandle } from '../../src/workers/index.ts';
import { makeTelemetry, useAsyncContext } from '../otel/harness.ts';
import { openStore, postgres, skipReason } from '../helpers/postgresTest.ts';

let removeContext: () => void;
beforeAll(() => (removeContext = useAsyncContext()));
afterAll(() => removeContext());
const workers: WorkerHandle[] = [];
afterEach(async () => {
  for (const worker of workers.splice(0)) await worker.stop({ graceMs: 0 });
});

describe.skipIf(postgres === undefined)(`traces of attempts on workers${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`, () => {
  it('task code on a worker runs under its attempt’s span: its own spans join the run’s trace', async () => {
    const store = await openStore();
    const telemetry = makeTelemetry();
    const tracer = telemetry.provider.getTracer('test');
    const traced = flow('traced', (f) => {
      const fetch = f.task('fetch', () => {
        // What an instrumented HTTP client does: a span under whatever is active.
        tracer.startSpan('GET /rows').end();
        return [1, 2];
      });
      f.map('load', fetch, ({ item }) => {
        tracer.startSpan(`INSERT ${String(item)}`).end();
      });
    });
    const lines: string[] = [];
    workers.push(await startWorker({ store, flows: [traced], log: (line) => lines.push(line), adopt: false }));
    const run = await runFlow(traced, { store, executor: 'workers', listeners: [openTelemetry({ tracer })], log: (line) => lines.push(line) });
    expect(run.state, lines.join('\n')).toBe('success');

    const spans = telemetry.spans();
    const byName = (name: string) => spans.find((span) => span.name === name);
    const runSpan = byName('taskmachine.run traced')!;
    expect(runSpan).toBeDefined();
    for (const [inner, attempt] of [
      ['GET /rows', 'taskmachine.attempt fetch'],
      ['INSERT 1', 'taskmachine.attempt load[0]'],
      ['INSERT 2', 'taskmachine.attempt load[1]'],
    ] as const) {
      const made = byName(inner);
      const parent = byName(attempt);
      expect(made, inner).toBeDefined();
      expect(parent, attempt).toBeDefined();
      expect(made!.spanContext().traceId).toBe(runSpan.spanContext().traceId);
      expect(made!.parentSpanContext?.spanId, `${inner} under ${attempt}`).toBe(parent!.spanContext().spanId);
    }
    // The attempt spans are the driver's, one per attempt, under the run span.
    expect(spans.filter((span) => span.name.startsWith('taskmachine.attempt')).map((span) => span.parentSpanContext?.spanId)).toEqual([
      runSpan.spanContext().spanId,
      runSpan.spanContext().spanId,
      runSpan.spanContext().spanId,
    ]);
    // Outside the attempt, nothing is active on the worker.
    expect(trace.getActiveSpan()).toBeUndefined();
  });
});
