import { describe, expect, it } from 'vitest';
import { createTestClock } from '../../src/clock.ts';
import { ctx, FailTask, flow, IllegalTransitionError, startFlow, TaskCheckpointed, type TaskInstanceChange } from '../../src/index.ts';

const quiet = { log: () => {} };

describe('handle.setState', () => {
  it('manual success of a failed task clears its upstream_failed downstream, which then runs', async () => {
    let loads = 0;
    const handle = startFlow(
      flow('repair', (f) => {
        const extract = f.task('extract', () => {
          throw new FailTask('source down');
        });
        const load = f.task('load', () => ++loads, { after: [extract] });
        f.task('report', () => 'reported', { after: [load] });
      }),
      quiet,
    );
    const changes: TaskInstanceChange[] = [];
    handle.subscribe((c) => changes.push(c));
    const failed = await handle.done;
    expect(failed.state).toBe('failed');
    expect(failed.tasks['load']!.state).toBe('upstream_failed');
    expect(failed.tasks['report']!.state).toBe('upstream_failed');

    handle.setState('extract', 'success');
    const run = await handle.done;
    expect(run.state).toBe('success');
    expect(run.tasks['extract']!.state).toBe('success');
    expect(run.tasks['load']).toMatchObject({ state: 'success', result: 1 });
    expect(run.tasks['report']!.state).toBe('success');
    const manual = changes.find((c) => c.event === 'SET_STATE')!;
    expect(manual).toMatchObject({ previousState: 'failed', state: 'success', msg: 'manually_set_to_success' });
  });

  it('manual failed on a running task aborts its attempt and discards its result', async () => {
    const clock = createTestClock();
    const signals: AbortSignal[] = [];
    let finish!: () => void;
    const handle = startFlow(
      flow('stuck', (f) => {
        f.task('t', async () => {
          signals.push(ctx()!.signal);
          await new Promise<void>((resolve) => (finish = resolve));
          return 'late';
        });
      }),
      { clock, ...quiet },
    );
    const changes: TaskInstanceChange[] = [];
    handle.subscribe((c) => changes.push(c));
    await clock.flush();
    expect(handle.taskInstance('t')!.state).toBe('running');
    handle.setState('t', 'failed');
    expect(signals[0]!.aborted).toBe(true);
    const run = await handle.done;
    finish();
    await clock.flush();
    expect(run.tasks['t']).toMatchObject({ state: 'failed', failureKind: 'manual' });
    expect(handle.snapshot().tasks['t']!.state).toBe('failed');
    const change = changes.at(-1)!;
    expect(change).toMatchObject({ previousState: 'running', state: 'failed', msg: 'manually_set_to_failed' });
    expect(change.error).toBeInstanceOf(Error);
    expect(change.error!.message).toBe("task instance 't' was manually set to failed");
  });

  it('setting the state a task is already in is illegal and changes nothing', async () => {
    const handle = startFlow(flow('same', (f) => void f.task('t', () => 1)), quiet);
    await handle.done;
    expect(() => handle.setState('t', 'success')).toThrow(IllegalTransitionError);
    expect(() => handle.setState('t', 'running' as never)).toThrow("state must be 'success', 'failed' or 'skipped'");
    expect(handle.snapshot().state).toBe('success');
  });
});

