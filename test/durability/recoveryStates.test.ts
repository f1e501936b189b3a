// What a resumed run continues, by the stored state of each instance (recoverRun after
// restoreInstances): the rows are written through the store API as a process that stopped would
// have left them, then the run is resumed on a test clock in this process. Interrupted attempts run
// again within maxInterruptions; stored timers fire when their time is up, missing ones at once
// (retry, poke) or after resumeAfter; parked instances wait; reused successes are reported to
// decorators with isCloned; instances of tasks that left the definition end as removed (a running
// one failed first).
import { describe, expect, it } from 'vitest';
import { FLOW_RUN_MACHINE_VERSION, TASK_INSTANCE_MACHINE_VERSION } from '../../machines/index.ts';
import { createTestClock } from '../../src/clock.ts';
import { ctx, defineDecorator, flow, startFlow } from '../../src/index.ts';
import { memoryStore, type Store, type TaskInstanceWrite } from '../../src/stores/index.ts';
import { makeInstance, makeRun } from '../stores/fixtures/records.ts';

const quiet = { log: () => {} };
const T0 = 100_000;

interface Seen {
  calls: string[];
  finished: string[];
}

function definition(seen: Seen, options: { resumeAfter?: number; gone?: boolean } = {}) {
  const audit = defineDecorator({
    name: 'audit',
    defaults: {},
    hooks: { onTaskFinished: (ok, sys) => void seen.finished.push(`${sys.taskKey} ok=${ok} cloned=${sys.isCloned}`) },
  })();
  return flow('rec', (f) => {
    f.task(
      'a',
      () => {
        seen.calls.push(`a#${ctx()!.attempt}`);
        return 'A';
      },
      { retries: 2, retryDelay: 60_000, decorators: [audit], ...(options.resumeAfter === undefined ? {} : { resumeAfter: options.resumeAfter }) },
    );
    f.task('b', () => {
      seen.calls.push(`b#${ctx()!.attempt}`);
      return 'B';
    });
  });
}

/** Stores run 'r' of flow 'rec' (tasks a, b and, when given, rows of tasks no longer defined) as a stopped process left it. */
async function seed(store: Store, rows: TaskInstanceWrite[]): Promise<void> {
  const taskIds = [...new Set(['a', 'b', ...rows.map((row) => row.taskId)])];
  await store.commit({
    runId: 'r',
    run: makeRun('r', { flowId: 'rec', machineVersion: FLOW_RUN_MACHINE_VERSION, taskIds, startedAt: 1_000 }),
    instances: rows.map((record) => ({ record })),
  });
}

const row = (key: string, overrides: Partial<TaskInstanceWrite>) =>
  makeInstance(key, { machineVersion: TASK_INSTANCE_MACHINE_VERSION, attempt: 1, maxAttempts: 3, retries: 2, startedAt: 1_000, ...overrides });
const bDone = row('b', { state: 'success', endedAt: 2_000 });

async function resume(store: Store, seen: Seen, options: { resumeAfter?: number; maxInterruptions?: number } = {}) {
  const clock = createTestClock(T0);
  const handle = startFlow(definition(seen, options), { store, runId: 'r', resume: true, clock, ...quiet, ...(options.maxInterruptions === undefined ? {} : { maxInterruptions: options.maxInterruptions }) });
  await handle.ready();
  await clock.advance(0);
  return { clock, handle };
}

async function log(store: Store, key: string): Promise<string[]> {
  return (await store.readTransitionLog('r')).filter((t) => t.key === key).map((t) => `${t.from}→${t.to} ${t.event}`);
}

const fresh = (): Seen => ({ calls: [], finished: [] });

