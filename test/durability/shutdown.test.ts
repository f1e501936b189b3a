// Graceful shutdown: running attempts are aborted with reason 'preempt'; one that answers with
// TaskCheckpointed is stored `checkpointed` with its progress and picks up from it after
// `resume: true`; one that throws because it was aborted, and one that ignores the grace period,
// are interrupted gracefully (stored `scheduled`: the same attempt runs again, no retry used, and
// not counted toward maxInterruptions — a stop is not a crash). Every task uses the default
// `retries: 0` and `maxInterruptions: 3`.
import { afterAll, describe, expect, it } from 'vitest';
import { createTestClock } from '../../src/clock.ts';
import { ctx, flow, startFlow, TaskCheckpointed, type TaskInstanceHookArgs, type TaskInstanceStateChangeArgs } from '../../src/index.ts';
import { instrument, recordProblems, storeVariants } from './fixtures/storeChecks.ts';

const quiet = { log: () => {} };
const { stores, cleanup } = storeVariants('shutdown');
afterAll(cleanup);

/** Resolves when `n` calls of the returned function have been made. */
function countdown(n: number): { tick: () => void; reached: Promise<void> } {
  let resolve!: () => void;
  const reached = new Promise<void>((r) => (resolve = r));
  let left = n;
  return {
    tick: () => {
      if (--left === 0) resolve();
    },
    reached,
  };
}

