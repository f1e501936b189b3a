import { describe, expect, it } from 'vitest';
import { createTestClock } from '../../src/clock.ts';
import { ctx, DeferralTimeoutError, flow, IllegalTransitionError, startFlow, TaskCheckpointed } from '../../src/index.ts';

const quiet = { log: () => {} };

describe('deferral', () => {
  it('a deferred task holds no slot, keeps its attempt, and gets the event payload on resume', async () => {
    const clock = createTestClock();
    const seen: Array<{ key: string; attempt: number; event: unknown }> = [];
    const handle = startFlow(
      flow('approval', (f) => {
        f.task('await-approval', () => {
          seen.push({ key: 'await-approval', attempt: ctx()!.attempt, event: ctx()!.event });
          if (ctx()!.event === undefined) ctx()!.defer({ event: true });
          return ctx()!.event;
        });
        f.task('other', () => seen.push({ key: 'other', attempt: ctx()!.attempt, event: undefined }));
      }),
      { clock, concurrency: 1, ...quiet },
    );
    const parked = await handle.settled();
    expect(parked.state).toBe('running');
    expect(parked.waitingOn).toEqual(['await-approval']);
    expect(handle.taskInstance('await-approval')!.state).toBe('deferred');
    // With one slot, `other` could only run because the deferred task released its slot.
    expect(seen.map((s) => s.key)).toEqual(['await-approval', 'other']);
    handle.sendEvent('await-approval', { approvedBy: 'ada' });
    const run = await handle.done;
    expect(run.tasks['await-approval']).toMatchObject({ state: 'success', attempts: 1, result: { approvedBy: 'ada' } });
    expect(seen[2]).toEqual({ key: 'await-approval', attempt: 1, event: { approvedBy: 'ada' } });
  });

  it('resumes at `until`, and fails with DeferralTimeoutError when the timeout comes first', async () => {
    const clock = createTestClock(10_000);
    const handle = startFlow(
      flow('timers', (f) => {
        f.task('wake', () => {
          if (ctx()!.resumeData === undefined && clock.now() < 10_500) ctx()!.defer({ until: new Date(10_500) });
          return clock.now();
        });
        f.task('starve', () => ctx()!.defer({ event: true, timeout: 1_000 }), { retries: 0 });
      }),
      { clock, ...quiet },
    );
    await clock.advance(500);
    expect(handle.taskInstance('wake')).toMatchObject({ state: 'success', result: 10_500, attempts: 1 });
    expect(handle.taskInstance('starve')!.state).toBe('deferred');
    await clock.advance(500);
    const run = await handle.done;
    expect(run.tasks['starve']!.state).toBe('failed');
    expect(run.tasks['starve']!.error).toBeInstanceOf(DeferralTimeoutError);
    expect(() => handle.sendEvent('starve', 1)).toThrow(IllegalTransitionError);
  });

  it('sendEvent to a task that deferred without event: true is rejected and changes nothing', async () => {
    const clock = createTestClock();
    const handle = startFlow(
      flow('until-only', (f) => {
        f.task('t', () => ctx()!.defer({ until: 5_000 }));
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    expect(() => handle.sendEvent('t', 'x')).toThrow(/deferred without event: true/);
    expect(handle.taskInstance('t')!.state).toBe('deferred');
    handle.cancel();
  });

  it('rejects defer() without any way to resume', async () => {
    const clock = createTestClock();
    const handle = startFlow(
      flow('bad-defer', (f) => {
        f.task('t', () => ctx()!.defer({}));
      }),
      { clock, ...quiet },
    );
    const run = await handle.done;
    expect(run.tasks['t']!.error!.message).toMatch(/give at least one of until, event: true or timeout/);
  });
});

describe('reschedule (sensor poke)', () => {
  it('goes to up_for_reschedule without a slot and keeps the attempt number', async () => {
    const clock = createTestClock();
    const pokes: number[] = [];
    const handle = startFlow(
      flow('sensor', (f) => {
        f.task('wait-for-file', () => {
          pokes.push(ctx()!.attempt);
          if (pokes.length < 3) ctx()!.reschedule(1_000);
          return 'found';
        });
        f.task('other', () => 'ran');
      }),
      { clock, concurrency: 1, ...quiet },
    );
    await clock.flush();
    expect(handle.taskInstance('wait-for-file')!.state).toBe('up_for_reschedule');
    expect(handle.taskInstance('other')!.state).toBe('success');
    await clock.advance(1_000);
    await clock.advance(1_000);
    const run = await handle.done;
    expect(pokes).toEqual([1, 1, 1]);
    expect(run.tasks['wait-for-file']).toMatchObject({ state: 'success', attempts: 1, result: 'found' });
  });
});

describe('checkpointed', () => {
  it('parks the task (downstream waits), fires with checkpointData, and resumes manually with resumeData', async () => {
    const clock = createTestClock();
    const handle = startFlow(
      flow('train', (f) => {
        const train = f.task('train', () => {
          const from = ctx()!.resumeData as { epoch: number } | undefined;
          if (from === undefined) throw new TaskCheckpointed({ epoch: 5 });
          return `resumed at ${from.epoch}, attempt ${ctx()!.attempt}`;
        }, { retries: 0 });
        f.task('eval', ({ upstream }) => `evaluated ${upstream.train}`, { after: [train], trigger: 'all_done' });
      }),
      { clock, ...quiet },
    );
    const checkpoints: unknown[] = [];
    handle.subscribe((c) => c.msg === 'checkpointed' && checkpoints.push(c.checkpointData));
    const parked = await handle.settled();
    expect(parked.state).toBe('running');
    expect(parked.waitingOn).toEqual(['train']);
    expect(parked.tasks['train']!.state).toBe('checkpointed');
    expect(parked.tasks['eval']!.state).toBe('none');
    expect(checkpoints).toEqual([{ epoch: 5 }]);
    handle.resumeTask('train');
    const run = await handle.done;
    expect(run.tasks['train']).toMatchObject({ state: 'success', attempts: 1, result: 'resumed at 5, attempt 1' });
    expect(run.tasks['eval']!.result).toBe('evaluated resumed at 5, attempt 1');
  });

  it('resumes automatically after resumeAfter without consuming a retry; checkpointData is null when none is given', async () => {
    const clock = createTestClock();
    let runs = 0;
    const handle = startFlow(
      flow('auto', (f) => {
        f.task('t', () => {
          runs++;
          if (runs === 1) throw new TaskCheckpointed();
          return ctx()!.resumeData;
        }, { resumeAfter: 5_000 });
      }),
      { clock, ...quiet },
    );
    const data: unknown[] = [];
    handle.subscribe((c) => c.event === 'CHECKPOINT' && data.push(c.checkpointData));
    await clock.advance(4_999);
    expect(handle.taskInstance('t')!.state).toBe('checkpointed');
    await clock.advance(1);
    const run = await handle.done;
    expect(data).toEqual([null]);
    expect(run.tasks['t']).toMatchObject({ state: 'success', attempts: 1, maxAttempts: 1, result: null });
  });

  it('resumeTask on a task that is not checkpointed throws IllegalTransitionError', async () => {
    const handle = startFlow(flow('x', (f) => void f.task('t', () => 1)), quiet);
    await handle.done;
    expect(() => handle.resumeTask('t')).toThrow(IllegalTransitionError);
    expect(() => handle.resumeTask('nope')).toThrow("has no task instance 'nope'. Known keys: t.");
  });
});
