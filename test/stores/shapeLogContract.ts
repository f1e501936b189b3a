// Part of the store contract: a run's shape and flow hash (schema 4), and its task log lines —
// written with the batch, read back as written, filtered, removed with the run.
import { describe, expect, it } from 'vitest';
import { flow, flowHash, flowShape } from '../../src/index.ts';
import { StoreError, StoreRowError, type Store, type TaskLogWrite } from '../../src/stores/index.ts';
import { makeInstance, makeRun } from './fixtures/records.ts';
import type { RawRowWriter } from './rowContract.ts';

const etl = flow('etl', (f) => {
  const extract = f.task('extract', () => [1, 2], { retries: 2 });
  const score = f.map('score', extract, ({ item }) => item);
  f.task('report', () => 'ok', { after: score, trigger: 'all_done' });
});
const shape = flowShape(etl);

const line = (key: string, attempt: number, text: string, at = 1_000): TaskLogWrite => ({ key, taskId: key.replace(/\[\d+\]$/, ''), attempt, at, line: text });

export function defineShapeAndLogContract(fresh: () => Promise<Store>, rawRows?: RawRowWriter, shapeTable: 'runs' | 'run_shapes' = 'runs'): void {
  describe('run shape and flow hash', () => {
    it('stores the shape with the batch that creates the run, and the hash on the run record', async () => {
      const store = await fresh();
      const run = makeRun('r1', { flowHash: flowHash(shape) });
      await store.commit({ runId: 'r1', run, shape });
      expect(await store.getRunShape('r1')).toEqual(shape);
      expect((await store.getRun('r1'))?.flowHash).toBe(flowHash(shape));
      expect((await store.loadRun('r1'))?.run.flowHash).toBe(flowHash(shape));
      expect((await store.listRuns())[0]?.flowHash).toBe(flowHash(shape));
      // A later batch without a shape keeps it; one with a shape replaces it.
      await store.commit({ runId: 'r1', run: { ...run, state: 'success' } });
      expect(await store.getRunShape('r1')).toEqual(shape);
      const other = flowShape(flow('etl', (f) => void f.task('only', () => 1)));
      await store.commit({ runId: 'r1', shape: other });
      expect(await store.getRunShape('r1')).toEqual(other);
    });

    it('has no shape and no hash for a run stored without them, nor for an unknown run', async () => {
      const store = await fresh();
      await store.commit({ runId: 'old', run: makeRun('old') });
      expect(await store.getRunShape('old')).toBeUndefined();
      expect((await store.getRun('old'))?.flowHash).toBeUndefined();
      expect(await store.getRunShape('ghost')).toBeUndefined();
    });

    it('refuses a shape that is not one, and writes nothing of the batch', async () => {
      const store = await fresh();
      await expect(store.commit({ runId: 'r1', run: makeRun('r1'), shape: { version: 1, flowId: 'etl', tasks: [{ id: '' }] } as never })).rejects.toThrow(
        /the shape of run 'r1' tasks\[0\] has no id/,
      );
      expect(await store.getRun('r1')).toBeUndefined();
      await expect(store.commit({ runId: 'r1', run: makeRun('r1', { flowHash: '' }) })).rejects.toThrow(/flowHash must be a non-empty string/);
    });

    it.skipIf(rawRows === undefined)('refuses a stored shape that does not decode with a StoreRowError naming the run and column', async () => {
      const store = await fresh();
      await store.commit({ runId: 'r1', run: makeRun('r1'), shape });
      await rawRows!(store, { table: 'runs', runId: 'r1' }, 'shape', '{"version":1,"flowId":"etl","tasks":[{"id":"a"}]}');
      const error = await store.getRunShape('r1').then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(StoreRowError);
      // PostgreSQL keeps the shape in runs.shape, SQLite in run_shapes.shape: the error names where it is.
      expect(error).toMatchObject({ table: shapeTable, runId: 'r1', column: 'shape' });
      expect((error as Error).message).toContain(`(table ${shapeTable}), column shape`);
      expect((error as Error).message).toContain("task 'a' has no upstream list");
    });
  });

  describe('task log lines', () => {
    it('appends the lines of each batch in order, numbering them 1, 2, 3 … per run', async () => {
      const store = await fresh();
      await store.commit({ runId: 'r1', run: makeRun('r1'), logs: [line('extract', 1, 'fetching'), line('extract', 1, 'got 2 rows', 1_010)] });
      await store.commit({ runId: 'r2', run: makeRun('r2'), logs: [line('extract', 1, 'other run')] });
      await store.commit({ runId: 'r1', logs: [line('extract', 2, 'again'), line('score[0]', 1, 'ünïcode ✓ "quoted"\nsecond line')] });
      const lines = await store.readTaskLogs('r1');
      expect(lines.map((l) => [l.seq, l.key, l.attempt, l.line])).toEqual([
        [1, 'extract', 1, 'fetching'],
        [2, 'extract', 1, 'got 2 rows'],
        [3, 'extract', 2, 'again'],
        [4, 'score[0]', 1, 'ünïcode ✓ "quoted"\nsecond line'],
      ]);
      expect(lines[1]).toEqual({ runId: 'r1', seq: 2, key: 'extract', taskId: 'extract', attempt: 1, at: 1_010, line: 'got 2 rows' });
      expect((await store.readTaskLogs('r2')).map((l) => l.line)).toEqual(['other run']);
      expect(await store.readTaskLogs('ghost')).toEqual([]);
    });

    it('filters by key, task id, attempt, after a seq, and limits', async () => {
      const store = await fresh();
      await store.commit({
        runId: 'r1',
        run: makeRun('r1'),
        logs: [line('extract', 1, 'a'), line('score[0]', 1, 'b'), line('score[1]', 1, 'c'), line('extract', 2, 'd'), line('score[0]', 2, 'e')],
      });
      const texts = async (query: Parameters<Store['readTaskLogs']>[1]) => (await store.readTaskLogs('r1', query)).map((l) => l.line);
      expect(await texts({ key: 'extract' })).toEqual(['a', 'd']);
      expect(await texts({ key: 'extract', attempt: 2 })).toEqual(['d']);
      expect(await texts({ taskId: 'score' })).toEqual(['b', 'c', 'e']);
      expect(await texts({ taskId: 'score', attempt: 1 })).toEqual(['b', 'c']);
      expect(await texts({ afterSeq: 3 })).toEqual(['d', 'e']);
      expect(await texts({ afterSeq: 1, limit: 2 })).toEqual(['b', 'c']);
      expect(await texts({ limit: 0 })).toEqual([]);
      expect(await texts({ key: 'ghost' })).toEqual([]);
      await expect(store.readTaskLogs('r1', { attempt: 0 })).rejects.toThrow(/attempt must be an integer ≥ 1/);
    });

    it('writes the lines with the batch: a batch refused for a conflict writes none of them', async () => {
      const store = await fresh();
      await store.commit({ runId: 'r1', run: makeRun('r1'), instances: [{ record: makeInstance('a') }] });
      await expect(store.commit({ runId: 'r1', instances: [{ record: makeInstance('a'), expectedVersion: 5 }], logs: [line('a', 1, 'lost')] })).rejects.toThrow();
      expect(await store.readTaskLogs('r1')).toEqual([]);
      await expect(store.commit({ runId: 'r1', logs: [{ ...line('a', 1, 'x'), attempt: 0 }] })).rejects.toThrow(StoreError);
      await expect(store.commit({ runId: 'r1', logs: [{ ...line('a', 1, 'x'), line: 7 as never }] })).rejects.toThrow(/line must be a string/);
      expect(await store.readTaskLogs('r1')).toEqual([]);
    });

    it('removes the lines and the shape with their run; other runs keep theirs', async () => {
      const store = await fresh();
      await store.commit({ runId: 'r1', run: makeRun('r1'), shape, logs: [line('extract', 1, 'one')] });
      await store.commit({ runId: 'r2', run: makeRun('r2'), shape, logs: [line('extract', 1, 'two')] });
      expect(await store.deleteRun('r1')).toBe(true);
      expect(await store.readTaskLogs('r1')).toEqual([]);
      expect(await store.getRunShape('r1')).toBeUndefined();
      expect((await store.readTaskLogs('r2')).map((l) => l.line)).toEqual(['two']);
      // A new run of the same id starts its log over.
      await store.commit({ runId: 'r1', run: makeRun('r1'), logs: [line('extract', 1, 'fresh')] });
      expect((await store.readTaskLogs('r1')).map((l) => [l.seq, l.line])).toEqual([[1, 'fresh']]);
    });
  });
}
