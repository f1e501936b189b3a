// Part of the store contract: rows that do not decode into valid records are refused with a
// StoreRowError naming the row, never used. A store's own writes cannot produce such rows (they
// are checked first), so the cases that need one write it around the store, as a person with a
// SQL shell would: through `rawRows`, which stores without outside access (memoryStore, SQLite
// ':memory:') do not have — those run only the cases that need no bad row.
import { describe, expect, it } from 'vitest';
import { StoreError, StoreRowError, type Store } from '../../src/stores/index.ts';
import { makeInstance, makeRun } from './fixtures/records.ts';

/** Which stored row to change. */
export interface RawRow {
  readonly table: 'runs' | 'task_instances' | 'results';
  readonly runId: string;
  /** The task-instance key (task_instances and results rows). */
  readonly key?: string;
}

/** Writes one column of one stored row past the store's checks. */
export type RawRowWriter = (store: Store, row: RawRow, column: string, value: string | number | null) => Promise<void>;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

/** Run r1 (tasks a and b; instance a scheduled at attempt 1 of 3, with a result) and run r2 beside it. */
async function seed(store: Store): Promise<void> {
  await store.commit({
    runId: 'r1',
    run: makeRun('r1'),
    instances: [{ record: makeInstance('a') }, { record: makeInstance('b', { state: 'success' }) }],
    results: [{ key: 'b', attempt: 1, value: 'rows', at: 1_500 }],
  });
  await store.commit({ runId: 'r2', run: makeRun('r2', { createdAt: 2_000 }), instances: [{ record: makeInstance('a') }] });
}

function expectRowError(error: unknown, row: RawRow, column: string, value: unknown, message: RegExp): void {
  expect(error).toBeInstanceOf(StoreRowError);
  expect(error).toBeInstanceOf(StoreError);
  expect(error).toMatchObject({ table: row.table, runId: row.runId, key: row.key, column, value });
  const text = (error as Error).message;
  expect(text).toContain(`run '${row.runId}'`);
  if (row.key !== undefined) expect(text).toContain(`'${row.key}'`);
  expect(text).toContain(`table ${row.table}`);
  expect(text).toMatch(message);
  expect(text).toMatch(/refused, not used.*Restore the store from a backup, or correct the row/);
}

