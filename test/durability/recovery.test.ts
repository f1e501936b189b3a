// Resume after a crash: the attempt that was `running` in the dead process is a failed attempt of
// kind 'infrastructure' — reported once to listeners — and is retried (at its stored retry
// deadline) while attempts remain. The crash is simulated in-process: the store is cut off (every
// later call of the old run rejects), then the old run is cancelled, so it writes nothing more.
import { afterAll, describe, expect, it } from 'vitest';
import { createTestClock } from '../../src/runtime/clock.ts';
import { ctx, flow, startFlow, type Listener, type TaskInstanceHookArgs } from '../../src/index.ts';
import type { Store } from '../../src/stores/index.ts';
import { instrument, recordProblems, storeVariants } from './fixtures/storeChecks.ts';

const quiet = { log: () => {} };
const { stores, cleanup } = storeVariants('recovery');
afterAll(cleanup);

/** extract → transform → load; attempt 1 of `transform` runs until the process dies. */
function pipeline(retries: number, executions: string[], transformStarted: () => void) {
  return flow('pipeline', (f) => {
    const extract = f.task('extract', () => {
      executions.push(`extract#${ctx()!.attempt}`);
      return [1, 2, 3];
    });
    const transform = f.task(
      'transform',
      async ({ upstream }) => {
        const c = ctx()!;
        executions.push(`transform#${c.attempt}`);
        if (c.attempt === 1) {
          transformStarted();
          await new Promise((_, reject) => c.signal.addEventListener('abort', () => reject(c.signal.reason as Error)));
        }
        return (upstream.extract as number[]).map((n) => n * 10);
      },
      { retries, retryDelay: 1_000, after: [extract] },
    );
    f.task('load', ({ upstream }) => {
      executions.push(`load#${ctx()!.attempt}`);
      return (upstream.transform as number[]).length;
    }, { after: [transform] });
  });
}

/** Starts the pipeline, lets `transform` start and be stored as running, then "kills" the process. */
async function crashDuringTransform(inner: Store, retries: number, clock: ReturnType<typeof createTestClock>, executions: string[]) {
  const { store, crash } = instrument(inner);
  let started!: () => void;
  const transformStarted = new Promise<void>((resolve) => (started = resolve));
  const handle = startFlow(pipeline(retries, executions, () => started()), { store, runId: 'p', clock, ...quiet });
  await transformStarted;
  await handle.persisted();
  crash();
  handle.cancel('the process died');
  const transform = (await inner.loadRun('p'))!.instances.find((i) => i.key === 'transform');
  expect(transform).toMatchObject({ state: 'running', attempt: 1, failureKind: undefined });
}

function failureListener() {
  const failed: TaskInstanceHookArgs[] = [];
  const changes: string[] = [];
  const listener: Listener = {
    onTaskInstanceFailed: (args) => void failed.push(args),
    onTaskInstanceStateChange: ({ taskInstance, previousState, state }) => void changes.push(`${taskInstance.key} ${previousState}→${state}`),
  };
  return { failed, changes, listener };
}

describe.each(stores)('resume after a crash (%s)', (_name, makeStore) => {
  it('the interrupted attempt is a failed attempt of kind infrastructure, reported once, and retried at its retry deadline', async () => {
    const inner = makeStore();
    const clock = createTestClock(50_000);
    const executions: string[] = [];
    await crashDuringTransform(inner, 2, clock, executions);
    expect(executions).toEqual(['extract#1', 'transform#1']);

    const { failed, changes, listener } = failureListener();
    const resumed = startFlow(pipeline(2, executions, () => {}), { store: inner, runId: 'p', resume: true, clock, listeners: [listener], ...quiet });
    await clock.advance(0);
    expect(failed).toHaveLength(1);
    const [report] = failed;
    expect(report).toMatchObject({
      previousState: 'running',
      msg: 'up_for_retry',
      failureDetails: { kind: 'infrastructure', attempt: 1, willRetry: true },
      taskInstance: { key: 'transform', state: 'up_for_retry', attempts: 1, failureKind: 'infrastructure' },
    });
    expect(report!.error!.message).toMatch(/attempt 1 of 'transform' stopped before the attempt ended/);
    expect(changes).toEqual(['transform running→up_for_retry']);

    // Stored as such, with the retry deadline (retryDelay after the resume).
    await resumed.persisted();
    expect((await inner.loadRun('p'))!.instances.find((i) => i.key === 'transform')).toMatchObject({
      state: 'up_for_retry',
      attempt: 1,
      failureKind: 'infrastructure',
      timer: { deadline: 51_000, action: 'retry' },
    });
    expect(executions).toEqual(['extract#1', 'transform#1']);

    await clock.advance(999);
    expect(resumed.taskInstance('transform')!.state).toBe('up_for_retry');
    await clock.advance(1);
    const run = await resumed.done;
    expect(run.state).toBe('success');
    expect(run.tasks['transform']).toMatchObject({ state: 'success', attempts: 2, result: [10, 20, 30] });
    expect(run.tasks['load']!.result).toBe(3);
    expect(executions).toEqual(['extract#1', 'transform#1', 'transform#2', 'load#1']);
    expect(failed).toHaveLength(1);

    const log = (await inner.readTransitionLog('p')).filter((t) => t.key === 'transform').map((t) => `${t.from}→${t.to} ${t.event}`);
    expect(log).toEqual([
      'none→scheduled SCHEDULE',
      'scheduled→queued QUEUE',
      'queued→running START',
      'running→up_for_retry FAIL',
      'up_for_retry→scheduled RETRY',
      'scheduled→queued QUEUE',
      'queued→running START',
      'running→success SUCCEED',
    ]);
    expect(await recordProblems(inner, 'p')).toEqual([]);
  });

  it('with no attempts left, the interrupted attempt fails the instance (kind infrastructure), reported once, and nothing runs again', async () => {
    const inner = makeStore();
    const clock = createTestClock(50_000);
    const executions: string[] = [];
    await crashDuringTransform(inner, 0, clock, executions);

    const { failed, listener } = failureListener();
    const run = await startFlow(pipeline(0, executions, () => {}), { store: inner, runId: 'p', resume: true, clock, listeners: [listener], ...quiet }).done;
    expect(run).toMatchObject({ state: 'failed', reason: 'task_failure' });
    expect(run.tasks['transform']).toMatchObject({ state: 'failed', attempts: 1, failureKind: 'infrastructure' });
    expect(run.tasks['load']!.state).toBe('upstream_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      previousState: 'running',
      msg: 'failed',
      failureDetails: { kind: 'infrastructure', attempt: 1, willRetry: false },
    });
    expect(executions).toEqual(['extract#1', 'transform#1']);
    expect((await inner.loadRun('p'))!.instances.find((i) => i.key === 'transform')).toMatchObject({ state: 'failed', failureKind: 'infrastructure' });
    expect(await recordProblems(inner, 'p')).toEqual([]);
  });
});