describe('interrupted attempts', () => {
  it('a running attempt runs again as the same attempt (no retry used), counted as an interruption', async () => {
    const store = memoryStore();
    await seed(store, [row('a', { state: 'running', interruptions: 1 }), bDone]);
    const seen = fresh();
    const { handle } = await resume(store, seen);
    const run = await handle.done;
    expect(run.tasks['a']).toMatchObject({ state: 'success', attempts: 1 });
    expect(seen.calls).toEqual(['a#1']);
    expect((await store.loadRun('r'))!.instances.find((i) => i.key === 'a')).toMatchObject({ state: 'success', attempt: 1, interruptions: 2 });
    expect(await log(store, 'a')).toEqual(['running→scheduled INTERRUPT', 'scheduled→queued QUEUE', 'queued→running START', 'running→success SUCCEED']);
  });

  it('one interrupted more often than its stored maxInterruptions fails, naming the interruption', async () => {
    const store = memoryStore();
    await seed(store, [row('a', { state: 'running', interruptions: 0, maxInterruptions: 0 }), bDone]);
    const seen = fresh();
    const { handle } = await resume(store, seen, { maxInterruptions: 5 });
    const run = await handle.done;
    expect(run.tasks['a']).toMatchObject({ state: 'failed', failureKind: 'interrupted' });
    expect(run.tasks['a']!.error!.message).toContain('last: the process running it stopped before the attempt ended');
    expect(seen.calls).toEqual([]);
  });

  it('rows of machine versions before 3 (no interruption bound stored) take the run\'s maxInterruptions', async () => {
    for (const machineVersion of ['1', '2']) {
      const store = memoryStore();
      await seed(store, [row('a', { state: 'running', interruptions: 0, maxInterruptions: 0, machineVersion }), bDone]);
      const seen = fresh();
      const { handle } = await resume(store, seen, { maxInterruptions: 5 });
      expect((await handle.done).tasks['a']).toMatchObject({ state: 'success', attempts: 1 });
      expect((await store.loadRun('r'))!.instances.find((i) => i.key === 'a')).toMatchObject({ interruptions: 1, maxInterruptions: 5 });
    }
  });

  it('a cleared attempt that was stopping (restarting) has stopped: it is retried at once', async () => {
    const store = memoryStore();
    await seed(store, [row('a', { state: 'restarting' }), bDone]);
    const seen = fresh();
    const { handle } = await resume(store, seen);
    const run = await handle.done;
    expect(run.tasks['a']!.state).toBe('success');
    expect(seen.calls).toEqual(['a#2']);
    expect((await log(store, 'a')).slice(0, 2)).toEqual(['restarting→up_for_retry STOPPED', 'up_for_retry→scheduled RETRY']);
  });
});

describe('stored timers', () => {
  it('a retry waits for its stored deadline (the time left), then runs', async () => {
    const store = memoryStore();
    await seed(store, [row('a', { state: 'up_for_retry', timer: { deadline: T0 + 5_000, action: 'retry' } }), bDone]);
    const seen = fresh();
    const { clock, handle } = await resume(store, seen);
    await clock.advance(4_999);
    expect(seen.calls).toEqual([]);
    await clock.advance(1);
    expect(seen.calls).toEqual(['a#2']);
    expect((await handle.done).tasks['a']).toMatchObject({ state: 'success', attempts: 2 });
  });

  it('a retry whose deadline passed while no process ran, or that has none stored, runs at once', async () => {
    for (const timer of [{ deadline: T0 - 1_000, action: 'retry' as const }, undefined]) {
      const store = memoryStore();
      await seed(store, [row('a', { state: 'up_for_retry', timer }), bDone]);
      const seen = fresh();
      const { handle } = await resume(store, seen);
      expect(seen.calls).toEqual(['a#2']);
      expect((await handle.done).tasks['a']!.state).toBe('success');
    }
  });

  it('a checkpointed instance without a stored timer resumes after its task\'s resumeAfter; without resumeAfter it stays parked', async () => {
    const store = memoryStore();
    await seed(store, [row('a', { state: 'checkpointed', resumeData: { page: 2 } }), bDone]);
    const seen = fresh();
    const { clock, handle } = await resume(store, seen, { resumeAfter: 10_000 });
    await clock.advance(9_999);
    expect(seen.calls).toEqual([]);
    await clock.advance(1);
    expect(seen.calls).toEqual(['a#1']);
    expect((await handle.done).tasks['a']!.state).toBe('success');

    const parked = memoryStore();
    await seed(parked, [row('a', { state: 'checkpointed', resumeData: { page: 2 } }), bDone]);
    const other = fresh();
    const second = await resume(parked, other);
    await second.clock.advance(3_600_000);
    expect(other.calls).toEqual([]);
    expect(second.handle.snapshot().tasks['a']!.state).toBe('checkpointed');
    second.handle.resumeTask('a', { go: true });
    expect((await second.handle.done).tasks['a']!.state).toBe('success');
    expect(other.calls).toEqual(['a#1']);
  });

  it('a deferred instance waiting for an event (no timer) stays parked until the event comes', async () => {
    const store = memoryStore();
    await seed(store, [row('a', { state: 'deferred', awaitsEvent: true }), bDone]);
    const seen = fresh();
    const { clock, handle } = await resume(store, seen);
    await clock.advance(3_600_000);
    expect(seen.calls).toEqual([]);
    expect(handle.snapshot().tasks['a']!.state).toBe('deferred');
    handle.sendEvent('a', { approved: true });
    expect((await handle.done).tasks['a']!.state).toBe('success');
  });
});

