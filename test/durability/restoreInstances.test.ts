// Rebuilding a stored run's instances (restoreInstances): mapped instances in map-index order with
// their items, children of ctx().call with their call input and custom context, the machine
// context as stored (awaitsEvent only for a deferred instance), the results. Rows are written
// through the store API (in an order the store keeps), then the run is resumed in this process.
import { describe, expect, it } from 'vitest';
import { FLOW_RUN_MACHINE_VERSION, TASK_INSTANCE_MACHINE_VERSION } from '../../machines/index.ts';
import { createTestClock } from '../../src/clock.ts';
import { ctx, flow, startFlow, withCustomContext } from '../../src/index.ts';
import { memoryStore, type ResultWrite, type Store, type TaskInstanceWrite } from '../../src/stores/index.ts';
import { makeInstance, makeRun } from '../stores/fixtures/records.ts';

const quiet = { log: () => {} };
const T0 = 100_000;

const row = (key: string, overrides: Partial<TaskInstanceWrite>) =>
  makeInstance(key, { machineVersion: TASK_INSTANCE_MACHINE_VERSION, attempt: 1, maxAttempts: 3, retries: 2, startedAt: 1_000, ...overrides });
const done = (key: string, overrides: Partial<TaskInstanceWrite> = {}) => row(key, { state: 'success', endedAt: 2_000, ...overrides });

async function seed(store: Store, flowId: string, taskIds: string[], rows: TaskInstanceWrite[], results: ResultWrite[]): Promise<void> {
  await store.commit({
    runId: 'r',
    run: makeRun('r', { flowId, machineVersion: FLOW_RUN_MACHINE_VERSION, taskIds, startedAt: 1_000 }),
    instances: rows.map((record) => ({ record })),
    results,
  });
}

