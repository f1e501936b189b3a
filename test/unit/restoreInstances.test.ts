// restoreInstances on its own: what each rebuilt instance knows of its stored row that a resumed
// run (and a worker reading result records) relies on.
import { describe, expect, it } from 'vitest';
import { FLOW_RUN_MACHINE_VERSION, TASK_INSTANCE_MACHINE_VERSION } from '../../machines/index.ts';
import { flow } from '../../src/index.ts';
import { InstanceTable } from '../../src/runtime/instances/instanceTable.ts';
import { restoreInstances } from '../../src/runtime/opening/restoreInstances.ts';
import type { DependencyTracker } from '../../src/runtime/scheduling/dependencyTracker.ts';
import type { LoadedRun, ResultWrite, StoredTaskInstance } from '../../src/stores/index.ts';
import { makeInstance, makeRun } from '../stores/fixtures/records.ts';

const definition = flow('etl', (f) => {
  f.task('a', () => 1);
  f.task('b', () => 2);
});

function restore(rows: Partial<StoredTaskInstance>[], results: ResultWrite[] = []) {
  const loaded: LoadedRun = {
    run: makeRun('r', { machineVersion: FLOW_RUN_MACHINE_VERSION, taskIds: ['a', 'b', 'gone'] }),
    instances: rows.map((overrides) => ({
      runId: 'r',
      version: 1,
      ...makeInstance(overrides.key!, { machineVersion: TASK_INSTANCE_MACHINE_VERSION, ...overrides }),
    })) as StoredTaskInstance[],
    results: results.map((r) => ({ runId: 'r', ...r })),
  } as unknown as LoadedRun;
  const table = new InstanceTable(definition, 3);
  const restored: Map<number, number>[] = [];
  const deps = { resultOf: () => undefined, restored: (counts: Map<number, number>) => void restored.push(counts) } as unknown as DependencyTracker;
  restoreInstances(loaded, definition, table, deps);
  return { table, restored };
}

describe('restoreInstances', () => {
  it('a success keeps the attempt of its result record when a later attempt is stored (workers read the record by it)', () => {
    const { table } = restore(
      [
        { key: 'a', state: 'success', attempt: 3, startedAt: 1, endedAt: 2 },
        { key: 'b', state: 'success', attempt: 2, startedAt: 1, endedAt: 2 },
      ],
      [
        { key: 'a', attempt: 1, value: 'first', at: 2 },
        { key: 'b', attempt: 2, value: 'second', at: 2 },
      ],
    );
    expect(table.get('a')!.result).toBe('first');
    expect(table.get('a')!.resultRecordAttempt()).toBe(1);
    expect(table.get('b')!.resultRecordAttempt()).toBe(2);
  });

  it('an instance counts as created (it ran, decorators may reuse it) only from attempt 1', () => {
    const { table } = restore([
      { key: 'a', state: 'success', attempt: 0, manuallySetFrom: 'none' },
      { key: 'b', state: 'scheduled', attempt: 1 },
    ]);
    expect(table.get('a')!.created).toBe(false);
    expect(table.get('b')!.created).toBe(true);
  });

  it('version, stored time, errors and timers come back as stored; an instance of a removed task is kept (index -1) for recovery to remove', () => {
    const error = new Error('boom');
    const { table } = restore([
      { key: 'a', state: 'up_for_retry', attempt: 1, version: 4, createdAt: 1_234, error, failureKind: 'error', timer: { deadline: 9_000, action: 'retry' } } as never,
      { key: 'gone', taskId: 'gone', state: 'queued', attempt: 1 },
    ]);
    const a = table.get('a')!;
    expect(a).toMatchObject({ state: 'up_for_retry', version: 4, storedAt: 1_234, error, failureKind: 'error', timerInfo: { deadline: 9_000, action: 'retry' } });
    const gone = table.get('gone')!;
    expect(gone.task).toMatchObject({ id: 'gone', index: -1 });
    expect(gone.state).toBe('queued');
  });
});
