// handle.settled() is how a caller waits for a (resumed) run to finish or to need a manual
// resume. Found while testing graceful shutdown and resume.
import { describe, expect, it } from 'vitest';
import { createTestClock } from '../../src/clock.ts';
import { ctx, flow, startFlow, TaskCheckpointed, type FlowRunRecord } from '../../src/index.ts';
import { memoryStore } from '../../src/stores/index.ts';

const quiet = { log: () => {} };

/** Lets pending callbacks run (no time passes): a promise that should be settled by now is. */
async function flush(): Promise<void> {
  for (let round = 0; round < 10; round++) await new Promise<void>((resolve) => setImmediate(resolve));
}

const approval = flow('approval', (f) => {
  f.task('approve', () => {
    const data = ctx()!.resumeData as { by: string } | undefined;
    if (data === undefined) throw new TaskCheckpointed({ by: 'ada' });
    return data.by;
  });
});

describe('handle.settled()', () => {
  it('called again while the run already waits for resumeTask, it resolves with the waiting run', async () => {
    const handle = startFlow(approval, quiet);
    const first = await handle.settled();
    expect(first.waitingOn).toEqual(['approve']);
    let second: FlowRunRecord | undefined;
    void handle.settled().then((record) => (second = record));
    await flush();
    expect(second?.waitingOn).toEqual(['approve']);
  });

  it('called on a resumed run after its timers fired and it waits for resumeTask, it resolves', async () => {
    const store = memoryStore();
    const clock = createTestClock();
    const definition = flow('approval-after-retry', (f) => {
      const flaky = f.task(
        'flaky',
        () => {
          if (ctx()!.attempt === 1) throw new Error('first attempt fails');
          return 'ok';
        },
        { retries: 1, retryDelay: 5_000 },
      );
      f.task('approve', () => {
        const data = ctx()!.resumeData as { by: string } | undefined;
        if (data === undefined) throw new TaskCheckpointed({ by: 'ada' });
        return data.by;
      }, { after: [flaky] });
    });
    const first = startFlow(definition, { store, runId: 'r', clock, ...quiet });
    await flush();
    expect(first.taskInstance('flaky')!.state).toBe('up_for_retry');
    await first.shutdown({ graceMs: 0 });

    const resumed = startFlow(definition, { store, runId: 'r', resume: true, clock, ...quiet });
    await clock.advance(5_000);
    expect(resumed.snapshot().waitingOn).toEqual(['approve']);
    let settled: FlowRunRecord | undefined;
    void resumed.settled().then((record) => (settled = record));
    await flush();
    expect(settled?.waitingOn).toEqual(['approve']);
  });

  it('called before the run waits, it resolves with the waiting run', async () => {
    const handle = startFlow(approval, quiet);
    const record = await handle.settled();
    expect(record).toMatchObject({ state: 'running', waitingOn: ['approve'] });
    handle.resumeTask('approve');
    expect((await handle.done).tasks['approve']!.result).toBe('ada');
  });
});
