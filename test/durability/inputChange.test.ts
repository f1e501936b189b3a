// `onInputChange`: what happens when a run id that exists in the store is started with another
// input (or fingerprint).
import { describe, expect, it, vi } from 'vitest';
import { flow, InputChangedError, runFlow, startFlow, type Listener } from '../../src/index.ts';
import { inputFingerprint, memoryStore, type Store } from '../../src/stores/index.ts';
import { recordProblems } from './fixtures/storeChecks.ts';

const quiet = { log: () => {} };

/** A flow whose task results depend on the input; `calls` records every task execution. */
function inputFlow(calls: string[]) {
  return flow<{ day: string }>('daily', (f) => {
    const extract = f.task('extract', ({ input }) => {
      calls.push('extract');
      return `rows of ${input.day}`;
    });
    f.task('load', ({ input, upstream }) => {
      calls.push('load');
      return `${upstream.extract as string} loaded for ${input.day}`;
    }, { after: [extract] });
  });
}

/** A store holding the finished run 'daily' for `input`. */
async function storedRun(input: { day: string }, options: { fingerprint?: string } = {}): Promise<Store> {
  const store = memoryStore();
  const run = await runFlow(inputFlow([]), { store, runId: 'daily', input, ...options, ...quiet });
  expect(run.state).toBe('success');
  return store;
}

function spies() {
  const calls: string[] = [];
  const onStarting = vi.fn();
  const hooks = vi.fn();
  const listener: Listener = {
    onStarting,
    onFlowRunRunning: hooks,
    onTaskInstanceStateChange: hooks,
    onTaskInstanceRunning: hooks,
  };
  return { calls, onStarting, hooks, listener };
}

describe('onInputChange', () => {
  const monday = { day: '2026-11-23' };
  const tuesday = { day: '2026-11-24' };

  it("'raise' (the default) rejects with InputChangedError before any task function or listener hook runs, and changes nothing", async () => {
    for (const policy of [undefined, 'raise'] as const) {
      const store = await storedRun(monday);
      const before = await store.loadRun('daily');
      const logBefore = await store.readTransitionLog('daily');
      const { calls, onStarting, hooks, listener } = spies();
      const error = await runFlow(inputFlow(calls), {
        store,
        runId: 'daily',
        input: tuesday,
        listeners: [listener],
        ...(policy === undefined ? {} : { onInputChange: policy }),
        ...quiet,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InputChangedError);
      expect(error).toMatchObject({ runId: 'daily', storedFingerprint: inputFingerprint(monday), fingerprint: inputFingerprint(tuesday) });
      expect((error as Error).message).toMatch(/run 'daily' already exists with another input.*onInputChange: 'reuse'.*'reset'/);
      expect(calls).toEqual([]);
      expect(onStarting).not.toHaveBeenCalled();
      expect(hooks).not.toHaveBeenCalled();
      expect(await store.loadRun('daily')).toEqual(before);
      expect(await store.readTransitionLog('daily')).toEqual(logBefore);
    }
  });

  it("'reuse' keeps the stored results (nothing runs again) and the first fingerprint", async () => {
    const store = await storedRun(monday);
    const { calls, listener } = spies();
    const run = await runFlow(inputFlow(calls), { store, runId: 'daily', input: tuesday, onInputChange: 'reuse', listeners: [listener], ...quiet });
    expect(run.state).toBe('success');
    expect(calls).toEqual([]);
    expect(run.tasks['load']!.result).toBe('rows of 2026-11-23 loaded for 2026-11-23');
    expect((await store.getRun('daily'))!.inputFingerprint).toBe(inputFingerprint(monday));
    expect((await store.loadRun('daily'))!.results).toHaveLength(2);
    expect(await recordProblems(store, 'daily')).toEqual([]);
  });

  it("'reset' deletes the run's records and runs everything again with the new input", async () => {
    const store = await storedRun(monday);
    const oldLog = await store.readTransitionLog('daily');
    const { calls, listener, onStarting } = spies();
    const run = await runFlow(inputFlow(calls), { store, runId: 'daily', input: tuesday, onInputChange: 'reset', listeners: [listener], ...quiet });
    expect(run.state).toBe('success');
    expect(calls).toEqual(['extract', 'load']);
    expect(onStarting).toHaveBeenCalledTimes(1);
    expect(run.tasks['load']!.result).toBe('rows of 2026-11-24 loaded for 2026-11-24');
    const stored = (await store.getRun('daily'))!;
    expect(stored.inputFingerprint).toBe(inputFingerprint(tuesday));
    expect(stored.input).toEqual(tuesday);
    const loaded = (await store.loadRun('daily'))!;
    expect(loaded.results.map((r) => [r.key, r.value])).toEqual([
      ['extract', 'rows of 2026-11-24'],
      ['load', 'rows of 2026-11-24 loaded for 2026-11-24'],
    ]);
    // The old log is gone: the new one starts again at seq 1 and is as long as one run's.
    const log = await store.readTransitionLog('daily');
    expect(log[0]!.seq).toBe(1);
    expect(log).toHaveLength(oldLog.length);
    expect(await recordProblems(store, 'daily')).toEqual([]);
  });

  it('an explicit fingerprint equal to the stored one counts as unchanged, whatever the input', async () => {
    const store = await storedRun(monday, { fingerprint: 'daily-v1' });
    expect((await store.getRun('daily'))!.inputFingerprint).toBe('daily-v1');
    const { calls } = spies();
    // The default policy ('raise') does not fire: same fingerprint, nothing runs again.
    const run = await runFlow(inputFlow(calls), { store, runId: 'daily', input: tuesday, fingerprint: 'daily-v1', ...quiet });
    expect(run.state).toBe('success');
    expect(calls).toEqual([]);
    expect(run.tasks['extract']!.result).toBe('rows of 2026-11-23');
    // Another explicit fingerprint is a change.
    await expect(runFlow(inputFlow(calls), { store, runId: 'daily', input: monday, fingerprint: 'daily-v2', ...quiet })).rejects.toBeInstanceOf(
      InputChangedError,
    );
    expect(calls).toEqual([]);
  });

  it('the same input (keys in another order) counts as unchanged', async () => {
    const store = await storedRun({ day: '2026-11-23', region: 'eu' } as { day: string });
    const { calls } = spies();
    const run = await runFlow(inputFlow(calls), { store, runId: 'daily', input: { region: 'eu', day: '2026-11-23' } as { day: string }, ...quiet });
    expect(run.state).toBe('success');
    expect(calls).toEqual([]);
  });

  it('an invalid policy throws at startFlow, before anything is read or run', () => {
    const store = memoryStore();
    const getRun = vi.spyOn(store, 'getRun');
    const { calls } = spies();
    for (const policy of ['keep', 'RAISE', '', 'restart', 1, true]) {
      expect(() => startFlow(inputFlow(calls), { store, runId: 'daily', input: monday, onInputChange: policy as never })).toThrow(
        new TypeError(`runFlow: onInputChange must be 'reuse', 'reset' or 'raise', got ${JSON.stringify(policy)}`),
      );
    }
    expect(getRun).not.toHaveBeenCalled();
    expect(calls).toEqual([]);
  });
});