describe.each(stores)('graceful shutdown (%s)', (_name, makeStore) => {
  it("aborts running attempts with 'preempt'; TaskCheckpointed(progress) is stored and resumed from; other attempts count as interrupted", async () => {
    const inner = makeStore();
    const clock = createTestClock(1_000_000);
    const reasons: Record<string, unknown> = {};
    const executions: Array<{ key: string; attempt: number; resumeData: unknown }> = [];
    const started = countdown(4);
    let releaseLingering!: (value: string) => void;
    const lingeringResult = new Promise<string>((resolve) => (releaseLingering = resolve));
    let lingeringSettled!: () => void;
    const lingeringDone = new Promise<void>((resolve) => (lingeringSettled = resolve));

    /** Runs until aborted; then answers the way `answer` says. */
    const untilAborted = async (answer: (reason: unknown) => never | Promise<never>) => {
      const c = ctx()!;
      await new Promise<void>((resolve) => c.signal.addEventListener('abort', () => resolve()));
      reasons[c.taskKey] = c.signal.reason;
      return answer(c.signal.reason);
    };
    let resumed = false;
    const definition = flow('export', (f) => {
      const early = f.task('early', () => {
        executions.push({ key: 'early', attempt: ctx()!.attempt, resumeData: ctx()!.resumeData });
        return 'early result';
      });
      const slow = f.task(
        'slow',
        async () => {
          const c = ctx()!;
          executions.push({ key: 'slow', attempt: c.attempt, resumeData: c.resumeData });
          if (c.resumeData !== undefined) return `slow resumed at row ${(c.resumeData as { row: number }).row}`;
          started.tick();
          return untilAborted(() => {
            throw new TaskCheckpointed({ row: 1200 });
          });
        },
        { resumeAfter: 1_000, after: [early] },
      );
      f.task(
        'copy',
        async () => {
          const c = ctx()!;
          executions.push({ key: 'copy', attempt: c.attempt, resumeData: c.resumeData });
          if (c.resumeData !== undefined) return `copy resumed at file ${(c.resumeData as { file: string }).file}`;
          started.tick();
          return untilAborted(() => {
            throw new TaskCheckpointed({ file: 'b.csv' });
          });
        },
        { after: [early] },
      );
      f.task(
        'stubborn',
        async () => {
          const c = ctx()!;
          executions.push({ key: 'stubborn', attempt: c.attempt, resumeData: c.resumeData });
          if (resumed) return 'stubborn done';
          started.tick();
          return untilAborted(() => {
            throw new Error('did not save anything');
          });
        },
        { after: [early] },
      );
      f.task(
        'lingering',
        async () => {
          const c = ctx()!;
          executions.push({ key: 'lingering', attempt: c.attempt, resumeData: c.resumeData });
          if (resumed) return 'lingering done';
          started.tick();
          // Ignores the abort and ends only after the grace period.
          try {
            return await lingeringResult;
          } finally {
            queueMicrotask(lingeringSettled);
          }
        },
        { after: [early] },
      );
      f.task('after-slow', ({ upstream }) => `${upstream.slow as string}, then more`, { after: [slow] });
    });

    const first = startFlow(definition, { store: inner, runId: 'export', clock, concurrency: 4, ...quiet });
    await started.reached;
    const stopping = first.shutdown({ graceMs: 30 });
    // The grace period is measured on the run's clock: let it pass (`lingering` ignores its signal).
    await clock.advance(30);
    const record = await stopping;
    expect(record.state).toBe('running');
    expect(reasons).toEqual({ slow: 'preempt', copy: 'preempt', stubborn: 'preempt' });

    const stored = async () => new Map((await inner.loadRun('export'))!.instances.map((i) => [i.key, i]));
    const atShutdown = await stored();
    expect(atShutdown.get('early')).toMatchObject({ state: 'success' });
    expect(atShutdown.get('slow')).toMatchObject({ state: 'checkpointed', attempt: 1, resumeData: { row: 1200 }, timer: { deadline: 1_001_000, action: 'resume' } });
    expect(atShutdown.get('copy')).toMatchObject({ state: 'checkpointed', attempt: 1, resumeData: { file: 'b.csv' }, parked: true, timer: undefined });
    expect(atShutdown.get('stubborn')).toMatchObject({ state: 'scheduled', attempt: 1, interruptions: 0, failureKind: undefined });
    expect(atShutdown.get('lingering')).toMatchObject({ state: 'scheduled', attempt: 1, interruptions: 0, failureKind: undefined });
    // The shutdown let go of the run: another process may resume it at once.
    expect(await inner.getLease('export')).toMatchObject({ releasedAt: expect.any(Number) });
    expect(atShutdown.has('after-slow')).toBe(false);
    expect(await recordProblems(inner, 'export')).toEqual([]);

    // The attempt that ignored the grace period ends later: nothing of it is written.
    const logBefore = await inner.readTransitionLog('export');
    releaseLingering('too late');
    await lingeringDone;
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(await inner.readTransitionLog('export')).toEqual(logBefore);
    expect((await stored()).get('lingering')).toMatchObject({ state: 'scheduled', attempt: 1 });

    // Resume (a new "process"): `stubborn` and `lingering` run again, both as attempt 1 and with
    // no failure (nothing is interrupted now: the shutdown did that); `slow` resumes at its stored
    // deadline, `copy` when asked; `early` never runs again.
    resumed = true;
    const { store, calls } = instrument(inner);
    const failed: TaskInstanceHookArgs[] = [];
    const interrupted: TaskInstanceStateChangeArgs[] = [];
    const checkpointed: string[] = [];
    executions.length = 0;
    const second = startFlow(definition, {
      store,
      runId: 'export',
      resume: true,
      clock,
      listeners: [
        { onTaskInstanceFailed: (args) => void failed.push(args) },
        { onTaskInstanceStateChange: (args) => void (args.msg === 'interrupted' && interrupted.push(args)) },
        { onTaskInstanceCheckpointed: ({ taskInstance }) => void checkpointed.push(taskInstance.key) },
      ],
      ...quiet,
    });
    await clock.advance(0);
    expect(failed).toEqual([]);
    expect(interrupted).toEqual([]);
    expect(second.taskInstance('stubborn')).toMatchObject({ state: 'success', attempts: 1, result: 'stubborn done' });
    expect(second.taskInstance('lingering')).toMatchObject({ state: 'success', attempts: 1, result: 'lingering done' });
    expect(second.taskInstance('slow')!.state).toBe('checkpointed');
    // `slow` resumes at its stored deadline (1_001_000), not a full resumeAfter after the resume.
    await clock.advance(1_001_000 - clock.now() - 1);
    expect(second.taskInstance('slow')!.state).toBe('checkpointed');
    await clock.advance(1);
    expect(second.taskInstance('slow')).toMatchObject({ state: 'success', attempts: 1, result: 'slow resumed at row 1200' });
    expect((await second.settled()).waitingOn).toEqual(['copy']);
    expect(second.taskInstance('copy')!.state).toBe('checkpointed');
    second.resumeTask('copy');
    const run = await second.done;
    expect(run.state).toBe('success');
    expect(run.tasks['copy']!.result).toBe('copy resumed at file b.csv');
    expect(run.tasks['after-slow']!.result).toBe('slow resumed at row 1200, then more');
    expect(executions.map((e) => [e.key, e.attempt, e.resumeData]).sort()).toEqual(
      [
        ['stubborn', 1, undefined],
        ['lingering', 1, undefined],
        ['slow', 1, { row: 1200 }],
        ['copy', 1, { file: 'b.csv' }],
      ].sort(),
    );
    expect(checkpointed).toEqual([]);
    expect(calls.results.map((r) => r.key).sort()).toEqual(['after-slow', 'copy', 'lingering', 'slow', 'stubborn']);
    expect(await recordProblems(inner, 'export')).toEqual([]);
  });
});