describe('handle.clear', () => {
  it('clearing a finished task runs it again with one more attempt', async () => {
    let calls = 0;
    const handle = startFlow(flow('again', (f) => void f.task('t', () => ++calls)), quiet);
    const first = await handle.done;
    expect(first.tasks['t']).toMatchObject({ attempts: 1, result: 1 });
    handle.clear('t');
    const second = await handle.done;
    expect(second.tasks['t']).toMatchObject({ state: 'success', attempts: 2, maxAttempts: 2, result: 2 });
  });

  it('clearing a running task goes through restarting and retries even with no retries left', async () => {
    const clock = createTestClock();
    const states: string[] = [];
    const handle = startFlow(
      flow('restart', (f) => {
        f.task('t', async () => {
          if (ctx()!.attempt === 1) await new Promise(() => {});
          return `attempt ${ctx()!.attempt}`;
        });
      }),
      { clock, ...quiet },
    );
    handle.subscribe((c) => states.push(c.state));
    await clock.flush();
    handle.clear('t');
    await clock.advance(0);
    const run = await handle.done;
    expect(states).toEqual(['scheduled', 'queued', 'running', 'restarting', 'up_for_retry', 'scheduled', 'queued', 'running', 'success']);
    expect(run.tasks['t']).toMatchObject({ state: 'success', attempts: 2, result: 'attempt 2' });
  });

  it('clearing a task that never ran is illegal', async () => {
    const clock = createTestClock();
    const handle = startFlow(
      flow('later', (f) => {
        const a = f.task('a', () => ctx()!.defer({ event: true }));
        f.task('b', () => 1, { after: [a] });
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    expect(() => handle.clear('b')).toThrow(/event CLEAR is not legal in state 'none'/);
    handle.cancel();
  });
});

describe('handle.clear with downstream / upstream', () => {
  function chain() {
    const runs: string[] = [];
    const definition = flow('chain', (f) => {
      const a = f.task('a', () => runs.push('a'));
      const b = f.task('b', () => runs.push('b'), { after: [a] });
      const c = f.task('c', () => runs.push('c'), { after: [b] });
      f.task('side', () => runs.push('side'), { after: [a] });
      f.task('d', () => runs.push('d'), { after: [c] });
    });
    return { runs, definition };
  }

  it('downstream: the task and everything after it run again; the rest keeps its results', async () => {
    const { runs, definition } = chain();
    const handle = startFlow(definition, quiet);
    await handle.done;
    runs.length = 0;
    handle.clear('b', { downstream: true });
    const run = await handle.done;
    expect(run.state).toBe('success');
    expect(runs).toEqual(['b', 'c', 'd']);
    expect(run.tasks['b']!.attempts).toBe(2);
    expect(run.tasks['a']!.attempts).toBe(1);
  });

  it('upstream: the task and everything before it run again, nothing after it', async () => {
    const { runs, definition } = chain();
    const handle = startFlow(definition, quiet);
    await handle.done;
    runs.length = 0;
    handle.clear('c', { upstream: true });
    await handle.done;
    // c's downstream d is not cleared, so it keeps its result and does not run.
    expect([...runs].sort()).toEqual(['a', 'b', 'c']);
  });

  it('a named instance that cannot be cleared refuses, and nothing of its family changes', async () => {
    let release!: () => void;
    const handle = startFlow(flow('waits', (f) => {
      const a = f.task('a', () => 1);
      f.task('b', () => new Promise<void>((resolve) => (release = resolve)), { after: [a] });
      f.task('c', () => 3, { after: ['b'] });
    }), quiet);
    await new Promise<void>((resolve) => handle.subscribe((change) => change.state === 'running' && change.taskInstance.key === 'b' && resolve()));
    expect(() => handle.clear('c', { upstream: true })).toThrow(IllegalTransitionError);
    expect(handle.taskInstance('a')!.attempts).toBe(1);
    expect(handle.taskInstance('b')!.state).toBe('running');
    release();
    expect((await handle.done).state).toBe('success');
  });
});

describe('handle.resumeTask with a payload', () => {
  it('the resumed attempt sees the payload as ctx().event', async () => {
    const handle = startFlow(flow('approval', (f) => {
      f.task('approve', () => {
        const answer = ctx()!.event as { approved: boolean } | undefined;
        if (answer === undefined) throw new TaskCheckpointed('waiting for a person');
        return answer.approved ? 'approved' : 'rejected';
      });
    }), quiet);
    expect((await handle.settled()).tasks['approve']!.state).toBe('checkpointed');
    handle.resumeTask('approve', { approved: true });
    expect((await handle.done).tasks['approve']!.result).toBe('approved');
  });
});
