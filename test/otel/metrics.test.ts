// taskmachine/otel metrics, read back with a manual metric reader. Durations come from the run's
// clock, so a test clock makes them exact.
import { describe, expect, it } from 'vitest';
import { ctx, flow, startFlow } from '../../src/index.ts';
import { METRICS, openTelemetry } from '../../src/otel/index.ts';
import { createTestClock, type TestClock } from '../../src/clock.ts';
import { attributesOf, makeTelemetry } from './harness.ts';

/** Resolves after `ms` of the run's clock. */
const after = (clock: TestClock, ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));

describe('metrics', () => {
  it('attempts by outcome, attempt durations, run duration by final state; running and queued back to 0 at the end', async () => {
    const telemetry = makeTelemetry();
    const clock = createTestClock();
    const definition = flow('billing', (f) => {
      const fetch = f.task('fetch', async () => {
        await after(clock, 250);
        if (ctx()!.attempt === 1) throw new Error('timeout talking to the bank');
        return 3;
      }, { retries: 1, retryDelay: 1_000 });
      f.task('invoice', async () => void (await after(clock, 40)), { after: fetch });
    });
    const otel = openTelemetry({ meter: telemetry.meterProvider.getMeter('test'), tracer: telemetry.provider.getTracer('test') });

    const handle = startFlow(definition, { clock, concurrency: 1, listeners: [otel], log: () => {} });
    await clock.flush();
    // While fetch's first attempt runs: one running, nothing queued.
    expect((await telemetry.points(METRICS.running)).map((p) => p.value)).toEqual([1]);
    await clock.runAll();
    expect((await handle.done).state).toBe('success');

    const attempts = await telemetry.points(METRICS.attempts);
    expect(attempts.map((p) => ({ ...attributesOf(p), value: p.value }))).toEqual([
      { 'taskmachine.flow_id': 'billing', 'taskmachine.task_id': 'fetch', 'taskmachine.outcome': 'up_for_retry', value: 1 },
      { 'taskmachine.flow_id': 'billing', 'taskmachine.task_id': 'fetch', 'taskmachine.outcome': 'success', value: 1 },
      { 'taskmachine.flow_id': 'billing', 'taskmachine.task_id': 'invoice', 'taskmachine.outcome': 'success', value: 1 },
    ]);
    const durations = await telemetry.points(METRICS.attemptDuration);
    expect(durations.map((p) => ({ task: p.attributes['taskmachine.task_id'], outcome: p.attributes['taskmachine.outcome'], value: p.value }))).toEqual([
      { task: 'fetch', outcome: 'up_for_retry', value: expect.objectContaining({ count: 1, sum: 0.25 }) },
      { task: 'fetch', outcome: 'success', value: expect.objectContaining({ count: 1, sum: 0.25 }) },
      { task: 'invoice', outcome: 'success', value: expect.objectContaining({ count: 1, sum: 0.04 }) },
    ]);
    const runs = await telemetry.points(METRICS.runDuration);
    // 250 (attempt 1) + 1000 (retry delay) + 250 (attempt 2) + 40 (invoice).
    expect(runs.map((p) => ({ ...attributesOf(p), value: p.value }))).toEqual([
      { 'taskmachine.flow_id': 'billing', 'taskmachine.state': 'success', value: expect.objectContaining({ count: 1, sum: 1.54 }) },
    ]);
    expect((await telemetry.points(METRICS.running)).map((p) => p.value)).toEqual([0]);
    expect((await telemetry.points(METRICS.queued)).map((p) => p.value)).toEqual([0]);
  });

  it('queued counts instances that wait for a slot', async () => {
    const telemetry = makeTelemetry();
    const clock = createTestClock();
    const definition = flow('fan', (f) => {
      for (const id of ['a', 'b', 'c']) f.task(id, () => after(clock, 10));
    });
    const handle = startFlow(definition, {
      clock,
      concurrency: 1,
      listeners: [openTelemetry({ meter: telemetry.meterProvider.getMeter('test'), tracer: telemetry.provider.getTracer('test') })],
      log: () => {},
    });
    await clock.flush();
    expect((await telemetry.points(METRICS.running)).map((p) => p.value)).toEqual([1]);
    expect((await telemetry.points(METRICS.queued)).map((p) => p.value)).toEqual([2]);
    await clock.runAll();
    await handle.done;
    expect((await telemetry.points(METRICS.queued)).map((p) => p.value)).toEqual([0]);
  });

  it('a failed run is recorded under its final state', async () => {
    const telemetry = makeTelemetry();
    const clock = createTestClock();
    const handle = startFlow(
      flow('broken', (f) => {
        f.task('x', () => {
          throw new Error('no');
        });
      }),
      { clock, listeners: [openTelemetry({ meter: telemetry.meterProvider.getMeter('test'), tracer: telemetry.provider.getTracer('test') })], log: () => {} },
    );
    await clock.runAll();
    await handle.done;
    const runs = await telemetry.points(METRICS.runDuration);
    expect(runs.map((p) => p.attributes['taskmachine.state'])).toEqual(['failed']);
    expect((await telemetry.points(METRICS.attempts)).map((p) => p.attributes['taskmachine.outcome'])).toEqual(['failed']);
  });
});
