// `taskmachine check`: a full, read-only examination of a SQLite store file — SQLite's own
// `PRAGMA integrity_check` over every page, then every run, task-instance and result row through
// the same validation every read applies — that reports everything it finds instead of stopping
// at the first problem. It never writes: not the file, not its WAL, no migration.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type * as sqlite from 'node:sqlite';
import type { LoadedRun } from '../queries.ts';
import type { StoredResult } from '../resultRecord.ts';
import { loadedRunProblems, type RowProblem } from '../rowChecks.ts';
import type { StoredRun } from '../runRecord.ts';
import { deserializeValue } from '../serialization.ts';
import type { StoredTaskInstance } from '../taskInstanceRecord.ts';
import { integrityProblems, isCorruptionError, openReadOnly, storeSchemaVersion } from './inspectFile.ts';
import { decodeShape } from '../shapeAndLogChecks.ts';
import { StoreRowError } from '../errors.ts';
import { instanceColumns, num, rowToInstance, rowToRun, runColumns, str, value, type Row } from './rows.ts';

/**
 * What {@link checkSqliteFile} found.
 *
 * @example
 * ```ts
 * import { checkSqliteFile } from 'taskmachine/stores';
 * const report = checkSqliteFile('.taskmachine/taskmachine.db');
 * if (!report.ok) console.error(report.error ?? report.integrity ?? report.invalidRows);
 * ```
 */
export interface StoreCheckReport {
  /** The store checked: the file's absolute path. */
  readonly store: string;
  /** Whether nothing is wrong: the file could be read, `integrity` is empty and no row is invalid. */
  readonly ok: boolean;
  /**
   * Why the file could not be examined — there is no such file, it cannot be read, it is not a
   * SQLite database or not a taskmachine store, or a newer taskmachine wrote it; `undefined` when
   * it was examined.
   */
  readonly error: string | undefined;
  /** The file's schema version (`undefined` when it could not be read). */
  readonly schemaVersion: number | undefined;
  /** What `PRAGMA integrity_check` found, one problem per line: empty when the file is sound, `undefined` when it did not run. */
  readonly integrity: readonly string[] | undefined;
  /** How many rows were validated. */
  readonly checked: { readonly runs: number; readonly taskInstances: number; readonly results: number };
  /** Rows that do not decode into valid records (the first invalid column of each), in table order per run. */
  readonly invalidRows: readonly StoreRowProblem[];
}

/**
 * A stored row that does not decode into a valid record: which row (table, run id, task-instance
 * key), its column, the value found and what is wrong with it — what a read refuses with
 * `StoreRowError`.
 *
 * @example
 * ```ts
 * for (const row of checkSqliteFile(path).invalidRows) console.log(`${row.table} ${row.runId} ${row.key ?? ''}: ${row.column} ${row.problem}`);
 * ```
 */
export type StoreRowProblem = RowProblem;

/** Value columns (superjson payloads) per table: a payload that does not decode is named by its column. */
const payloadColumns = {
  runs: ['input', 'labels'],
  task_instances: ['call_input', 'custom_context', 'error', 'resume_data', 'event_payload'],
  results: ['value'],
} as const;

/** Columns later schema versions added, with what a file from before reads as. */
const addedColumns: Readonly<Record<string, string>> = { task_ids: 'NULL', interruptions: '0', max_interruptions: '3' };

/**
 * Examines a SQLite store file without writing to it (read-only, immutable when it has no WAL):
 * `PRAGMA integrity_check` over the whole file, then every run, task-instance and result row
 * decoded and validated as `loadRun` does — unknown states, impossible attempt numbers, task ids
 * missing from the run's task list, payloads that do not decode. Never throws for what it finds:
 * every problem is in the report. Files of an older schema are examined as they are (no
 * migration runs).
 *
 * @example
 * ```ts
 * import { checkSqliteFile } from 'taskmachine/stores';
 * const report = checkSqliteFile('var/runs.db');
 * console.log(report.ok, report.integrity, report.checked, report.invalidRows);
 * ```
 */
export function checkSqliteFile(path: string): StoreCheckReport {
  const store = resolve(path);
  const checked = { runs: 0, taskInstances: 0, results: 0 };
  const report = (fields: Partial<StoreCheckReport>): StoreCheckReport => {
    const full = { store, error: undefined, schemaVersion: undefined, integrity: undefined, checked, invalidRows: [], ...fields };
    return { ...full, ok: full.error === undefined && full.integrity !== undefined && full.integrity.length === 0 && full.invalidRows.length === 0 };
  };
  if (!existsSync(store)) {
    return report({
      error: `There is no store file "${store}": nothing to check. Pass the store's file with --store <file> (the default is .taskmachine/taskmachine.db in the working directory).`,
    });
  }
  let db: sqlite.DatabaseSync | undefined;
  try {
    db = openReadOnly(store);
  } catch (error) {
    return report({ error: (error as Error).message });
  }
  if (db === undefined) return report({ schemaVersion: 0, integrity: [] }); // an empty file: a store not yet written
  try {
    let schemaVersion: number;
    try {
      schemaVersion = storeSchemaVersion(db, store);
    } catch (error) {
      if (isCorruptionError(error)) return report({ integrity: [error.message] });
      return report({ error: (error as Error).message });
    }
    const integrity = integrityProblems(db, 'integrity_check');
    const invalidRows: RowProblem[] = [];
    if (schemaVersion >= 1) {
      try {
        checkRows(db, checked, invalidRows);
      } catch (error) {
        // Damage bad enough that the rows cannot be read is damage integrity_check reports too.
        if (!isCorruptionError(error)) throw error;
        if (!integrity.includes(error.message)) integrity.push(`reading the rows: ${error.message}`);
      }
    }
    return report({ schemaVersion, integrity, invalidRows });
  } finally {
    db.close();
  }
}