describe('stored timers of parked and rescheduled instances', () => {
  it('a deferral timeout fires at its stored deadline', async () => {
    const store = memoryStore();
    await seed(store, [row('a', { state: 'deferred', awaitsEvent: true, timer: { deadline: T0 + 5_000, action: 'trigger-timeout' } }), bDone]);
    const seen = fresh();
    const { clock, handle } = await resume(store, seen);
    await clock.advance(4_999);
    expect(handle.snapshot().tasks['a']!.state).toBe('deferred');
    await clock.advance(1);
    expect(handle.snapshot().tasks['a']!.state).not.toBe('deferred');
    await handle.persisted();
    // The timed-out deferral runs the task again (deferTimedOut tells it why).
    expect((await log(store, 'a'))[0]).toBe('deferred→scheduled TRIGGER');
    handle.cancel('done looking');
    await handle.done.catch(() => {});
  });

  it('a reschedule pokes at its stored deadline, or at once without one', async () => {
    const store = memoryStore();
    await seed(store, [row('a', { state: 'up_for_reschedule', timer: { deadline: T0 + 5_000, action: 'poke' } }), bDone]);
    const seen = fresh();
    const { clock, handle } = await resume(store, seen);
    await clock.advance(4_999);
    expect(seen.calls).toEqual([]);
    await clock.advance(1);
    expect(seen.calls).toEqual(['a#1']);
    expect((await handle.done).tasks['a']!.state).toBe('success');

    const now = memoryStore();
    await seed(now, [row('a', { state: 'up_for_reschedule' }), bDone]);
    const other = fresh();
    const second = await resume(now, other);
    expect(other.calls).toEqual(['a#1']);
    expect((await second.handle.done).tasks['a']!.state).toBe('success');
  });
});

describe('queued and scheduled instances', () => {
  it('continue: both run', async () => {
    const store = memoryStore();
    await seed(store, [row('a', { state: 'scheduled' }), row('b', { state: 'queued' })]);
    const seen = fresh();
    const { handle } = await resume(store, seen);
    const run = await handle.done;
    expect(run.state).toBe('success');
    expect(seen.calls.sort()).toEqual(['a#1', 'b#1']);
  });
});

describe('reused results', () => {
  it('a success that ran is reported to decorators as cloned; one set by hand before it ever ran is not reported', async () => {
    const store = memoryStore();
    await seed(store, [row('a', { state: 'success', endedAt: 2_000 }), bDone]);
    await store.commit({ runId: 'r', results: [{ key: 'a', attempt: 1, value: 'A', at: 2_000 }] });
    const seen = fresh();
    const { handle } = await resume(store, seen);
    expect((await handle.done).tasks['a']).toMatchObject({ state: 'success', result: 'A' });
    expect(seen.finished).toEqual(['a ok=true cloned=true']);
    expect(seen.calls).toEqual([]);

    const manual = memoryStore();
    await seed(manual, [row('a', { state: 'success', attempt: 0, startedAt: undefined, manuallySetFrom: 'none' }), bDone]);
    const other = fresh();
    const second = await resume(manual, other);
    expect((await second.handle.done).tasks['a']!.state).toBe('success');
    expect(other.finished).toEqual([]);
    expect(other.calls).toEqual([]);
  });
});

describe('instances of tasks that left the definition', () => {
  it('a running one is ended as failed (infrastructure, naming the task); others are cleared and removed; finished ones stay', async () => {
    const store = memoryStore();
    await seed(store, [
      row('a', { state: 'success', endedAt: 2_000 }),
      bDone,
      row('gone_running', { state: 'running' }),
      row('gone_restarting', { state: 'restarting' }),
      row('gone_retry', { state: 'up_for_retry', timer: { deadline: T0 + 1_000, action: 'retry' } }),
      row('gone_none', { state: 'none', attempt: 0, startedAt: undefined }),
      row('gone_done', { state: 'success', endedAt: 2_000 }),
    ]);
    await store.commit({ runId: 'r', results: [{ key: 'a', attempt: 1, value: 'A', at: 2_000 }, { key: 'gone_done', attempt: 1, value: 1, at: 2_000 }] });
    const seen = fresh();
    const { handle } = await resume(store, seen);
    const run = await handle.done;
    // The leftovers are not the run's tasks: its outcome is that of a and b.
    expect(run.state).toBe('success');
    const stored = new Map((await store.loadRun('r'))!.instances.map((i) => [i.key, i]));
    expect(stored.get('gone_running')).toMatchObject({ state: 'failed', failureKind: 'infrastructure' });
    expect(stored.get('gone_running')!.error!.message).toBe("task 'gone_running' is no longer in the flow definition");
    expect(stored.get('gone_restarting')!.state).toBe('removed');
    expect(stored.get('gone_retry')!.state).toBe('removed');
    expect(stored.get('gone_none')!.state).toBe('removed');
    expect(stored.get('gone_done')!.state).toBe('success');
    expect(await log(store, 'gone_running')).toEqual(['running→failed FAIL']);
    expect(await log(store, 'gone_restarting')).toEqual(['restarting→up_for_retry STOPPED', 'up_for_retry→none CLEAR', 'none→removed REMOVE']);
    expect(await log(store, 'gone_retry')).toEqual(['up_for_retry→none CLEAR', 'none→removed REMOVE']);
    expect(await log(store, 'gone_none')).toEqual(['none→removed REMOVE']);
    expect(await log(store, 'gone_done')).toEqual([]);
  });
});
