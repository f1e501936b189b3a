// What a manual change discards and what it leaves alone (ManualControl): the reason a running
// attempt is aborted with, pending timers (retry, deferral timeout, resume) that must not fire
// after the change, which downstream instances a manual success resets, the keys clear() returns,
// and manual changes of a child instance.
import { describe, expect, it } from 'vitest';
import { createTestClock } from '../../src/clock.ts';
import { ctx, FailTask, flow, IllegalTransitionError, startFlow, TaskCheckpointed } from '../../src/index.ts';

const quiet = { log: () => {} };

/** A flow whose task `t` runs until its signal aborts; `started(n)` resolves once n attempts started. */
function hanging() {
  const signals: AbortSignal[] = [];
  const waiting: [number, () => void][] = [];
  const definition = flow('hangs', (f) => {
    f.task('t', () => {
      const { signal } = ctx()!;
      signals.push(signal);
      for (const [n, resolve] of waiting) if (signals.length >= n) resolve();
      return new Promise((resolve) => signal.addEventListener('abort', () => resolve('aborted')));
    });
  });
  const started = (n: number) => new Promise<void>((resolve) => (signals.length >= n ? resolve() : waiting.push([n, resolve])));
  return { definition, signals, started };
}

describe('the attempt a manual change discards', () => {
  it('set-state aborts the running attempt with a reason naming the instance and the state; skipped records no error', async () => {
    const { definition, signals, started } = hanging();
    const handle = startFlow(definition, quiet);
    await started(1);
    handle.setState('t', 'skipped');
    expect(signals[0]!.aborted).toBe(true);
    expect((signals[0]!.reason as Error).message).toBe("task instance 't' was manually set to skipped");
    const run = await handle.done;
    expect(run.tasks['t']).toMatchObject({ state: 'skipped' });
    expect(run.tasks['t']!.error).toBeUndefined();
  });

  it('set-state failed records a manual failure', async () => {
    const { definition, started } = hanging();
    const handle = startFlow(definition, quiet);
    await started(1);
    handle.setState('t', 'failed');
    const run = await handle.done;
    expect(run.tasks['t']!.state).toBe('failed');
    expect(run.tasks['t']!.error?.message).toBe("task instance 't' was manually set to failed");
  });

  it('clear of a running instance aborts it with "cleared while running", then runs it again', async () => {
    const { definition, signals, started } = hanging();
    const handle = startFlow(definition, quiet);
    await started(1);
    handle.clear('t');
    expect((signals[0]!.reason as Error).message).toBe("task instance 't' was cleared while running");
    await started(2);
    expect(signals).toHaveLength(2);
    expect(signals[1]!.aborted).toBe(false);
    handle.cancel();
    await handle.done;
  });
});