/** Row-validation cases of the store contract (called by `defineStoreContract`). */
export function defineRowContract(fresh: () => Promise<Store>, rawRows: RawRowWriter | undefined): void {
  describe('rows that do not decode into valid records are refused, naming the row', () => {
    const instanceCases: ReadonlyArray<[string, string | number, RegExp]> = [
      ['state', 'bogus', /column state = 'bogus' is not a task-instance state/],
      ['attempt', -1, /column attempt = -1 is not an integer ≥ 0/],
      ['attempt', 4, /column attempt = 4 is more than max_attempts \(3\)/],
      ['attempt', 0, /column attempt = 0 in state 'scheduled' is impossible/],
      ['max_attempts', 0, /column max_attempts = 0 is not an integer ≥ 1/],
      ['manually_set_from', 'sideways', /column manually_set_from = 'sideways' is not a task-instance state or NULL/],
      ['failure_kind', 'cosmic-ray', /column failure_kind = 'cosmic-ray' is not a failure kind/],
    ];
    for (const [column, value, message] of instanceCases) {
      it.skipIf(rawRows === undefined)(`task_instances.${column} = ${JSON.stringify(value)}: loadRun refuses it; the run record and other runs still read`, async () => {
        const store = await fresh();
        await seed(store);
        const row = { table: 'task_instances', runId: 'r1', key: 'a' } as const;
        await rawRows!(store, row, column, value);
        expectRowError(await rejection(store.loadRun('r1')), row, column, value, message);
        expect((await store.getRun('r1'))?.runId).toBe('r1');
        expect((await store.loadRun('r2'))?.instances).toHaveLength(1);
      });
    }

    it.skipIf(rawRows === undefined)("task_instances.state = 'bogus': the counts of its run (countTaskInstances, listRuns) refuse it too, never leave it out", async () => {
      const store = await fresh();
      await seed(store);
      await rawRows!(store, { table: 'task_instances', runId: 'r1', key: 'a' }, 'state', 'bogus');
      const counted = await rejection(store.countTaskInstances('r1'));
      expect(counted).toBeInstanceOf(StoreRowError);
      expect(counted).toMatchObject({ table: 'task_instances', runId: 'r1', column: 'state', value: 'bogus' });
      expect((counted as Error).message).toMatch(/Invalid row in .*: a task instance of task 'a' in run 'r1' \(table task_instances\), column state = 'bogus' is not a task-instance state\. The row was refused, not used/);
      const listed = await rejection(store.listRuns());
      expect(listed).toMatchObject({ table: 'task_instances', runId: 'r1', column: 'state', value: 'bogus' });
      expect((listed as Error).message).toContain("a task instance in run 'r1' (table task_instances)");
      expect((await store.countTaskInstances('r2')).total).toBe(1);
    });

    it.skipIf(rawRows === undefined)("runs.state = 'paused': getRun, loadRun and listRuns refuse it", async () => {
      const store = await fresh();
      await seed(store);
      const row = { table: 'runs', runId: 'r1' } as const;
      await rawRows!(store, row, 'state', 'paused');
      for (const read of [() => store.getRun('r1'), () => store.loadRun('r1'), () => store.listRuns()]) {
        expectRowError(await rejection(read()), row, 'state', 'paused', /column state = 'paused' is not a flow-run state/);
      }
      expect((await store.loadRun('r2'))?.run.state).toBe('running');
    });

    it.skipIf(rawRows === undefined)('a stored value that is not valid superjson names its row and column, and the fix', async () => {
      const store = await fresh();
      await seed(store);
      const cases: ReadonlyArray<[RawRow, string, () => Promise<unknown>, string]> = [
        [{ table: 'runs', runId: 'r1' }, 'labels', () => store.getRun('r1'), "run 'r1' (table runs), column labels"],
        [{ table: 'task_instances', runId: 'r1', key: 'a' }, 'error', () => store.loadRun('r1'), "task instance 'a' of run 'r1' (table task_instances), column error"],
        [{ table: 'results', runId: 'r1', key: 'b' }, 'value', () => store.loadRun('r1'), "the result record of 'b' in run 'r1' (table results), column value"],
      ];
      for (const [row, column, read, where] of cases) {
        await rawRows!(store, row, column, '{"json": oops');
        const error = await rejection(read());
        expect(error).toBeInstanceOf(StoreError);
        expect((error as Error).message).toMatch(new RegExp(`^Invalid stored value in ${where.replace(/[()]/g, '\\$&')}: A stored payload is not valid JSON \\(.*\\); the store may be damaged\\. Restore the store from a backup, or correct the row`));
        await rawRows!(store, row, column, column === 'error' ? null : '{"json":null}');
      }
      expect((await store.loadRun('r2'))?.instances).toHaveLength(1);
    });

    it.skipIf(rawRows === undefined)('results.attempt = 0: loadRun refuses it', async () => {
      const store = await fresh();
      await seed(store);
      const row = { table: 'results', runId: 'r1', key: 'b' } as const;
      await rawRows!(store, row, 'attempt', 0);
      expectRowError(await rejection(store.loadRun('r1')), row, 'attempt', 0, /column attempt = 0 is not an integer ≥ 1/);
    });

    it("a run's task list round-trips through getRun, loadRun and listRuns; undefined stays undefined", async () => {
      const store = await fresh();
      await store.commit({ runId: 'listed', run: makeRun('listed', { taskIds: ['extract', 'load[x]', 'ünïcode'] }) });
      await store.commit({ runId: 'legacy', run: makeRun('legacy', { createdAt: 2_000 }) });
      expect((await store.getRun('listed'))?.taskIds).toStrictEqual(['extract', 'load[x]', 'ünïcode']);
      expect((await store.loadRun('listed'))?.run.taskIds).toStrictEqual(['extract', 'load[x]', 'ünïcode']);
      expect((await store.listRuns()).map((r) => [r.runId, r.taskIds])).toStrictEqual([
        ['legacy', undefined],
        ['listed', ['extract', 'load[x]', 'ünïcode']],
      ]);
      await expect(store.commit({ runId: 'bad', run: makeRun('bad', { taskIds: ['a', ''] }) })).rejects.toThrow(
        /taskIds must be an array of task ids \(non-empty strings\) or undefined/,
      );
      await expect(store.commit({ runId: 'bad', run: makeRun('bad', { taskIds: 'a' as never }) })).rejects.toThrow(/taskIds must be an array/);
    });

    it("a task instance whose task id is not in the run's task list: loadRun refuses it, naming the row and the list", async () => {
      const store = await fresh();
      // Writes are not checked against the run's list (that would cost a read per batch); reads are.
      await store.commit({
        runId: 'r1',
        run: makeRun('r1', { taskIds: ['a', 'b'] }),
        instances: [{ record: makeInstance('a') }, { record: makeInstance('ghost[3]', { mapIndex: 3 }) }],
      });
      const error = await rejection(store.loadRun('r1'));
      expectRowError(error, { table: 'task_instances', runId: 'r1', key: 'ghost[3]' }, 'task_id', 'ghost', /column task_id = 'ghost' is not in the run's task list \(runs\.task_ids: a, b\)/);
      // A run without a task list (stored before schema 3) is not checked.
      await store.commit({ runId: 'r2', run: makeRun('r2'), instances: [{ record: makeInstance('ghost') }] });
      expect((await store.loadRun('r2'))?.instances.map((i) => i.taskId)).toEqual(['ghost']);
    });

    it.skipIf(rawRows === undefined)("runs.task_ids that is not a JSON array of task ids is refused", async () => {
      const store = await fresh();
      await store.commit({ runId: 'r1', run: makeRun('r1', { taskIds: ['a'] }), instances: [{ record: makeInstance('a') }] });
      const row = { table: 'runs', runId: 'r1' } as const;
      for (const [text, value] of [
        ['a, b', 'a, b'],
        ['{"a":1}', { a: 1 }],
        ['[1]', [1]],
      ] as const) {
        await rawRows!(store, row, 'task_ids', text);
        expectRowError(await rejection(store.getRun('r1')), row, 'task_ids', value, /column task_ids = .* is not a JSON array of task ids/);
      }
    });

    it('writes that would make such rows are refused before anything is stored', async () => {
      const store = await fresh();
      await seed(store);
      const before = await store.loadRun('r1');
      for (const [overrides, message] of [
        [{ attempt: 4 }, /attempt 4 is more than max_attempts \(3\)/],
        [{ attempt: 0 }, /attempt 0 in state 'scheduled' is impossible/],
        [{ attempt: 0, maxAttempts: 0 }, /maxAttempts 0 is not an integer ≥ 1/],
      ] as const) {
        await expect(store.commit({ runId: 'r1', instances: [{ record: makeInstance('c', overrides) }] })).rejects.toThrow(message);
      }
      expect(await store.loadRun('r1')).toEqual(before);
    });
  });
}
