// Opening a run in its store (openRun): a new run is created and committed before anything runs;
// a stored one is checked (its flow, its input, its machine versions) and loaded; the run record
// keeps its task list and shape; every batch is fenced with the lease token; and the input tasks
// get — the given one or the stored one — says whether it is the record's (workers read it there).
import { describe, expect, it } from 'vitest';
import { FLOW_RUN_MACHINE_VERSION } from '../../machines/index.ts';
import { createTestClock } from '../../src/clock.ts';
import { flow, FlowMismatchError, MachineVersionError, RunNotFoundError, runFlow, type RunFlowOptions } from '../../src/index.ts';
import { openRun } from '../../src/runtime/opening/openRun.ts';
import { resolveSettings } from '../../src/runtime/settings.ts';
import { memoryStore, type Store } from '../../src/stores/index.ts';
import { makeInstance, makeRun } from '../stores/fixtures/records.ts';
import { recordingStore } from '../helpers/recordingStore.ts';

const quiet = { log: () => {} };
const etl = flow<{ day: string }>('etl', (f) => {
  const a = f.task('a', ({ input }) => `rows of ${input.day}`);
  f.task('b', ({ upstream }) => `${upstream.a as string} loaded`, { after: [a] });
});

function open(store: Store, options: Partial<RunFlowOptions<{ day: string }>>, token?: number, definition = etl) {
  const clock = createTestClock(5_000);
  const failures: Error[] = [];
  const settings = resolveSettings(definition, { store, runId: 'r', ...quiet, ...options } as RunFlowOptions<unknown>);
  return { clock, failures, opened: openRun(store, definition, settings, clock, (error) => void failures.push(error), token) };
}

describe('a new run', () => {
  it('is committed queued (shape and task list with it) in the first batch, fenced with the lease token', async () => {
    const { store, batches } = recordingStore();
    await runFlow(etl, { store, runId: 'r', input: { day: 'mon' }, ...quiet });
    expect(batches[0]!.leaseToken).toBe(1);
    expect(batches[0]!.shape).toBeDefined();
    expect(batches[0]!.instances).toBeUndefined();
    expect(batches[0]!.run).toMatchObject({ runId: 'r', flowId: 'etl', state: 'queued', reason: null, taskIds: ['a', 'b'], input: { day: 'mon' }, startedAt: undefined, endedAt: undefined });
    expect(batches.every((batch) => batch.leaseToken === 1)).toBe(true);
    // Resumed by another owner: its batches carry the next token.
    const before = batches.length;
    const resumed = await runFlow(etl, { store, runId: 'r', resume: true, ...quiet });
    expect(resumed.state).toBe('success');
    expect(batches.length).toBeGreaterThan(before);
    expect(batches.slice(before).every((batch) => batch.leaseToken === 2)).toBe(true);
  });

  it('the input is the record\'s (inputStored)', async () => {
    const store = memoryStore();
    const { opened } = open(store, { input: { day: 'mon' } });
    const run = await opened;
    expect(run).toMatchObject({ loaded: undefined, input: { day: 'mon' }, inputStored: true });
    expect((await store.getRun('r'))!.state).toBe('queued');
  });

  it('a first commit the store refuses fails the open with its error', async () => {
    const store = memoryStore();
    store.commit = async () => {
      throw new Error('disk I/O error');
    };
    const { opened, failures } = open(store, { input: { day: 'mon' } });
    await expect(opened).rejects.toThrow('disk I/O error');
    expect(failures.map((e) => e.message)).toEqual(['disk I/O error']);
  });

  it('resume of a run that is not stored: RunNotFoundError, nothing created', async () => {
    const store = memoryStore();
    const error = await runFlow(etl, { store, runId: 'r', resume: true, input: { day: 'mon' }, onInputChange: 'reset', ...quiet }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunNotFoundError);
    expect((error as Error).message).toContain("there is no run 'r' in the store");
    expect(await store.getRun('r')).toBeUndefined();
  });
});

