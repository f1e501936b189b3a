// The local attempt executor, as decorators and the run's log see it: `willRetry` in
// onAttemptSettled (no retry after FailTask, none after the last attempt), onAttemptSettled exactly
// once for an attempt ended by its timeout whose function resolves later, no task function for an
// attempt ended while its beforeAttempt hooks ran, the resources line once per task, and the
// message of a deferral timeout.
import { describe, expect, it } from 'vitest';
import { createTestClock } from '../../src/clock.ts';
import { ctx, DeferralTimeoutError, defineDecorator, FailTask, flow, runFlow, SkipTask, startFlow, TaskCheckpointed } from '../../src/index.ts';

const quiet = { log: () => {} };

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function settledRecorder(seen: string[]) {
  return defineDecorator({
    name: 'settled',
    defaults: {},
    hooks: {
      onAttemptSettled: (result, sys) => void seen.push(`#${sys.attempt} ${result.ok ? 'ok' : `error willRetry=${result.willRetry}`}`),
    },
  });
}

describe('the local attempt executor', () => {
  it('tells onAttemptSettled whether the run will retry: not after FailTask, not after the last attempt', async () => {
    const seen: string[] = [];
    const failFast = await runFlow(flow('fail-fast', (f) => {
      f.task('t', () => {
        throw new FailTask('no point');
      }, { retries: 2, decorators: [settledRecorder(seen)()] });
    }), quiet);
    expect(failFast.tasks['t']).toMatchObject({ state: 'failed', attempts: 1 });
    expect(seen).toEqual(['#1 error willRetry=false']);
    seen.length = 0;
    const clock = createTestClock();
    const handle = startFlow(flow('retried', (f) => {
      f.task('t', () => {
        throw new Error('flaky');
      }, { retries: 1, retryDelay: 10, decorators: [settledRecorder(seen)()] });
    }), { clock, ...quiet });
    await clock.runAll();
    expect((await handle.done).tasks['t']).toMatchObject({ state: 'failed', attempts: 2 });
    expect(seen).toEqual(['#1 error willRetry=true', '#2 error willRetry=false']);
  });

  it('an attempt ended by its timeout settles once: its function resolving later changes nothing', async () => {
    const seen: string[] = [];
    const body = deferred<string>();
    const clock = createTestClock();
    const handle = startFlow(flow('timed-out', (f) => {
      f.task('t', () => body.promise, { timeout: 100, decorators: [settledRecorder(seen)()] });
    }), { clock, ...quiet });
    await clock.flush();
    await clock.advance(100);
    const run = await handle.done;
    expect(run.tasks['t']).toMatchObject({ state: 'failed', attempts: 1 });
    body.resolve('late');
    await clock.flush();
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual(['#1 error willRetry=false']);
    expect(handle.snapshot().tasks['t']!.state).toBe('failed');
  });

  it('does not run the task function of an attempt ended while its beforeAttempt hooks ran', async () => {
    const gate = deferred();
    let ran = 0;
    const slow = defineDecorator({ name: 'slow', defaults: {}, hooks: { beforeAttempt: () => gate.promise } });
    const clock = createTestClock();
    const handle = startFlow(flow('ended-early', (f) => {
      f.task('t', () => ++ran, { decorators: [slow()] });
    }), { clock, ...quiet });
    await clock.flush();
    handle.cancel('stop');
    gate.resolve();
    const run = await handle.done;
    await new Promise((resolve) => setImmediate(resolve));
    expect(ran).toBe(0);
    expect(run.state).not.toBe('success');
  });

  it('reports a task’s resource request once, over its retries; a published request that is not an object is not reported', async () => {
    const lines: string[] = [];
    const publishing = (value: unknown) =>
      defineDecorator({ name: 'publishing', defaults: {}, hooks: { stepInit: (sys) => sys.publish('resources', 'request', value) } })();
    const clock = createTestClock();
    const handle = startFlow(flow('resourced', (f) => {
      f.task('twice', () => {
        if (ctx()!.attempt === 1) throw new Error('again');
        return 1;
      }, { retries: 1, retryDelay: 10, decorators: [publishing({ cpu: 2 })] });
      f.task('nullRequest', () => 1, { decorators: [publishing(null)] });
      f.task('textRequest', () => 1, { decorators: [publishing('cpu')] });
    }), { clock, log: (line) => lines.push(line) });
    await clock.runAll();
    const run = await handle.done;
    expect(run.state).toBe('success');
    expect(lines.filter((line) => line.includes('resources requested'))).toEqual([
      '[twice] resources requested: cpu=2 (the local executor reports them; it does not enforce them)',
    ]);
  });

  it('fails a deferred instance not resumed before its deferral timeout, naming it', async () => {
    const clock = createTestClock();
    const handle = startFlow(flow('deferral', (f) => {
      f.task('waits', () => ctx()!.defer({ event: true, timeout: 1_000 }));
    }), { clock, ...quiet });
    await clock.flush();
    await clock.advance(1_000);
    await clock.runAll();
    const run = await handle.done;
    expect(run.tasks['waits']!.error).toBeInstanceOf(DeferralTimeoutError);
    expect(run.tasks['waits']!.error!.message).toBe("task instance 'waits' was not resumed before its deferral timeout");
  });

  it('tells onAttemptSettled which throws are control flow (skip, checkpoint, defer, reschedule), which a handled: true cannot turn into a success', async () => {
    const seen: Record<string, boolean> = {};
    const handling = defineDecorator({
      name: 'handling',
      defaults: {},
      hooks: {
        onAttemptSettled: (result, sys) => {
          if (!result.ok) seen[sys.taskKey!] = result.control;
          return { handled: true, value: 'recovered' };
        },
      },
    });
    const hostile = new Proxy({}, {
      getPrototypeOf() {
        throw new Error('trap: getPrototypeOf');
      },
    });
    const clock = createTestClock();
    const handle = startFlow(flow('control', (f) => {
      const decorators = [handling()];
      f.task('skip', () => {
        throw new SkipTask('not today');
      }, { decorators });
      f.task('checkpoint', () => {
        throw new TaskCheckpointed({ at: 1 });
      }, { decorators });
      f.task('defer', () => ctx()!.defer({ event: true }), { decorators });
      f.task('reschedule', () => ctx()!.reschedule(60_000), { decorators });
      f.task('fails', () => {
        throw new Error('boom');
      }, { decorators });
      f.task('hostile', () => {
        throw hostile;
      }, { decorators });
    }), { clock, ...quiet });
    await clock.flush();
    expect(seen).toEqual({ skip: true, checkpoint: true, defer: true, reschedule: true, fails: false, hostile: false });
    const states = Object.fromEntries(Object.entries(handle.snapshot().tasks).map(([key, task]) => [key, task.state]));
    expect(states).toEqual({
      skip: 'skipped',
      checkpoint: 'checkpointed',
      defer: 'deferred',
      reschedule: 'up_for_reschedule',
      fails: 'success',
      hostile: 'success',
    });
    handle.cancel();
  });

  it('an attempt abandoned by a manual change: its decorators see it end as a failure (once), its outcome is not applied', async () => {
    const seen: string[] = [];
    const body = deferred<string>();
    let signal: AbortSignal | undefined;
    const clock = createTestClock();
    const handle = startFlow(flow('manual', (f) => {
      f.task('t', () => {
        signal = ctx()!.signal;
        return body.promise;
      }, { retries: 1, decorators: [settledRecorder(seen)()] });
    }), { clock, ...quiet });
    await clock.flush();
    expect(handle.snapshot().tasks['t']!.state).toBe('running');
    handle.setState('t', 'success');
    await clock.flush();
    expect(signal?.aborted).toBe(true);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/^#1 error/);
    body.resolve('late');
    const run = await handle.done;
    expect(run.state).toBe('success');
    expect(run.tasks['t']!.state).toBe('success');
    expect(seen).toHaveLength(1);
  });

  it('ending a run does not abort the signal of an attempt that already returned (its decorators still settling)', async () => {
    const gate = deferred();
    let signal: AbortSignal | undefined;
    const slowSettle = defineDecorator({ name: 'slowSettle', defaults: {}, hooks: { onAttemptSettled: () => gate.promise } });
    const clock = createTestClock();
    const handle = startFlow(flow('returned', (f) => {
      f.task('t', () => {
        signal = ctx()!.signal;
        return 1;
      }, { decorators: [slowSettle()] });
    }), { clock, ...quiet });
    await clock.flush();
    handle.cancel('stop');
    gate.resolve();
    await handle.done;
    expect(signal?.aborted).toBe(false);
  });
});
