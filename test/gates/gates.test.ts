import { describe, expect, it } from 'vitest';
import { createTestClock, type TestClock } from '../../src/clock.ts';
import {
  defineGate,
  FailTask,
  flow,
  GateError,
  RetryableError,
  runFlow,
  startFlow,
  type Gate,
  type TaskInstanceChange,
} from '../../src/index.ts';

const quiet = { log: () => {} };
const sleep = (clock: TestClock, ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const handle = clock.setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clock.clearTimeout(handle);
      reject(signal.reason);
    });
  });

function timedGate(name: string, clock: TestClock, ms: number, log: string[]): Gate {
  return defineGate({
    name,
    async prepare(ti, { signal }) {
      log.push(`${name} start ${ti.key} @${clock.now()}`);
      await sleep(clock, ms, signal);
      log.push(`${name} done ${ti.key} @${clock.now()}`);
    },
  });
}

describe('readiness gates', () => {
  it('two gates (50 ms, 100 ms) start at enqueue while every slot is busy; the task starts only after 100 ms', async () => {
    const clock = createTestClock();
    const log: string[] = [];
    const handle = startFlow(
      flow('gated', (f) => {
        f.task('blocker', () => sleep(clock, 20).then(() => void log.push(`blocker done @${clock.now()}`)));
        f.task('restore', () => void log.push(`restore runs @${clock.now()}`));
      }),
      { clock, concurrency: 1, gates: [timedGate('g50', clock, 50, log), timedGate('g100', clock, 100, log)], ...quiet },
    );
    const queuedSnapshots: unknown[] = [];
    handle.subscribe((c) => c.state === 'queued' && queuedSnapshots.push(c.taskInstance.pendingGates));
    await clock.flush();
    // Listeners and observers see what the instance waits on, on the snapshot of the change.
    expect(queuedSnapshots).toEqual([['g50', 'g100'], ['g50', 'g100']]);
    // Both gates of both tasks started at enqueue, although the single slot is taken.
    expect(log).toEqual(['g50 start blocker @0', 'g100 start blocker @0', 'g50 start restore @0', 'g100 start restore @0']);
    expect(handle.taskInstance('restore')).toMatchObject({ state: 'queued', pendingGates: ['g50', 'g100'] });
    await clock.advance(50);
    expect(handle.taskInstance('restore')!.pendingGates).toEqual(['g100']);
    await clock.advance(49);
    expect(handle.taskInstance('restore')!.state).toBe('queued');
    await clock.runAll();
    const run = await handle.done;
    expect(run.state).toBe('success');
    expect(log.filter((line) => line.includes('runs') || line.includes('blocker done'))).toEqual([
      'blocker done @120',
      'restore runs @120',
    ]);
  });

  it('a rejecting gate aborts its peers at once; a plain error is wrapped in GateError with the original as cause', async () => {
    const clock = createTestClock();
    const original = new Error('bucket not found');
    let peerSignal: AbortSignal | undefined;
    const failed: TaskInstanceChange[] = [];
    const handle = startFlow(
      flow('broken', (f) => void f.task('t', () => 'never')),
      {
        clock,
        gates: [
          defineGate({ name: 'glacier', prepare: () => sleep(clock, 10).then(() => { throw original; }) }),
          defineGate({ name: 'quota', prepare: (_ti, { signal }) => ((peerSignal = signal), sleep(clock, 1_000, signal)) }),
        ],
        listeners: [{ onTaskInstanceFailed: () => {} }],
        ...quiet,
      },
    );
    handle.subscribe((c) => c.state === 'failed' && failed.push(c));
    await clock.advance(10);
    expect(peerSignal!.aborted).toBe(true);
    const run = await handle.done;
    const error = run.tasks['t']!.error!;
    expect(error).toBeInstanceOf(GateError);
    expect(error.cause).toBe(original);
    expect(error.message).toBe("readiness gate 'glacier' failed: bucket not found");
    expect(run.tasks['t']).toMatchObject({ state: 'failed', attempts: 1, failureKind: 'gate' });
    expect(failed[0]!.previousState).toBe('queued');
  });

  it('a task error from a gate keeps its identity', async () => {
    const failTask = new FailTask('quota exhausted for this month');
    const run = await runFlow(flow('identity', (f) => void f.task('t', () => 1, { retries: 3 })), {
      gates: [defineGate({ name: 'quota', prepare: async () => { throw failTask; } })],
      ...quiet,
    });
    expect(run.tasks['t']!.error).toBe(failTask);
    expect(run.tasks['t']!.attempts).toBe(1);
  });

  it('retryable gate errors consume retries, the gates run again each attempt, and it stops at the budget', async () => {
    const clock = createTestClock();
    let prepares = 0;
    const handle = startFlow(flow('flaky-gate', (f) => void f.task('t', () => 'ran', { retries: 2, retryDelay: 5 })), {
      clock,
      gates: [defineGate({ name: 'glacier', prepare: async () => { prepares++; throw new Error('restore pending', { cause: new RetryableError('not yet') }); } })],
      ...quiet,
    });
    await clock.runAll();
    const run = await handle.done;
    expect(prepares).toBe(3);
    expect(run.tasks['t']).toMatchObject({ state: 'failed', attempts: 3, failureKind: 'gate' });
  });

  it('a gate that passes on the second try lets the task run on its second attempt', async () => {
    let prepares = 0;
    const run = await runFlow(flow('second-try', (f) => void f.task('t', () => 'ran', { retries: 1 })), {
      gates: [defineGate({ name: 'warmup', prepare: async () => { if (++prepares === 1) throw new RetryableError('cold'); } })],
      ...quiet,
    });
    expect(run.tasks['t']).toMatchObject({ state: 'success', attempts: 2, result: 'ran' });
  });

  it('cancelling while gates pend aborts every gate signal and the task never starts', async () => {
    const clock = createTestClock();
    const signals: AbortSignal[] = [];
    let started = false;
    const handle = startFlow(flow('cancel', (f) => void f.task('t', () => (started = true))), {
      clock,
      gates: ['a', 'b'].map((name) => defineGate({ name, prepare: (_ti, { signal }) => (signals.push(signal), sleep(clock, 1_000, signal)) })),
      ...quiet,
    });
    await clock.flush();
    handle.cancel('shutting down');
    await clock.runAll();
    const run = await handle.done;
    expect(signals).toHaveLength(2);
    expect(signals.every((signal) => signal.aborted)).toBe(true);
    expect(started).toBe(false);
    expect(run.reason).toBe('cancelled');
  });

  it('a manual set-state while gates pend aborts them and the task never starts', async () => {
    const clock = createTestClock();
    const signals: AbortSignal[] = [];
    let started = false;
    const handle = startFlow(flow('manual', (f) => void f.task('t', () => (started = true))), {
      clock,
      gates: [defineGate({ name: 'slow', prepare: (_ti, { signal }) => (signals.push(signal), sleep(clock, 1_000, signal)) })],
      ...quiet,
    });
    await clock.flush();
    handle.setState('t', 'skipped');
    await clock.runAll();
    await handle.done;
    expect(signals[0]!.aborted).toBe(true);
    expect(started).toBe(false);
  });

  it('with no gates the scheduler does the same turns in the same admission order', async () => {
    const definition = flow('wide', (f) => {
      const root = f.task('root', () => 1);
      for (let i = 0; i < 40; i++) f.task(`t${i}`, () => i, { after: [root] });
    });
    const observe = async (options: object) => {
      const order: string[] = [];
      const handle = startFlow(definition, { concurrency: 4, ...quiet, ...options });
      handle.subscribe((c) => c.msg === 'started' && order.push(c.taskInstance.key));
      await handle.done;
      return { order, turns: handle.stats().turns };
    };
    const baseline = await observe({});
    const empty = await observe({ gates: [] });
    expect(empty).toEqual(baseline);
    expect(baseline.order).toEqual(['root', ...Array.from({ length: 40 }, (_, i) => `t${i}`)]);
  });

  it('gates read their own hints for opt-outs and deadlines; bad gates and duplicate names are rejected', async () => {
    const seen: unknown[] = [];
    await runFlow(flow('hints', (f) => void f.task('t', () => 1, { hints: { 'glacier/skip': true, 'other/x': 1 } })), {
      gates: [defineGate({ name: 'glacier', prepare: async (_ti, { hints }) => void seen.push(hints['glacier/skip']) })],
      ...quiet,
    });
    expect(seen).toEqual([true]);
    const gate = defineGate({ name: 'g', prepare: async () => {} });
    expect(() => startFlow(flow('x', (f) => void f.task('t', () => 1)), { gates: [gate, defineGate({ name: 'g', prepare: async () => {} })] })).toThrow(
      "two gates are named 'g'",
    );
    expect(() => defineGate({ name: 'nope' } as never)).toThrow("defineGate('nope'): prepare must be a function");
  });
});