/** The SELECT list of `columns` on `table`, with the columns the file's schema predates read as their defaults. */
function selectList(db: sqlite.DatabaseSync, table: string, columns: string): string {
  const present = new Set((db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name));
  return columns
    .split(', ')
    .map((column) => (present.has(column) ? column : `${addedColumns[column] ?? 'NULL'} AS ${column}`))
    .join(', ');
}

/** The payload column of `row` that does not decode (and why), or `undefined`. */
function badPayload(row: Row, columns: readonly string[]): { column: string; value: unknown; problem: string } | undefined {
  for (const column of columns) {
    const text = row[column];
    if (text === null || text === undefined) continue;
    try {
      deserializeValue(String(text));
    } catch (error) {
      const shown = String(text);
      return { column, value: shown.length > 80 ? `${shown.slice(0, 80)}…` : shown, problem: `does not decode: ${(error as Error).message}` };
    }
  }
  return undefined;
}

/** Validates every run with its task instances and result records, one run at a time. */
function checkRows(db: sqlite.DatabaseSync, checked: { runs: number; taskInstances: number; results: number }, invalidRows: RowProblem[]): void {
  const runs = db.prepare(`SELECT ${selectList(db, 'runs', runColumns)} FROM runs ORDER BY created_at, rowid`);
  const instances = db.prepare(`SELECT ${selectList(db, 'task_instances', instanceColumns)} FROM task_instances WHERE run_id = ? ORDER BY rowid`);
  const results = db.prepare('SELECT key, attempt, value, at FROM results WHERE run_id = ? ORDER BY rowid');
  const tableRank = { runs: 0, run_shapes: 1, task_instances: 2, results: 3 } as const;
  // Each run's shape (read apart, like getRunShape): in run_shapes since schema 5, in runs.shape in schema 4.
  const shapeTable = (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run_shapes'").get() !== undefined)
    ? 'run_shapes'
    : (db.prepare('PRAGMA table_info(runs)').all() as Array<{ name: string }>).some((c) => c.name === 'shape')
      ? 'runs'
      : undefined;
  const shapes = shapeTable === undefined ? undefined : db.prepare(`SELECT shape FROM ${shapeTable} WHERE run_id = ?`);
  for (const runRow of runs.iterate() as Iterable<Row>) {
    const runId = str(runRow['run_id']!);
    checked.runs += 1;
    const found: RowProblem[] = [];
    // Row order within each table, so the report lists problems as the rows are stored.
    const order = { runs: new Map<string, number>(), run_shapes: new Map<string, number>(), task_instances: new Map<string, number>(), results: new Map<string, number>() };
    const runPayload = badPayload(runRow, payloadColumns.runs);
    if (runPayload !== undefined) found.push({ table: 'runs', runId, key: undefined, ...runPayload });
    const run: StoredRun | undefined = runPayload === undefined ? rowToRun(runRow) : undefined;
    if (shapes !== undefined) {
      try {
        decodeShape((shapes.get(runId) as Row | undefined)?.['shape'], runId, { store: '' });
      } catch (error) {
        if (!(error instanceof StoreRowError)) throw error;
        found.push({ table: shapeTable!, runId, key: undefined, column: 'shape', value: error.value, problem: 'does not decode into a run shape (the task graph viz run draws)' });
      }
    }

    const loadedInstances: StoredTaskInstance[] = [];
    for (const row of instances.iterate(runId) as Iterable<Row>) {
      checked.taskInstances += 1;
      const key = str(row['key']!);
      order.task_instances.set(key, order.task_instances.size);
      const payload = badPayload(row, payloadColumns.task_instances);
      if (payload === undefined) loadedInstances.push(rowToInstance(row));
      else found.push({ table: 'task_instances', runId, key, ...payload });
    }
    const loadedResults: StoredResult[] = [];
    for (const row of results.iterate(runId) as Iterable<Row>) {
      checked.results += 1;
      const key = str(row['key']!);
      if (!order.results.has(key)) order.results.set(key, order.results.size);
      const payload = badPayload(row, payloadColumns.results);
      if (payload === undefined) loadedResults.push({ runId, key, attempt: num(row['attempt']!), value: value(row['value']!, `the result record of '${key}' in run '${runId}' (table results), column value`), at: num(row['at']!) });
      else found.push({ table: 'results', runId, key, ...payload });
    }
    // A run record that does not decode cannot vouch for the task ids: its rows are checked without its task list.
    const loaded: LoadedRun = { run: run ?? placeholderRun(runId), instances: loadedInstances, results: loadedResults };
    found.push(...loadedRunProblems(loaded).filter((problem) => run !== undefined || problem.table !== 'runs'));
    const position = (problem: RowProblem): number => (problem.key === undefined ? -1 : (order[problem.table].get(problem.key) ?? 0));
    found.sort((a, b) => tableRank[a.table] - tableRank[b.table] || position(a) - position(b));
    invalidRows.push(...found);
  }
}

/** Stands in for a run record that does not decode, so its instances and results are still checked. */
function placeholderRun(runId: string): StoredRun {
  return {
    runId,
    flowId: '?',
    inputFingerprint: '',
    state: 'running',
    reason: null,
    input: undefined,
    labels: undefined,
    taskIds: undefined,
    machineVersion: '?',
    createdAt: 0,
    updatedAt: 0,
    startedAt: undefined,
    endedAt: undefined,
  };
}