describe('timers a manual change cancels', () => {
  it('a manual success of an instance waiting to retry: its retry timer is dropped, it no longer fires', async () => {
    const clock = createTestClock();
    const lines: string[] = [];
    let attempts = 0;
    const handle = startFlow(
      flow('retrying', (f) => {
        f.task('t', () => {
          attempts++;
          throw new Error('flaky');
        }, { retries: 3, retryDelay: 1_000 });
        // Keeps the run open (a finished run drops its timers anyway).
        f.task('keep', () => (ctx()!.event === undefined ? ctx()!.defer({ event: true }) : 'kept'));
      }),
      { clock, log: (line: string) => lines.push(line) },
    );
    await clock.flush();
    expect(handle.taskInstance('t')!.state).toBe('up_for_retry');
    handle.setState('t', 'success');
    await clock.advance(5_000);
    expect(attempts).toBe(1);
    expect(handle.taskInstance('t')!.state).toBe('success');
    expect(lines.filter((line) => line.includes('timer'))).toEqual([]);
    handle.sendEvent('keep', 'go');
    expect((await handle.done).state).toBe('success');
  });

  it('a manual resume of an instance that resumes itself later: its resume timer is dropped', async () => {
    const clock = createTestClock();
    const lines: string[] = [];
    let attempts = 0;
    const handle = startFlow(
      flow('resuming', (f) => {
        f.task('t', () => {
          attempts++;
          if (attempts === 1) throw new TaskCheckpointed({ page: 1 });
          return `attempt ${attempts}`;
        }, { resumeAfter: 1_000 });
        f.task('keep', () => (ctx()!.event === undefined ? ctx()!.defer({ event: true }) : 'kept'));
      }),
      { clock, log: (line: string) => lines.push(line) },
    );
    await clock.flush();
    expect(handle.taskInstance('t')!.state).toBe('checkpointed');
    handle.resumeTask('t');
    await clock.advance(5_000);
    expect(handle.taskInstance('t')).toMatchObject({ state: 'success', result: 'attempt 2' });
    expect(attempts).toBe(2);
    expect(lines.filter((line) => line.includes('timer'))).toEqual([]);
    handle.sendEvent('keep', 'go');
    expect((await handle.done).state).toBe('success');
  });

  it('a task set by hand before its upstream finished is decided: the upstream finishing does not run it', async () => {
    let release!: () => void;
    const aMayEnd = new Promise<void>((resolve) => (release = resolve));
    let aStarted!: () => void;
    const started = new Promise<void>((resolve) => (aStarted = resolve));
    let bRuns = 0;
    const handle = startFlow(
      flow('decided', (f) => {
        const a = f.task('a', async () => {
          aStarted();
          await aMayEnd;
        });
        f.task('b', () => ++bRuns, { after: [a] });
      }),
      quiet,
    );
    await started;
    handle.setState('b', 'skipped');
    release();
    const run = await handle.done;
    expect(run.tasks['a']!.state).toBe('success');
    expect(run.tasks['b']).toMatchObject({ state: 'skipped', attempts: 0 });
    expect(bRuns).toBe(0);
  });

  it('an event sent before the deferral timed out: the timeout no longer fails the task', async () => {
    const clock = createTestClock();
    const handle = startFlow(
      flow('approval', (f) => {
        f.task('approve', () => {
          const event = ctx()!.event;
          if (event === undefined) ctx()!.defer({ event: true, timeout: 1_000 });
          // The next attempt waits for something else while the old timeout would have fired.
          if (event === 'first') ctx()!.defer({ event: true });
          return event;
        }, { retries: 0 });
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    handle.sendEvent('approve', 'first');
    await clock.flush();
    expect(handle.taskInstance('approve')!.state).toBe('deferred');
    await clock.advance(2_000);
    expect(handle.taskInstance('approve')!.state).toBe('deferred');
    handle.sendEvent('approve', 'second');
    expect((await handle.done).tasks['approve']).toMatchObject({ state: 'success', result: 'second' });
  });

  it('an event refused by a deferral that awaits none leaves its timer: it still resumes at `until`', async () => {
    const clock = createTestClock();
    const handle = startFlow(
      flow('until-only', (f) => {
        f.task('t', () => (ctx()!.attempt === 1 && clock.now() < 5_000 ? ctx()!.defer({ until: 5_000 }) : 'resumed'));
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    expect(() => handle.sendEvent('t', 'x')).toThrow(IllegalTransitionError);
    await clock.advance(5_000);
    expect((await handle.done).tasks['t']).toMatchObject({ state: 'success', result: 'resumed' });
  });
});

describe('resumeTask', () => {
  it('without a payload the next attempt sees the event it was last given', async () => {
    const seen: unknown[] = [];
    const handle = startFlow(
      flow('pages', (f) => {
        f.task('t', () => {
          const event = ctx()!.event;
          seen.push(event);
          if (seen.length < 3) throw new TaskCheckpointed({ page: seen.length });
          return 'done';
        });
      }),
      quiet,
    );
    await handle.settled();
    handle.resumeTask('t', { page: 2 });
    await handle.settled();
    handle.resumeTask('t');
    await handle.done;
    expect(seen).toEqual([undefined, { page: 2 }, { page: 2 }]);
  });
});

describe('a manual success resets the failed downstream it caused, no further', () => {
  it('a downstream that succeeded stops the reset; instances after it that failed on their own stay failed', async () => {
    const runs: string[] = [];
    const handle = startFlow(
      flow('repair', (f) => {
        const a = f.task('a', () => {
          throw new FailTask('source down');
        });
        const b = f.task('b', () => runs.push('b'), { after: [a], trigger: 'all_done' });
        f.task('c', () => {
          runs.push('c');
          throw new FailTask('c fails on its own');
        }, { after: [b] });
        f.task('d', () => runs.push('d'), { after: [a] });
      }),
      quiet,
    );
    const failed = await handle.done;
    expect([failed.tasks['b']!.state, failed.tasks['c']!.state, failed.tasks['d']!.state]).toEqual(['success', 'failed', 'upstream_failed']);
    runs.length = 0;
    handle.setState('a', 'success');
    const run = await handle.done;
    // d (upstream_failed because of a) runs; b kept its success, so c (failed on its own) was not reset.
    expect(runs).toEqual(['d']);
    expect(run.tasks['c']).toMatchObject({ state: 'failed', attempts: 1 });
    expect(run.tasks['b']).toMatchObject({ state: 'success', attempts: 1 });
  });

  it('a manual skip or failure resets nothing downstream', async () => {
    const handle = startFlow(
      flow('skip', (f) => {
        const a = f.task('a', () => {
          throw new FailTask('source down');
        });
        f.task('b', () => 'b', { after: [a] });
      }),
      quiet,
    );
    await handle.done;
    handle.setState('a', 'skipped');
    const run = await handle.done;
    expect(run.tasks['a']!.state).toBe('skipped');
    expect(run.tasks['b']).toMatchObject({ state: 'upstream_failed', attempts: 0 });
  });
});

describe('clear with a family', () => {
  function chain() {
    const runs: string[] = [];
    const definition = flow('chain', (f) => {
      const a = f.task('a', () => runs.push('a'));
      const b = f.task('b', () => {
        runs.push('b');
        throw new FailTask('b fails');
      }, { after: [a] });
      f.task('c', () => runs.push('c'), { after: [b] });
      f.task('side', () => runs.push('side'), { after: [a] });
    });
    return { runs, definition };
  }

  it('the first task with downstream clears everything after it and returns the keys it cleared, named first', async () => {
    const { runs, definition } = chain();
    const handle = startFlow(definition, quiet);
    const first = await handle.done;
    expect(first.tasks['c']!.state).toBe('upstream_failed');
    runs.length = 0;
    const cleared = handle.clear('a', { downstream: true });
    // c (upstream_failed) was reset by clearing b already; it is cleared once, not refused.
    expect(cleared[0]).toBe('a');
    expect([...cleared].sort()).toEqual(['a', 'b', 'c', 'side']);
    await handle.done;
    expect([...runs].sort()).toEqual(['a', 'b', 'side']);
  });

  it('instances that cannot be cleared (not run yet) are left out of the family and of the keys returned', async () => {
    let bStarted!: () => void;
    const started = new Promise<void>((resolve) => (bStarted = resolve));
    const handle = startFlow(
      flow('waits', (f) => {
        const a = f.task('a', () => 'a');
        const b = f.task('b', () => {
          bStarted();
          return new Promise(() => {});
        }, { after: [a] });
        f.task('c', () => 'c', { after: [b] });
      }),
      quiet,
    );
    await started;
    expect(handle.taskInstance('c')!.state).toBe('none');
    expect(handle.clear('a', { downstream: true })).toEqual(['a', 'b']);
    expect(handle.taskInstance('c')!.state).toBe('none');
    handle.cancel();
    await handle.done;
  });
});

describe('a child instance changed by hand', () => {
  it('a manual success of a running child settles its caller with the child’s (empty) result', async () => {
    let childStarted!: () => void;
    const started = new Promise<void>((resolve) => (childStarted = resolve));
    const handle = startFlow(
      flow('parent-child', (f) => {
        const child = f.subtask('child', () => {
          childStarted();
          return new Promise(() => {});
        });
        f.task('parent', async () => `child gave ${String(await ctx()!.call(child))}`);
        f.task('after', () => 'after', { after: ['parent'] });
      }),
      quiet,
    );
    await started;
    handle.setState('parent/child#0', 'success');
    const run = await handle.done;
    expect(run.state).toBe('success');
    expect(run.tasks['parent']).toMatchObject({ state: 'success', result: 'child gave undefined' });
    expect(run.tasks['parent/child#0']!.state).toBe('success');
    expect(run.tasks['after']!.state).toBe('success');
  });

  it('clearing a finished child with downstream clears just the child', async () => {
    let childRuns = 0;
    const handle = startFlow(
      flow('parent-child', (f) => {
        const child = f.subtask('child', () => ++childRuns);
        f.task('parent', async () => ctx()!.call(child));
        f.task('after', () => 'after', { after: ['parent'] });
      }),
      quiet,
    );
    await handle.done;
    expect(handle.clear('parent/child#0', { downstream: true, upstream: true })).toEqual(['parent/child#0']);
    await handle.done;
    expect(childRuns).toBe(2);
    expect(handle.taskInstance('after')!.attempts).toBe(1);
  });
});
