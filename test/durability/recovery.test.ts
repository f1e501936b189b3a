// Resume after a crash: the attempt that was `running` in the dead process was interrupted, not
// failed. It runs again as the same attempt (no retry used; `retries: 0` is enough), listeners see
// the interruption as a state change with msg 'interrupted', and only an instance interrupted more
// often than `maxInterruptions` fails (kind 'interrupted'). The crash is simulated in-process: the
// store is cut off (every later call of the old run rejects, so its lease is never released), the
// old run is cancelled (it writes nothing more), and the dead process's lease must expire before
// another may take the run over.
import { afterAll, describe, expect, it } from 'vitest';
import { createTestClock } from '../../src/clock.ts';
import { ctx, flow, RunOwnedError, startFlow, type Listener, type TaskInstanceHookArgs, type TaskInstanceStateChangeArgs } from '../../src/index.ts';
import type { Store } from '../../src/stores/index.ts';
import { instrument, recordProblems, storeVariants } from './fixtures/storeChecks.ts';

const quiet = { log: () => {} };
const LEASE_TTL = 30_000; // the default lease time to live
const { stores, cleanup } = storeVariants('recovery');
afterAll(cleanup);

/** extract → transform → load; `transform` runs until the process dies the first `kills` times. */
function pipeline(executions: string[], transformStarted: () => void, kills = 1, maxInterruptions?: number) {
  let runs = 0;
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
        if (++runs <= kills) {
          transformStarted();
          await new Promise((_, reject) => c.signal.addEventListener('abort', () => reject(c.signal.reason as Error)));
        }
        return (upstream.extract as number[]).map((n) => n * 10);
      },
      { after: [extract], ...(maxInterruptions === undefined ? {} : { maxInterruptions }) },
    );
    f.task('load', ({ upstream }) => {
      executions.push(`load#${ctx()!.attempt}`);
      return (upstream.transform as number[]).length;
    }, { after: [transform] });
  });
}

/** Runs the pipeline until `transform` is stored as running, then "kills" the process. */
async function crashDuringTransform(
  inner: Store,
  clock: ReturnType<typeof createTestClock>,
  executions: string[],
  resume: boolean,
  bounds: { task?: number; run?: number } = {},
) {
  const { store, crash } = instrument(inner);
  let started!: () => void;
  const transformStarted = new Promise<void>((resolve) => (started = resolve));
  const definition = pipeline(executions, () => started(), Infinity, bounds.task);
  const runBound = bounds.run === undefined ? {} : { maxInterruptions: bounds.run };
  const handle = startFlow(definition, { store, runId: 'p', clock, resume, ...runBound, ...quiet });
  await transformStarted;
  await handle.persisted();
  crash();
  handle.cancel('the process died');
  expect((await inner.loadRun('p'))!.instances.find((i) => i.key === 'transform')).toMatchObject({ state: 'running', attempt: 1 });
}

function listenerLog() {
  const failed: TaskInstanceHookArgs[] = [];
  const changes: TaskInstanceStateChangeArgs[] = [];
  const listener: Listener = {
    onTaskInstanceFailed: (args) => void failed.push(args),
    onTaskInstanceStateChange: (args) => void changes.push(args),
  };
  return { failed, changes, listener };
}

