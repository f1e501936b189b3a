// taskmachine/otel across a run's life beyond one process: a shutdown, a resume (a new run span
// linked to the earlier one through the run's labels), an interrupted attempt, a reopened run;
// and the options.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ctx, flow, runFlow, startFlow } from '../../src/index.ts';
import { ATTR, METRICS, openTelemetry, TRACEPARENT_LABEL } from '../../src/otel/index.ts';
import { createTestClock } from '../../src/clock.ts';
import { memoryStore } from '../../src/stores/index.ts';
import { makeTelemetry, useAsyncContext } from './harness.ts';

let removeContext: () => void;
beforeAll(() => (removeContext = useAsyncContext()));
afterAll(() => removeContext());

const quiet = { log: () => {} };

describe('shutdown and resume', () => {
  it('a shutdown ends the open spans; the resumed run’s span links to the earlier one; the attempt cut off is an interruption', async () => {
    const telemetry = makeTelemetry();
    const otel = openTelemetry({ tracer: telemetry.provider.getTracer('test'), meter: telemetry.meterProvider.getMeter('test') });
    const store = memoryStore();
    const clock = createTestClock(1_000);
    let resumed = false;
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const definition = flow('export', (f) => {
      const early = f.task('early', () => 'ok');
      f.task('lingering', async () => {
        if (resumed) return 'done';
        started();
        // Ignores the shutdown's abort: still running when the process lets go of the run.
        return new Promise<string>(() => {});
      }, { after: early });
    });

    const first = startFlow(definition, { store, runId: 'export', clock, listeners: [otel], ...quiet });
    await running;
    const stopping = first.shutdown({ graceMs: 30 });
    await clock.advance(30);
    expect((await stopping).state).toBe('running');
    const show = ['final_state', 'shutdown', 'resumed'];
    expect(telemetry.tree(show)).toBe(
      [
        'taskmachine.run export [final_state=running shutdown=true] {scheduled(early), queued(early), scheduled(lingering), queued(lingering)}',
        '  taskmachine.attempt early [final_state=success]',
        // Cut off by the shutdown after its grace period: interrupted there (a graceful interruption).
        '  taskmachine.attempt lingering [final_state=interrupted] {interrupted}',
      ].join('\n'),
    );
    const firstRun = telemetry.spans().find((span) => span.name === 'taskmachine.run export')!;
    const { traceId, spanId } = firstRun.spanContext();
    expect((await store.getRun('export'))?.labels).toEqual({ [TRACEPARENT_LABEL]: `00-${traceId}-${spanId}-01` });

    resumed = true;
    telemetry.exporter.reset();
    const second = startFlow(definition, { store, runId: 'export', resume: true, clock, listeners: [otel], ...quiet });
    await clock.runAll();
    expect((await second.done).state).toBe('success');
    expect(telemetry.tree(show)).toBe(
      [
        // (Interrupted by the shutdown already: the resume only queues it again.)
        'taskmachine.run export [final_state=success resumed=true] {queued(lingering)} ->elsewhere',
        '  taskmachine.attempt lingering [final_state=success]',
      ].join('\n'),
    );
    const secondRun = telemetry.spans().find((span) => span.name === 'taskmachine.run export')!;
    expect(secondRun.links.map((link) => link.context.spanId)).toEqual([spanId]);
    expect(secondRun.spanContext().traceId).not.toBe(traceId);
    // The next resume would link to this span.
    expect((await store.getRun('export'))?.labels?.[TRACEPARENT_LABEL]).toContain(secondRun.spanContext().spanId);
    const outcomes = (await telemetry.points(METRICS.attempts)).map((p) => `${String(p.attributes[ATTR.taskId])}:${String(p.attributes[ATTR.outcome])}=${String(p.value)}`);
    expect(outcomes.sort()).toEqual(['early:success=1', 'lingering:interrupted=1', 'lingering:success=1']);
    expect((await telemetry.points(METRICS.running)).map((p) => p.value)).toEqual([0]);
  });

  it('a finished run that gets work again (a clear) continues under a new run span linked to the one that ended', async () => {
    const telemetry = makeTelemetry();
    const handle = startFlow(flow('again', (f) => void f.task('a', () => ctx()!.attempt)), {
      listeners: [openTelemetry({ tracer: telemetry.provider.getTracer('test'), instanceEvents: false })],
      ...quiet,
    });
    await handle.done;
    handle.clear('a');
    expect((await handle.done).tasks['a']).toMatchObject({ state: 'success' });
    expect(telemetry.tree(['final_state', 'reopened'])).toBe(
      [
        'taskmachine.run again [final_state=success]',
        '  taskmachine.attempt a [final_state=success]',
        'taskmachine.run again [final_state=success reopened=true] ->taskmachine.run again',
        '  taskmachine.attempt a [final_state=success] ->taskmachine.attempt a',
      ].join('\n'),
    );
  });
});

describe('options', () => {
  it('instanceEvents: false and logEvents: false leave those events out', async () => {
    const telemetry = makeTelemetry();
    await runFlow(flow('lean', (f) => void f.task('a', () => ctx()!.log('hello'))), {
      listeners: [openTelemetry({ tracer: telemetry.provider.getTracer('test'), instanceEvents: false, logEvents: false })],
      ...quiet,
    });
    expect(telemetry.tree([])).toBe(['taskmachine.run lean', '  taskmachine.attempt a'].join('\n'));
  });

  it('without an SDK (the global no-op tracer and meter) runs are unchanged and no label is stored', async () => {
    const store = memoryStore();
    const record = await runFlow(flow('plain', (f) => void f.task('a', () => 1)), { store, runId: 'p', listeners: [openTelemetry()], ...quiet });
    expect(record.state).toBe('success');
    expect((await store.getRun('p'))?.labels).toBeUndefined();
  });

  it('rejects an unknown option and a non-boolean switch, naming them', () => {
    expect(() => openTelemetry({ traces: true } as never)).toThrow("openTelemetry: unknown option 'traces'; known options: tracer, meter, recordResults, logEvents, instanceEvents");
    expect(() => openTelemetry({ recordResults: 'yes' } as never)).toThrow('openTelemetry: recordResults must be true or false');
  });
});