describe('after shutdown() nothing waits forever', () => {
  it('done and settled() resolve with the run as it was let go of (running), taken before or after the shutdown', async () => {
    const { memoryStore } = await import('../../src/stores/index.ts');
    const store = memoryStore();
    const definition = flow('held', (f) => {
      f.task('hold', () => new Promise((_resolve, reject) => ctx()!.signal.addEventListener('abort', () => reject(new Error('stopped')))));
    });
    const handle = startFlow(definition, { store, runId: 'held', ...quiet });
    const doneBefore = handle.done;
    const settledBefore = handle.settled();
    await handle.ready();
    const record = await handle.shutdown({ graceMs: 0 });
    expect(record.state).toBe('running');
    expect(await doneBefore).toBe(record);
    expect(await settledBefore).toBe(record);
    expect(await handle.settled()).toBe(record);
    expect(await handle.done).toBe(record);
  });

  it('refuses a bad graceMs or an unknown option (stopping nothing); a run that never opened rejects with why', async () => {
    const { memoryStore, RunOwnedError } = { ...(await import('../../src/stores/index.ts')), ...(await import('../../src/errors.ts')) };
    const store = memoryStore();
    const definition = flow('held', (f) => {
      f.task('hold', () => new Promise((_resolve, reject) => ctx()!.signal.addEventListener('abort', () => reject(new Error('stopped')))));
    });
    const handle = startFlow(definition, { store, runId: 'held', ...quiet });
    await handle.ready();
    // (Before: NaN and -5 became a 1 ms timer with a Node warning, and a misspelt option the default 10 s.)
    await expect(handle.shutdown({ graceMs: Number.NaN })).rejects.toThrow('shutdown: graceMs must be a number of ms from 0 to 2147483647 (about 24.8 days), got NaN');
    await expect(handle.shutdown({ graceMs: 3e9 })).rejects.toThrow('got 3000000000');
    await expect(handle.shutdown({ graceMs: -5 })).rejects.toThrow('got -5');
    await expect(handle.shutdown({ graceMs: '5' as never })).rejects.toThrow('got "5"');
    await expect(handle.shutdown({ grace: 5 } as never)).rejects.toThrow("shutdown: unknown option 'grace'; the one option is graceMs");
    // Nothing was stopped by them: the run still runs, and a good shutdown stops it.
    expect(handle.snapshot().tasks['hold']?.state).toBe('running');
    expect((await handle.shutdown({ graceMs: 0 })).state).toBe('running');
    // A second handle on the same run never opens: its shutdown rejects as its `done` does.
    const first = startFlow(definition, { store, runId: 'owned', ...quiet });
    await first.ready();
    const second = startFlow(definition, { store, runId: 'owned', ...quiet });
    second.done.catch(() => {});
    await expect(second.shutdown()).rejects.toBeInstanceOf(RunOwnedError);
    await first.shutdown({ graceMs: 0 });
  });

  it('a run given a signal that stops on a store error rejects runFlow only: no unhandled rejection', async () => {
    const { memoryStore } = await import('../../src/stores/index.ts');
    const store = memoryStore();
    const commit = store.commit.bind(store);
    let commits = 0;
    store.commit = (async (...args: Parameters<typeof commit>) => {
      if (++commits > 1) throw new Error('the disk is full');
      return commit(...args);
    }) as typeof store.commit;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const definition = flow('doomed', (f) => {
        const first = f.task('first', () => 1);
        f.task('second', () => 2, { after: [first] });
      });
      const { runFlow } = await import('../../src/index.ts');
      await expect(runFlow(definition, { store, signal: new AbortController().signal, ...quiet })).rejects.toThrow('the disk is full');
      // An unhandled rejection is reported after the microtasks of the turn it happened in.
      await new Promise<void>((resolve) => setImmediate(resolve));
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('a stop is not a crash', () => {
  it('five graceful shutdowns in a row (more than the default maxInterruptions 3) fail no task; then the run finishes', async () => {
    const { memoryStore } = await import('../../src/stores/index.ts');
    const store = memoryStore();
    let finish = false;
    let started!: () => void;
    const definition = flow('stopped-often', (f) => {
      // Answers the stop's abort by throwing, as code that passes its signal on does.
      f.task('polite', () => {
        if (finish) return 'polite done';
        started();
        return new Promise((_resolve, reject) => ctx()!.signal.addEventListener('abort', () => reject(new Error('aborted'))));
      });
      // Ignores the signal: still running when the grace period ends.
      f.task('rude', () => (finish ? 'rude done' : new Promise(() => {})));
    });
    for (let stop = 1; stop <= 5; stop++) {
      const running = new Promise<void>((resolve) => (started = resolve));
      const handle = startFlow(definition, { store, runId: 'r', ...(stop > 1 ? { resume: true } : {}), ...quiet });
      await running;
      await handle.shutdown({ graceMs: 0 });
      const instances = new Map((await store.loadRun('r'))!.instances.map((i) => [i.key, i]));
      for (const key of ['polite', 'rude']) expect(instances.get(key), `${key} after stop ${stop}`).toMatchObject({ state: 'scheduled', attempt: 1, interruptions: 0 });
    }
    finish = true;
    const run = await startFlow(definition, { store, runId: 'r', resume: true, ...quiet }).done;
    expect(run.state).toBe('success');
    expect(run.tasks['polite']).toMatchObject({ state: 'success', attempts: 1, result: 'polite done' });
    expect(run.tasks['rude']).toMatchObject({ state: 'success', attempts: 1, result: 'rude done' });
  });
});

describe('an attempt that outlives the grace period', () => {
  it('is abandoned at the shutdown: its decorators see it end once, and nothing it does later is applied', async () => {
    const { memoryStore } = await import('../../src/stores/index.ts');
    const { defineDecorator } = await import('../../src/index.ts');
    const settled: string[] = [];
    const watch = defineDecorator({
      name: 'watch',
      defaults: {},
      hooks: { onAttemptSettled: (result) => void settled.push(result.ok ? 'ok' : result.error.message) },
    });
    let release!: (value: string) => void;
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const store = memoryStore();
    const definition = flow('overdue', (f) => {
      f.task('rude', () => {
        started();
        return new Promise<string>((resolve) => (release = resolve));
      }, { decorators: [watch()] });
    });
    const handle = startFlow(definition, { store, runId: 'r', ...quiet });
    await running;
    await handle.shutdown({ graceMs: 0 });
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(settled).toEqual(["the attempt did not end within the shutdown's grace period (0 ms)"]);
    const log = await store.readTransitionLog('r');
    release('too late');
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(settled).toHaveLength(1);
    expect(await store.readTransitionLog('r')).toEqual(log);
    expect((await store.loadRun('r'))!.instances[0]).toMatchObject({ state: 'scheduled', interruptions: 0 });
  });
});