describe.each(stores)('resume after a crash (%s)', (_name, makeStore) => {
  it("an interrupted attempt is not a failure: with retries 0 it runs again as attempt 1 and the run succeeds; listeners see msg 'interrupted'", async () => {
    const inner = makeStore();
    const clock = createTestClock(50_000);
    const executions: string[] = [];
    await crashDuringTransform(inner, clock, executions, false);
    expect(executions).toEqual(['extract#1', 'transform#1']);

    // The dead process's lease is still live: the run is not taken over before it expires.
    const early = await startFlow(pipeline(executions, () => {}, 0), { store: inner, runId: 'p', resume: true, clock, ...quiet }).done.catch((e: unknown) => e);
    expect(early).toBeInstanceOf(RunOwnedError);
    await clock.advance(LEASE_TTL);

    const lines: string[] = [];
    const { failed, changes, listener } = listenerLog();
    const resumed = startFlow(pipeline(executions, () => {}, 0), {
      store: inner,
      runId: 'p',
      resume: true,
      clock,
      listeners: [listener],
      log: (line) => lines.push(line),
    });
    const run = await resumed.done;
    expect(lines.some((line) => /took over run 'p' from pid \d+ on .* \(its lease had expired\)/.test(line))).toBe(true);
    expect(run.state).toBe('success');
    expect(run.tasks['transform']).toMatchObject({ state: 'success', attempts: 1, maxAttempts: 1, result: [10, 20, 30] });
    expect(run.tasks['load']!.result).toBe(3);
    expect(executions).toEqual(['extract#1', 'transform#1', 'transform#1', 'load#1']);
    expect(failed).toEqual([]);
    const interrupted = changes.filter((c) => c.taskInstance.key === 'transform').map((c) => `${c.previousState}→${c.state} ${c.msg ?? ''}`.trim());
    expect(interrupted).toEqual(['running→scheduled interrupted', 'scheduled→queued', 'queued→running started', 'running→success success']);

    const stored = (await inner.loadRun('p'))!.instances.find((i) => i.key === 'transform');
    expect(stored).toMatchObject({ state: 'success', attempt: 1, interruptions: 1, maxInterruptions: 3, failureKind: undefined });
    const log = (await inner.readTransitionLog('p')).filter((t) => t.key === 'transform').map((t) => `${t.from}→${t.to} ${t.event}`);
    expect(log).toEqual([
      'none→scheduled SCHEDULE',
      'scheduled→queued QUEUE',
      'queued→running START',
      'running→scheduled INTERRUPT',
      'scheduled→queued QUEUE',
      'queued→running START',
      'running→success SUCCEED',
    ]);
    expect(await recordProblems(inner, 'p')).toEqual([]);
  });

  it('an instance interrupted more often than maxInterruptions fails (kind interrupted, reported once) and the rest of the run goes on', async () => {
    const inner = makeStore();
    const clock = createTestClock(50_000);
    const executions: string[] = [];
    // The default maxInterruptions is 3: the fourth interruption fails the instance.
    for (let kill = 1; kill <= 4; kill++) {
      await crashDuringTransform(inner, clock, executions, kill > 1);
      await clock.advance(LEASE_TTL);
    }
    const { failed, listener } = listenerLog();
    const run = await startFlow(pipeline(executions, () => {}, 0), { store: inner, runId: 'p', resume: true, clock, listeners: [listener], ...quiet }).done;
    expect(run).toMatchObject({ state: 'failed', reason: 'task_failure' });
    expect(run.tasks['transform']).toMatchObject({ state: 'failed', attempts: 1, failureKind: 'interrupted' });
    expect(run.tasks['transform']!.error!.message).toMatch(/was interrupted 4 times .* more than maxInterruptions \(3\) allows.*Raise maxInterruptions/);
    expect(run.tasks['load']!.state).toBe('upstream_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ previousState: 'running', msg: 'failed', failureDetails: { kind: 'interrupted', attempt: 1, willRetry: false } });
    expect(executions.filter((e) => e.startsWith('transform'))).toEqual(['transform#1', 'transform#1', 'transform#1', 'transform#1']);
    expect((await inner.loadRun('p'))!.instances.find((i) => i.key === 'transform')).toMatchObject({ state: 'failed', interruptions: 4, failureKind: 'interrupted' });
    expect(await recordProblems(inner, 'p')).toEqual([]);
  });

  it('maxInterruptions is a task option with a run-level default, kept with the instance', async () => {
    for (const bounds of [{ run: 0 }, { task: 0, run: 5 }]) {
      const inner = makeStore();
      const clock = createTestClock(50_000);
      const executions: string[] = [];
      await crashDuringTransform(inner, clock, executions, false, bounds);
      expect((await inner.loadRun('p'))!.instances.find((i) => i.key === 'transform')).toMatchObject({ maxInterruptions: 0 });
      await clock.advance(LEASE_TTL);
      // A bound of 0: the first interruption fails the instance (the stored bound, whatever the resume says).
      const run = await startFlow(pipeline(executions, () => {}, 0, bounds.task), { store: inner, runId: 'p', resume: true, clock, maxInterruptions: 9, ...quiet }).done;
      expect(run.tasks['transform']).toMatchObject({ state: 'failed', failureKind: 'interrupted' });
      expect(executions.filter((e) => e.startsWith('transform'))).toEqual(['transform#1']);
    }
  });
});