describe('readiness gates and resume', () => {
  it('a run resumed from the store starts the gates of the instances that were queued again', async () => {
    const { memoryStore } = await import('../../src/stores/index.ts');
    const store = memoryStore();
    const clock = createTestClock();
    const prepared: string[] = [];
    let ran = 0;
    const definition = flow('resumable', (f) => void f.task('restore', () => ++ran));
    // First process: the gate never answers, then the process "dies" (the handle is dropped).
    const first = startFlow(definition, {
      clock,
      store,
      runId: 'gated',
      gates: [defineGate({ name: 'glacier', prepare: async (ti) => { prepared.push(`first ${ti.key}`); await new Promise(() => {}); } })],
      ...quiet,
    });
    await first.ready();
    await clock.flush();
    await first.persisted();
    expect((await store.loadRun('gated'))!.instances.map((i) => i.state)).toEqual(['queued']);
    // The dropped handle's lease has to expire before another process may take the run over.
    await clock.advance(30_000);
    // Second process: the same run resumed; the (idempotent) gate runs again and passes.
    const second = startFlow(definition, {
      clock,
      store,
      runId: 'gated',
      resume: true,
      gates: [defineGate({ name: 'glacier', prepare: async (ti) => void prepared.push(`second ${ti.key}`) })],
      ...quiet,
    });
    const run = await second.done;
    expect(prepared).toEqual(['first restore', 'second restore']);
    expect(run.tasks['restore']).toMatchObject({ state: 'success', attempts: 1, result: 1 });
    expect(ran).toBe(1);
  });
});