describe('mapped instances', () => {
  it('are put back in map-index order (not the order the store keeps them), each with its item from the mapped list', async () => {
    const calls: string[] = [];
    const definition = flow('fan', (f) => {
      const list = f.task('list', () => [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      const square = f.map('sq', list, ({ item }) => {
        calls.push(`${ctx()!.taskKey} item=${String(item)}`);
        return (item as number) ** 2;
      }, { retries: 2 });
      f.task('all', ({ upstream }) => (upstream.sq as number[]).join(','), { after: [square] });
    });
    const items = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    // Stored newest first; sq[10] is to be retried (its item must come from list's result).
    const order = [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0];
    const rows = [
      done('list'),
      ...order.map((i) => (i === 10 ? row('sq[10]', { state: 'up_for_retry', mapIndex: 10 }) : done(`sq[${i}]`, { mapIndex: i }))),
    ];
    const results: ResultWrite[] = [
      { key: 'list', attempt: 1, value: items, at: 2_000 },
      ...order.filter((i) => i !== 10).map((i) => ({ key: `sq[${i}]`, attempt: 1, value: i * i, at: 2_000 })),
    ];
    const store = memoryStore();
    await seed(store, 'fan', ['list', 'sq', 'all'], rows, results);
    const clock = createTestClock(T0);
    const handle = startFlow(definition, { store, runId: 'r', resume: true, clock, ...quiet });
    await handle.ready();
    await clock.advance(0);
    const run = await handle.done;
    expect(calls).toEqual(['sq[10] item=10']);
    expect(run.tasks['all']!.result).toBe(items.map((i) => i * i).join(','));
  });
});

describe('children of ctx().call', () => {
  it('keep their parent, call input and custom context: a child to be retried runs again with them, and the parent gets its result', async () => {
    const seen: string[] = [];
    const definition = flow('calls', (f) => {
      const child = f.subtask('child', ({ input }: { input: number }) => {
        const c = ctx()!;
        seen.push(`${c.taskKey}#${c.attempt} input=${input} region=${c.customContext['region'] ?? '-'}`);
        return input * 2;
      }, { retries: 2 });
      f.task('parent', async () => {
        seen.push(`parent#${ctx()!.attempt}`);
        return withCustomContext({ region: 'eu' }, () => ctx()!.call(child, 5));
      });
    });
    const store = memoryStore();
    await seed(
      store,
      'calls',
      ['child', 'parent'],
      [
        row('parent', { state: 'running' }),
        row('parent/child#0', { taskId: 'child', state: 'up_for_retry', parentKey: 'parent', callInput: 5, customContext: { region: 'eu' } }),
      ],
      [],
    );
    const clock = createTestClock(T0);
    const handle = startFlow(definition, { store, runId: 'r', resume: true, clock, ...quiet });
    await handle.ready();
    await clock.advance(0);
    const run = await handle.done;
    expect(run.tasks['parent']).toMatchObject({ state: 'success', result: 10 });
    expect(seen).toContain('parent/child#0#2 input=5 region=eu');
    expect(seen.filter((line) => line.startsWith('parent/child'))).toEqual(['parent/child#0#2 input=5 region=eu']);
    expect((await store.loadRun('r'))!.instances.find((i) => i.key === 'parent/child#0')).toMatchObject({
      state: 'success',
      attempt: 2,
      parentKey: 'parent',
      callInput: 5,
      customContext: { region: 'eu' },
    });
  });
});

describe('the machine context', () => {
  it('a deferred instance that waits for no event (a timed deferral) does not take one', async () => {
    const definition = flow('wait', (f) => {
      f.task('a', () => 'A');
    });
    const store = memoryStore();
    await seed(store, 'wait', ['a'], [row('a', { state: 'deferred', awaitsEvent: false, timer: { deadline: T0 + 60_000, action: 'trigger' } })], []);
    const clock = createTestClock(T0);
    const handle = startFlow(definition, { store, runId: 'r', resume: true, clock, ...quiet });
    await handle.ready();
    expect(() => handle.sendEvent('a', { early: true })).toThrow();
    await clock.advance(60_000);
    expect((await handle.done).tasks['a']!.state).toBe('success');
  });

  it('a stored awaitsEvent counts only for a deferred instance (version 1 kept it outside the machine)', async () => {
    const definition = flow('wait', (f) => {
      f.task('a', () => 'A');
    });
    const store = memoryStore();
    await seed(store, 'wait', ['a'], [row('a', { state: 'checkpointed', awaitsEvent: true, resumeData: { page: 1 } })], []);
    const handle = startFlow(definition, { store, runId: 'r', resume: true, clock: createTestClock(T0), ...quiet });
    await handle.ready();
    expect(() => handle.sendEvent('a', { early: true })).toThrow();
    handle.resumeTask('a');
    expect((await handle.done).tasks['a']!.state).toBe('success');
    expect((await store.loadRun('r'))!.instances[0]).toMatchObject({ state: 'success', awaitsEvent: false });
  });
});

describe('a task that became a subtask', () => {
  it('its instance stored as a DAG task is left as it is: the resumed run does not run it as one, its callers get their own child', async () => {
    const seen: string[] = [];
    const definition = flow('calls', (f) => {
      const child = f.subtask('child', ({ input }: { input: number }) => {
        seen.push(ctx()!.taskKey);
        return input + 1;
      });
      f.task('parent', () => ctx()!.call(child, 1));
    });
    const store = memoryStore();
    await seed(store, 'calls', ['child', 'parent'], [done('child'), row('parent', { state: 'scheduled' })], [{ key: 'child', attempt: 1, value: 'old', at: 2_000 }]);
    const clock = createTestClock(T0);
    const handle = startFlow(definition, { store, runId: 'r', resume: true, clock, ...quiet });
    await handle.ready();
    await clock.advance(0);
    const run = await handle.done;
    expect(run.tasks['parent']).toMatchObject({ state: 'success', result: 2 });
    expect(seen).toEqual(['parent/child#0']);
    expect(run.tasks['child']).toBeUndefined();
  });
});