describe('a stored run', () => {
  it('of another flow is refused (FlowMismatchError names both), nothing changed', async () => {
    const store = memoryStore();
    await runFlow(etl, { store, runId: 'r', input: { day: 'mon' }, ...quiet });
    const before = await store.loadRun('r');
    const other = flow('billing', (f) => void f.task('a', () => 1));
    const error = await runFlow(other, { store, runId: 'r', resume: true, ...quiet }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlowMismatchError);
    expect(error).toMatchObject({ runId: 'r', storedFlowId: 'etl', flowId: 'billing' });
    expect((error as Error).message).toContain("run 'r' in the store belongs to flow 'etl', not 'billing'");
    expect(await store.loadRun('r')).toEqual(before);
  });

  it("resumed with another input and onInputChange 'reset' starts over with it (not RunNotFoundError)", async () => {
    const store = memoryStore();
    await runFlow(etl, { store, runId: 'r', input: { day: 'mon' }, ...quiet });
    const run = await runFlow(etl, { store, runId: 'r', resume: true, input: { day: 'tue' }, onInputChange: 'reset', ...quiet });
    expect(run.state).toBe('success');
    expect(run.tasks['b']!.result).toBe('rows of tue loaded');
    expect((await store.getRun('r'))!.input).toEqual({ day: 'tue' });
  });

  it('the input: the stored one when none is given, the given one otherwise; the record\'s only when stored as the same text', async () => {
    const store = memoryStore();
    await runFlow(etl, { store, runId: 'r', input: { day: 'mon' }, fingerprint: 'fp', ...quiet });
    expect(await open(store, { resume: true }, undefined).opened).toMatchObject({ input: { day: 'mon' }, inputStored: true });
    expect(await open(store, { resume: true, input: { day: 'mon' }, fingerprint: 'fp' }).opened).toMatchObject({ input: { day: 'mon' }, inputStored: true });
    // Same fingerprint, another value (onInputChange 'reuse' keeps the record's): tasks get the given one, workers cannot read it from the record.
    const other = await open(store, { resume: true, input: { day: 'tue' }, fingerprint: 'fp' }).opened;
    expect(other).toMatchObject({ input: { day: 'tue' }, inputStored: false });
    // A value that cannot be stored is never the record's.
    const odd = { day: 'mon', then: Symbol('x') } as unknown as { day: string };
    expect(await open(store, { resume: true, input: odd, fingerprint: 'fp' }).opened).toMatchObject({ input: odd, inputStored: false });
  });

  it('that disappears while it is being opened is an error naming it', async () => {
    const store = memoryStore();
    await runFlow(etl, { store, runId: 'r', input: { day: 'mon' }, ...quiet });
    store.loadRun = async () => undefined;
    await expect(open(store, { resume: true }).opened).rejects.toThrow("run 'r' disappeared from the store while it was being opened");
  });

  it('carries the lease token it was opened with in every batch', async () => {
    const store = memoryStore();
    await runFlow(etl, { store, runId: 'r', input: { day: 'mon' }, ...quiet });
    const opened = await open(store, { resume: true }, 7).opened;
    expect(opened.persistence.leaseToken).toBe(7);
  });

  it('opened by the same definition writes nothing until something changes', async () => {
    const { store, batches } = recordingStore();
    await runFlow(etl, { store, runId: 'r', input: { day: 'mon' }, ...quiet });
    const before = batches.length;
    const { opened, clock } = open(store, { resume: true });
    const { persistence } = await opened;
    await persistence.flush(clock.now());
    expect(batches).toHaveLength(before);
  });

  it('stored without a task list gets its stored instances\' tasks as one, even when the definition adds none', async () => {
    const store = memoryStore();
    await store.commit({
      runId: 'r',
      run: makeRun('r', { flowId: 'etl', machineVersion: FLOW_RUN_MACHINE_VERSION, taskIds: undefined, state: 'success', endedAt: 2_000 }),
      instances: [
        { record: makeInstance('b', { state: 'success', attempt: 1, machineVersion: '3', startedAt: 1_000, endedAt: 2_000 }) },
        { record: makeInstance('a', { state: 'success', attempt: 1, machineVersion: '3', startedAt: 1_000, endedAt: 1_500 }) },
      ],
    });
    const { opened, clock } = open(store, { resume: true });
    const { persistence } = await opened;
    await persistence.flush(clock.now());
    expect((await store.getRun('r'))!.taskIds).toEqual(['b', 'a']);
  });

  it('with an instance of an unknown machine version is refused, listing the versions this release reads', async () => {
    const store = memoryStore();
    await runFlow(etl, { store, runId: 'r', input: { day: 'mon' }, ...quiet });
    const a = (await store.loadRun('r'))!.instances.find((i) => i.key === 'a')!;
    const { runId: _runId, version, ...record } = a;
    await store.commit({ runId: 'r', instances: [{ record: { ...record, machineVersion: '9' }, expectedVersion: version }] });
    const error = await open(store, { resume: true }).opened.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MachineVersionError);
    expect(error).toMatchObject({ machine: 'task-instance', storedVersion: '9', supportedVersions: ['1', '2', '3'] });
    expect((error as Error).message).toContain("task instance 'a' of run 'r'");
  });
});
