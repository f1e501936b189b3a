// Result records: written once per successful attempt, never for a failed one, never again for a
// result a resumed run reuses. Counted at the store boundary (a wrapper around memoryStore).
import { describe, expect, it } from 'vitest';
import { ctx, FailTask, flow, runFlow, startFlow, TaskCheckpointed } from '../../src/index.ts';
import { memoryStore } from '../../src/stores/index.ts';
import { instrument, recordProblems } from './fixtures/storeChecks.ts';

const quiet = { log: () => {} };

describe('result records', () => {
  it('a failed attempt writes none; the successful retry writes exactly one, in the batch of its success', async () => {
    const { store, calls } = instrument(memoryStore());
    const run = await runFlow(
      flow('results', (f) => {
        const flaky = f.task(
          'flaky',
          () => {
            if (ctx()!.attempt < 3) throw new Error(`attempt ${ctx()!.attempt} fails`);
            return 'third time';
          },
          { retries: 2 },
        );
        f.task('after', ({ upstream }) => `${upstream.flaky}!`, { after: [flaky] });
        f.task('doomed', () => {
          throw new Error('always');
        }, { retries: 1 });
        f.task('refused', () => {
          throw new FailTask('no');
        }, { retries: 3 });
      }),
      { store, runId: 'r', ...quiet },
    );
    expect(run.tasks['flaky']).toMatchObject({ state: 'success', attempts: 3 });
    expect(run.tasks['doomed']).toMatchObject({ state: 'failed', attempts: 2 });
    expect(run.tasks['refused']).toMatchObject({ state: 'failed', attempts: 1 });
    expect(calls.results.map(({ key, attempt, value }) => ({ key, attempt, value }))).toEqual([
      { key: 'flaky', attempt: 3, value: 'third time' },
      { key: 'after', attempt: 1, value: 'third time!' },
    ]);
    // Each result is committed together with the transition to success.
    for (const batch of calls.batches) {
      for (const result of batch.results ?? []) {
        expect(batch.transitions).toContainEqual(expect.objectContaining({ key: result.key, from: 'running', to: 'success' }));
      }
    }
    const loaded = (await store.loadRun('r'))!;
    expect(loaded.results.map((r) => [r.key, r.attempt])).toEqual([
      ['flaky', 3],
      ['after', 1],
    ]);
    expect(await recordProblems(store, 'r')).toEqual([]);
  });

  it('a resumed run reuses stored results and writes result records only for the tasks it runs', async () => {
    const { store, calls } = instrument(memoryStore());
    const ran: string[] = [];
    const definition = flow('resumable', (f) => {
      const extract = f.task('extract', () => {
        ran.push('extract');
        return [1, 2, 3];
      });
      const double = f.map('double', extract, ({ item }) => {
        ran.push(ctx()!.taskKey);
        return (item as number) * 2;
      });
      const approval = f.task('approval', () => {
        ran.push('approval');
        const data = ctx()!.resumeData as { approvedBy: string } | undefined;
        if (data === undefined) throw new TaskCheckpointed({ approvedBy: 'nobody yet' });
        return data.approvedBy;
      });
      f.task('report', ({ upstream }) => ({ sum: (upstream.double as number[]).reduce((a, b) => a + b, 0), by: upstream.approval as string }), {
        after: [double, approval],
      });
    });

    const first = startFlow(definition, { store, runId: 'r', ...quiet });
    const parked = await first.settled();
    expect(parked.waitingOn).toEqual(['approval']);
    await first.shutdown({ graceMs: 0 });
    const firstResults = calls.results.map((r) => r.key);
    expect(firstResults.sort()).toEqual(['double[0]', 'double[1]', 'double[2]', 'extract']);
    expect(ran.sort()).toEqual(['approval', 'double[0]', 'double[1]', 'double[2]', 'extract']);

    calls.results.length = 0;
    ran.length = 0;
    const second = startFlow(definition, { store, runId: 'r', resume: true, ...quiet });
    const stillParked = await second.settled();
    expect(stillParked.waitingOn).toEqual(['approval']);
    expect(stillParked.tasks['double[1]']).toMatchObject({ state: 'success', result: 4 });
    second.resumeTask('approval');
    const run = await second.done;
    expect(run.state).toBe('success');
    expect(run.tasks['report']!.result).toEqual({ sum: 12, by: 'nobody yet' });
    expect(ran).toEqual(['approval']);
    expect(calls.results.map((r) => [r.key, r.attempt])).toEqual([
      ['approval', 1],
      ['report', 1],
    ]);

    // Resuming the finished run writes nothing new at all.
    calls.results.length = 0;
    ran.length = 0;
    const again = await runFlow(definition, { store, runId: 'r', resume: true, ...quiet });
    expect(again.state).toBe('success');
    expect(again.tasks['report']!.result).toEqual({ sum: 12, by: 'nobody yet' });
    expect(ran).toEqual([]);
    expect(calls.results).toEqual([]);
    const loaded = (await store.loadRun('r'))!;
    expect(loaded.results).toHaveLength(6);
    expect(await recordProblems(store, 'r')).toEqual([]);
  });
});
