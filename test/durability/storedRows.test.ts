// The runtime records each run's task list, and a stored run with a row that does not decode into
// a valid record is refused before anything runs: the row is never used.
import { mkdtempSync, rmSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { flow, runFlow, type Listener } from '../../src/index.ts';
import { memoryStore, sqliteStore, StoreRowError, type Store } from '../../src/stores/index.ts';

const quiet = { log: () => {} };
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-rows-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const twoTasks = flow('etl', (f) => {
  const extract = f.task('extract', () => 'rows');
  f.subtask('fetch', () => 'page');
  f.task('load', ({ upstream }) => `loaded ${upstream.extract}`, { after: [extract] });
});

describe("a run's task list", () => {
  it('a new run records every task of its definition (subtasks included)', async () => {
    const store = memoryStore();
    await runFlow(twoTasks, { store, runId: 'r1', ...quiet });
    expect((await store.getRun('r1'))?.taskIds).toEqual(['extract', 'fetch', 'load']);
  });

  it('a resume with a definition that adds a task records it; a removed task stays on the list', async () => {
    const store = memoryStore();
    await runFlow(twoTasks, { store, runId: 'r1', ...quiet });
    const changed = flow('etl', (f) => {
      const extract = f.task('extract', () => 'rows');
      f.task('audit', () => 'ok', { after: [extract] });
    });
    const run = await runFlow(changed, { store, runId: 'r1', resume: true, ...quiet });
    expect(run.tasks['audit']?.state).toBe('success');
    expect((await store.getRun('r1'))?.taskIds).toEqual(['extract', 'fetch', 'load', 'audit']);
    expect((await store.loadRun('r1'))?.instances.map((i) => [i.key, i.state])).toEqual([
      ['extract', 'success'],
      ['load', 'success'],
      ['audit', 'success'],
    ]);
  });

  it('a run stored without a task list (before schema 3) gets one when it is resumed: its stored tasks plus the definition', async () => {
    const path = join(dir, `${++files}.db`);
    const store = sqliteStore({ path });
    const first = flow('etl', (f) => {
      f.task('extract', () => 'rows');
      f.task('gone', () => 'x');
    });
    await runFlow(first, { store, runId: 'old', ...quiet });
    const db = new DatabaseSync(path);
    db.exec("UPDATE runs SET task_ids = NULL WHERE run_id = 'old'");
    db.close();
    expect((await store.getRun('old'))?.taskIds).toBeUndefined();
    await runFlow(twoTasks, { store, runId: 'old', resume: true, ...quiet });
    expect((await store.getRun('old'))?.taskIds).toEqual(['extract', 'gone', 'fetch', 'load']);
    await store.close();
  });
});

describe('a stored run with an invalid row is refused before anything runs', () => {
  async function refused(store: Store, change: (db: DatabaseSync) => void, path: string): Promise<StoreRowError> {
    await runFlow(
      flow('etl', (f) => {
        f.task('extract', () => {
          throw new Error('first attempt fails');
        });
        f.task('load', () => 'loaded');
      }),
      { store, runId: 'r1', ...quiet },
    );
    const db = new DatabaseSync(path);
    change(db);
    db.close();
    const task = vi.fn(() => 'ran');
    const onStarting = vi.fn();
    const listener: Listener = { onStarting };
    const again = flow('etl', (f) => {
      f.task('extract', task);
      f.task('load', task);
    });
    const error = await runFlow(again, { store, runId: 'r1', resume: true, listeners: [listener], ...quiet }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreRowError);
    expect(task).not.toHaveBeenCalled();
    expect(onStarting).not.toHaveBeenCalled();
    return error as StoreRowError;
  }

  const cases: ReadonlyArray<[string, string, RegExp, Partial<StoreRowError>]> = [
    ['an unknown state', "UPDATE task_instances SET state = 'half-done' WHERE key = 'extract'", /column state = 'half-done' is not a task-instance state/, { key: 'extract', column: 'state' }],
    ['an attempt past the last one', "UPDATE task_instances SET attempt = 7 WHERE key = 'extract'", /column attempt = 7 is more than max_attempts \(1\)/, { key: 'extract', column: 'attempt', value: 7 }],
    ['a fractional attempt', "UPDATE task_instances SET attempt = 0.5 WHERE key = 'extract'", /column attempt = 0\.5 is not an integer ≥ 0/, { key: 'extract', column: 'attempt', value: 0.5 }],
    ['an attempt that is text', "UPDATE task_instances SET attempt = 'one' WHERE key = 'extract'", /column attempt = 'one' is not an integer ≥ 0/, { key: 'extract', column: 'attempt', value: 'one' }],
    ['a task id the run does not have', "UPDATE task_instances SET task_id = 'transform' WHERE key = 'load'", /column task_id = 'transform' is not in the run's task list \(runs\.task_ids: extract, load\)/, { key: 'load', column: 'task_id' }],
    ['an unknown run state', "UPDATE runs SET state = 'paused'", /run 'r1' \(table runs\), column state = 'paused' is not a flow-run state/, { key: undefined, column: 'state' }],
  ];
  for (const [what, sql, message, fields] of cases) {
    it(`${what}: StoreRowError naming the row, column and value; no task runs, no hook fires`, async () => {
      const path = join(dir, `${++files}.db`);
      const store = sqliteStore({ path });
      const error = await refused(store, (db) => db.exec(sql), path);
      expect(error).toMatchObject({ runId: 'r1', ...fields });
      expect(error.message).toMatch(message);
      expect(error.message).toContain(`the store file "${path}"`);
      expect(error.message).toContain(`'taskmachine check --store ${path}' lists every invalid row`);
      await store.close();
    });
  }
});
