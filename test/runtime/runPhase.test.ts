import { describe, expect, it } from 'vitest';
import { FailTask, flow, MachineVersionError, runFlow, startFlow } from '../../src/index.ts';
import { openFlowRun } from '../../src/runtime/runFlow.ts';
import { memoryStore } from '../../src/stores/index.ts';

const quiet = { log: () => {} };

let failFirst = true;
const definition = flow('phases', (f) => {
  const a = f.task('a', () => {
    if (failFirst) throw new FailTask('a fails the first time');
    return 'a';
  });
  f.task('b', ({ upstream }) => `${upstream.a as string} then b`, { after: [a] });
});

describe("the run's phase is the flow-run machine's state", () => {
  it('a finished stored run reopened for a manual change goes through RERUN (failed → queued) and runs on when resumed', async () => {
    const store = memoryStore();
    failFirst = true;
    const first = await runFlow(definition, { store, runId: 'r', ...quiet });
    expect(first).toMatchObject({ state: 'failed', reason: 'task_failure' });

    // What `taskmachine set-state` does: open the stored run for manual changes only.
    const paused = openFlowRun(definition, { store, runId: 'r', resume: true, ...quiet }, { paused: true });
    await paused.ready();
    expect(paused.snapshot().state).toBe('failed');
    paused.setState('a', 'success');
    await paused.persisted();
    // Only the machine's RERUN edge leads from failed to queued, and it forgets the outcome.
    expect((await store.getRun('r'))!).toMatchObject({ state: 'queued', reason: null });
    expect(paused.snapshot()).toMatchObject({ state: 'queued', reason: null });
    expect(paused.taskInstance('b')!.state).toBe('none');
    // Done with it: let go of the run (its lease), as the CLI does.
    await paused.shutdown();

    const resumed = await runFlow(definition, { store, runId: 'r', resume: true, ...quiet });
    expect(resumed.state).toBe('success');
    expect(resumed.tasks['b']!.result).toBe('undefined then b');
    expect((await store.getRun('r'))!.state).toBe('success');
  });

  it('a finished stored run opened for a manual change that is refused: shutdown resolves and lets go of its lease', async () => {
    const store = memoryStore();
    failFirst = false;
    expect((await runFlow(definition, { store, runId: 'done', ...quiet })).state).toBe('success');
    const paused = openFlowRun(definition, { store, runId: 'done', resume: true, ...quiet }, { paused: true });
    await paused.ready();
    expect(() => paused.setState('ghost', 'success')).toThrow(/has no task instance 'ghost'/);
    expect((await store.getLease('done'))?.releasedAt).toBeUndefined();
    // (It used to wait for a `done` that never comes: the CLI exited 13, its lease still held.)
    expect(await paused.shutdown({ graceMs: 0 })).toMatchObject({ state: 'success' });
    expect((await store.getLease('done'))?.releasedAt).toBeDefined();
    expect((await store.getRun('done'))!.state).toBe('success');
  });

  it('a live run that finished and gets work again goes back to running, and done settles anew', async () => {
    failFirst = true;
    const handle = startFlow(definition, quiet);
    expect(await handle.done).toMatchObject({ state: 'failed', reason: 'task_failure' });
    failFirst = false;
    handle.clear('a');
    expect(handle.snapshot()).toMatchObject({ state: 'running', reason: null });
    handle.clear('b');
    expect(await handle.done).toMatchObject({ state: 'success', reason: null });
  });

  it('cancel is a phase event: illegal during a shutdown (the machine says why), a no-op once finished', async () => {
    const store = memoryStore();
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const slow = flow('slow', (f) => {
      f.task('wait', async () => {
        started();
        await blocked;
        return 'done';
      });
    });
    const handle = startFlow(slow, { store, runId: 's', ...quiet });
    await running;
    const stopping = handle.shutdown({ graceMs: 60_000 });
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(() => handle.cancel()).toThrow(/^flow run: event CANCEL is not legal in state 'running.stopping'\. Legal events there: DETACH, FAIL, SET_STATE, SUCCEED\./);
    release();
    const record = await stopping;
    expect(record.tasks['wait']!.state).toBe('success');
    expect(record.state).toBe('success');
    handle.cancel();
    expect(handle.snapshot().state).toBe('success');
  });
});

describe('machineVersion is checked when a stored run is opened', () => {
  it('a run stored by an unknown flow-run machine version is refused and left unchanged', async () => {
    const store = memoryStore();
    failFirst = false;
    await runFlow(definition, { store, runId: 'v', ...quiet });
    const stored = (await store.getRun('v'))!;
    await store.commit({ runId: 'v', run: { ...stored, machineVersion: '99' } });
    const before = await store.loadRun('v');
    const error = await runFlow(definition, { store, runId: 'v', resume: true, ...quiet }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MachineVersionError);
    expect(error).toMatchObject({ machine: 'flow-run', storedVersion: '99', supportedVersions: ['1', '2'] });
    expect((error as Error).message).toMatch(/run 'v' was stored by flow-run machine version "99".*Nothing was changed/);
    expect(await store.loadRun('v')).toEqual(before);
  });

  it('a task instance stored by an unknown task-instance machine version is refused, naming it', async () => {
    const store = memoryStore();
    failFirst = false;
    await runFlow(definition, { store, runId: 'w', ...quiet });
    const loaded = (await store.loadRun('w'))!;
    const a = loaded.instances.find((i) => i.key === 'a')!;
    const { runId: _runId, version, ...record } = a;
    await store.commit({ runId: 'w', instances: [{ record: { ...record, machineVersion: '7' }, expectedVersion: version }] });
    const error = await runFlow(definition, { store, runId: 'w', resume: true, ...quiet }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MachineVersionError);
    expect((error as Error).message).toContain("task instance 'a' of run 'w' was stored by task-instance machine version \"7\"");
  });

  it('runs stored by version 1 of both machines open as they are', async () => {
    const store = memoryStore();
    failFirst = false;
    await runFlow(definition, { store, runId: 'old', ...quiet });
    const loaded = (await store.loadRun('old'))!;
    await store.commit({
      runId: 'old',
      run: { ...loaded.run, machineVersion: '1' },
      instances: loaded.instances.map(({ runId: _r, version, ...record }) => ({ record: { ...record, machineVersion: '1' }, expectedVersion: version })),
    });
    expect((await runFlow(definition, { store, runId: 'old', resume: true, ...quiet })).state).toBe('success');
  });
});
