// The SQLite store: its public types and sqliteStore(), whose methods implement the Store contract
// on one node:sqlite connection. It stays a little over 400 lines because the public types keep
// their TSDoc here and the methods share one closure (connection, statements, closed flag); each
// is a read or a write transaction of a few statements. The rest is in sqlite/: openFile.ts
// (opening, and what SQLite's errors mean), inspectFile.ts and checkFile.ts (read-only checks of a
// file), rows.ts (rows <-> records), statements.ts, commitBatch.ts (the commit's checks and
// writes), migrations.ts (the schema and migrate).
import { resolve } from 'node:path';
import type * as sqlite from 'node:sqlite';
import type { TaskInstanceState } from '../../machines/index.ts';
import type { CommitBatch, CommitResult } from './batch.ts';
import { checkBatch, checkCheckpoint, checkControlRequest, checkFence, checkLeaseRequest, checkListRunsOptions, closedError, decideLease, unknownRunError } from './batchChecks.ts';
import type { CheckpointWrite, StoredCheckpoint } from './checkpointRecord.ts';
import type { ControlRequestWrite, StoredControlRequest } from './controlRecord.ts';
import { LeaseLostError, StoreError } from './errors.ts';
import type { LeaseGrant, LeaseRequest, StoredLease } from './leaseRecord.ts';
import type { ListRunsOptions, LoadedRun, ReadTransitionLogOptions, RunSummary } from './queries.ts';
import type { StoredRun } from './runRecord.ts';
import type { Store } from './store.ts';
import type { StoredTransition } from './transitionLog.ts';
import { shellWord } from '../shellWord.ts';
import { checkedCountState, checkedInstances, checkedLoadedRun, checkedRun, type RowSource } from './rowChecks.ts';
import { prepare, writeBatch } from './sqlite/commitBatch.ts';
import { openDatabase, storeError } from './sqlite/openFile.ts';
import { FileIdentity } from './sqlite/fileIdentity.ts';
import { instanceColumns, nullable, num, rowToControl, rowToInstance, rowToLease, rowToLogLine, rowToResult, rowToRun, rowToTransition, str, text, value, type Row } from './sqlite/rows.ts';
import { prepareStatements, summaryColumns } from './sqlite/statements.ts';
import type { FlowShape } from '../flow/flowShape.ts';
import { checkTaskLogQuery, decodeShape } from './shapeAndLogChecks.ts';
import type { StoredTaskLogLine, TaskLogQuery } from './taskLogRecord.ts';
import { checkTaskInstanceQuery, countsFromRows, cursorPosition, type TaskInstanceCounts, type TaskInstancePage, type TaskInstanceQuery } from './instanceQueries.ts';

/**
 * Where the CLI keeps its store, relative to the working directory.
 *
 * @example
 * ```ts
 * import { defaultSqlitePath, sqliteStore } from 'taskmachine/stores';
 * const store = sqliteStore({ path: defaultSqlitePath });
 * ```
 */
export const defaultSqlitePath = '.taskmachine/taskmachine.db';

/**
 * How hard a commit works to survive a crash:
 * - `full`: `PRAGMA synchronous=FULL` — a committed turn survives a process crash, an OS crash and
 *   a power loss (one fsync per commit).
 * - `normal`: `PRAGMA synchronous=NORMAL` — a committed turn survives a process crash (`kill -9`);
 *   after an OS crash or power loss the last turns may be rolled back (never corrupted). Faster.
 *
 * @example
 * ```ts
 * import type { SqliteDurability } from 'taskmachine/stores';
 * const durability: SqliteDurability = process.env.CI ? 'normal' : 'full';
 * ```
 */
export type SqliteDurability = 'full' | 'normal';

/**
 * Options of {@link sqliteStore}.
 *
 * @example
 * ```ts
 * sqliteStore({ path: 'var/runs.db', durability: 'normal', busyTimeoutMs: 10_000 });
 * ```
 */
export interface SqliteStoreOptions {
  /**
   * The database file (its parent directory is created), or `':memory:'` for a private in-memory
   * database.
   * @default '.taskmachine/taskmachine.db'
   */
  readonly path?: string;
  /**
   * See {@link SqliteDurability}.
   * @default 'full'
   */
  readonly durability?: SqliteDurability;
  /**
   * How long a write waits for another process holding the database's write lock before failing.
   * @default 5000
   */
  readonly busyTimeoutMs?: number;
}

/**
 * The settings a SQLite store's connection actually runs with (read back from SQLite).
 *
 * @example
 * ```ts
 * const { journalMode, synchronous } = store.settings(); // 'wal', 'full'
 * ```
 */
export interface SqliteSettings {
  /** `PRAGMA journal_mode`: `wal` for a file, `memory` for `:memory:`. */
  readonly journalMode: string;
  /** `PRAGMA synchronous`. */
  readonly synchronous: 'off' | 'normal' | 'full' | 'extra';
  /** `PRAGMA busy_timeout` in ms. */
  readonly busyTimeoutMs: number;
  /** The schema version of the file. */
  readonly schemaVersion: number;
}

/**
 * A {@link Store} on a SQLite file, with what is specific to SQLite.
 *
 * @example
 * ```ts
 * const store = sqliteStore();
 * console.log(store.path, store.settings().journalMode);
 * ```
 */
export interface SqliteStore extends Store {
  /** The file as opened (absolute), or `':memory:'`. */
  readonly path: string;
  /** The durability it was opened with. */
  readonly durability: SqliteDurability;
  /** The settings read back from the connection. */
  settings(): SqliteSettings;
}

const synchronousNames = ['off', 'normal', 'full', 'extra'] as const;

/** The options `sqliteStore` takes (any other is refused: see `sqliteStore`). */
const SQLITE_OPTIONS: ReadonlySet<string> = new Set(['path', 'durability', 'busyTimeoutMs']);

/**
 * A {@link Store} on a SQLite file through Node's built-in `node:sqlite` (no native dependency).
 *
 * - WAL journal; `synchronous=FULL` (or `NORMAL`, see {@link SqliteDurability}); every
 *   `commit(batch)` is one transaction, so a scheduler turn costs one fsync however many task
 *   instances it changed. Statements are prepared once and reused.
 * - Opening checks an existing file read-only first: a file that is not a SQLite database or is
 *   damaged throws `StoreCorruptError`, one written by a newer taskmachine (or by another program)
 *   throws `StoreSchemaError` — and the file is left byte-for-byte untouched. Otherwise pending
 *   schema migrations run in one transaction.
 * - Several stores (processes) may open the same file: writes are serialized by SQLite's lock
 *   (waiting up to `busyTimeoutMs`), each sees the others' committed batches.
 * - On Node 22 `node:sqlite` prints an `ExperimentalWarning` the first time a store is opened;
 *   taskmachine does not suppress it. Node 24 prints none.
 *
 * @example
 * ```ts
 * import { runFlow } from 'taskmachine';
 * import { sqliteStore } from 'taskmachine/stores';
 * const store = sqliteStore({ path: '.taskmachine/taskmachine.db' });
 * try {
 *   await runFlow(etl, { runId: 'nightly-2026-11-22', store });
 * } finally {
 *   await store.close();
 * }
 * ```
 */
export function sqliteStore(options: SqliteStoreOptions = {}): SqliteStore {
  if (typeof options !== 'object' || options === null) {
    throw new StoreError(`sqliteStore: options must be an object, e.g. { path: 'runs.db' }, got ${String(options)}.`);
  }
  // (A misspelt option would otherwise be ignored: a store at the default path, or 'full' kept.)
  for (const key of Object.keys(options)) {
    if (!SQLITE_OPTIONS.has(key)) throw new StoreError(`sqliteStore: unknown option '${key}' (the options are ${[...SQLITE_OPTIONS].join(', ')}).`);
  }
  if (options.path !== undefined && (typeof options.path !== 'string' || options.path === '')) {
    throw new StoreError(`sqliteStore: path must be a file path (or ':memory:'), got ${JSON.stringify(options.path) ?? String(options.path)}.`);
  }
  const { durability = 'full', busyTimeoutMs = 5000 } = options;
  if (durability !== 'full' && durability !== 'normal') {
    throw new StoreError(`sqliteStore: durability must be 'full' or 'normal', got ${JSON.stringify(durability)}.`);
  }
  if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new StoreError(`sqliteStore: busyTimeoutMs must be a non-negative integer (ms), got ${String(busyTimeoutMs)}.`);
  }
  const requested = options.path ?? defaultSqlitePath;
  const inMemory = requested === ':memory:';
  const path = inMemory ? requested : resolve(requested);
  const db = openDatabase(path, inMemory, durability, busyTimeoutMs);
  const identity = inMemory ? undefined : new FileIdentity(path);

  const statements = prepareStatements(db);
  const rows: RowSource = inMemory
    ? { store: 'the in-memory SQLite store' }
    : { store: `the store file "${path}"`, checkCommand: `taskmachine check --store ${shellWord(path)}` };
  const listStatements = new Map<string, sqlite.StatementSync>();
  let closed = false;

  function leaseOf(runId: string): StoredLease | undefined {
    const row = statements.getLease.get(runId) as Row | undefined;
    return row === undefined ? undefined : rowToLease(row);
  }

  function open(): void {
    if (closed) throw closedError(`SQLite store "${path}"`);
  }

  const translate = (error: unknown): unknown => storeError(error, path, busyTimeoutMs);

  /** Runs `work` in one write transaction; rolls back everything on any error. */
  function transaction<T>(work: () => T): T {
    identity?.check();
    try {
      db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      throw translate(error);
    }
    try {
      const result = work();
      db.exec('COMMIT');
      return result;
    } catch (error) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw translate(error);
    }
  }

  function read<T>(work: () => T): T {
    open();
    identity?.check();
    try {
      return work();
    } catch (error) {
      throw translate(error);
    }
  }

  /** A prepared statement per SQL text (the query shapes are few). */
  function cached(sql: string): sqlite.StatementSync {
    let statement = listStatements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      listStatements.set(sql, statement);
    }
    return statement;
  }

  function listStatement(options: ListRunsOptions): sqlite.StatementSync {
    const where: string[] = [];
    if (options.flowId !== undefined) where.push('r.flow_id = :flowId');
    if (options.state !== undefined) where.push('r.state = :state');
    const sql =
      `SELECT ${summaryColumns}, ` +
      `(SELECT json_group_object(state, n) FROM (SELECT state, count(*) AS n FROM task_instances t ` +
      `WHERE t.run_id = r.run_id GROUP BY state)) AS counts FROM runs r` +
      (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
      ' ORDER BY r.created_at DESC, r.rowid DESC LIMIT :limit';
    return cached(sql);
  }

  return {
    path,
    durability,

    settings(): SqliteSettings {
      return read(() => ({
        journalMode: String((db.prepare('PRAGMA journal_mode').get() as Row)['journal_mode']),
        synchronous: synchronousNames[num((db.prepare('PRAGMA synchronous').get() as Row)['synchronous']!)] ?? 'full',
        busyTimeoutMs: num((db.prepare('PRAGMA busy_timeout').get() as Row)['timeout']!),
        schemaVersion: num((db.prepare('PRAGMA user_version').get() as Row)['user_version']!),
      }));
    },

    async commit(batch: CommitBatch): Promise<CommitResult> {
      open();
      checkBatch(batch);
      // Serialize every value before the transaction: a value that cannot be stored fails first.
      const prepared = prepare(batch);
      return transaction(() => writeBatch(statements, batch, prepared, leaseOf));
    },

    async getRun(runId: string): Promise<StoredRun | undefined> {
      return read(() => {
        const row = statements.getRun.get(runId) as Row | undefined;
        return row === undefined ? undefined : checkedRun(rowToRun(row), rows);
      });
    },

    async listRuns(options: ListRunsOptions = {}): Promise<readonly RunSummary[]> {
      open();
      checkListRunsOptions(options);
      return read(() => {
        const limit = options.limit ?? Infinity;
        const params: Record<string, sqlite.SQLInputValue> = { limit: limit === Infinity ? -1 : Math.max(0, Math.floor(limit)) };
        if (options.flowId !== undefined) params['flowId'] = options.flowId;
        if (options.state !== undefined) params['state'] = options.state;
        return (listStatement(options).all(params) as Row[]).map((row): RunSummary => {
          const { input: _input, ...run } = checkedRun(rowToRun({ ...row, input: null }), rows);
          const parsed = JSON.parse(str(row['counts'] ?? '{}')) as Record<string, number>;
          const taskCounts: Partial<Record<TaskInstanceState, number>> = {};
          for (const [state, n] of Object.entries(parsed)) taskCounts[checkedCountState(rows, run.runId, undefined, state)] = n;
          return { ...run, taskCounts, lease: leaseOf(run.runId) };
        });
      });
    },

    async loadRun(runId: string): Promise<LoadedRun | undefined> {
      return read(() => {
        const runRow = statements.getRun.get(runId) as Row | undefined;
        if (runRow === undefined) return undefined;
        return checkedLoadedRun(
          {
            run: rowToRun(runRow),
            instances: (statements.loadInstances.all(runId) as Row[]).map(rowToInstance),
            results: (statements.loadResults.all(runId) as Row[]).map((row) => rowToResult(runId, row)),
          },
          rows,
        );
      });
    },

    async queryTaskInstances(runId: string, query: TaskInstanceQuery = {}): Promise<TaskInstancePage> {
      open();
      const limit = checkTaskInstanceQuery(query);
      const after = cursorPosition(query.cursor);
      return read(() => {
        const where = ['run_id = :runId', 'rowid > :after'];
        const params: Record<string, sqlite.SQLInputValue> = { runId, after, limit: limit + 1 };
        if (query.states !== undefined) {
          where.push('state IN (SELECT value FROM json_each(:states))');
          params['states'] = JSON.stringify(query.states);
        }
        if (query.taskId !== undefined) {
          where.push('task_id = :taskId');
          params['taskId'] = query.taskId;
        }
        if (query.keyPrefix !== undefined) {
          where.push('substr(key, 1, length(:prefix)) = :prefix');
          params['prefix'] = query.keyPrefix;
        }
        const found = cached(`SELECT rowid AS write_order, ${instanceColumns} FROM task_instances WHERE ${where.join(' AND ')} ORDER BY rowid LIMIT :limit`).all(params) as Row[];
        const more = found.length > limit;
        const pageRows = more ? found.slice(0, limit) : found;
        const instances = checkedInstances(runId, pageRows.map(rowToInstance), rows);
        let results: Map<string, unknown> | undefined;
        if (query.withResults === true) {
          results = new Map();
          const keys = instances.filter((i) => i.state === 'success').map((i) => i.key);
          if (keys.length > 0) {
            const resultRows = statements.pageResults.all(runId, JSON.stringify(keys)) as Row[];
            for (const row of resultRows) results.set(str(row['key']!), value(row['value']!, `the result record of '${str(row['key']!)}' in run '${runId}' (table results), column value`));
          }
        }
        return { instances, ...(results === undefined ? {} : { results }), next: more ? String(num(pageRows.at(-1)!['write_order']!)) : undefined };
      });
    },

    async countTaskInstances(runId: string): Promise<TaskInstanceCounts> {
      return read(() =>
        countsFromRows(
          (statements.countInstances.all(runId) as Row[]).map((row) => ({ taskId: str(row['task_id']!), state: str(row['state']!), n: num(row['n']!) })),
          (taskId, state) => checkedCountState(rows, runId, taskId, state),
        ),
      );
    },

    async readTransitionLog(runId: string, options: ReadTransitionLogOptions = {}): Promise<readonly StoredTransition[]> {
      return read(() =>
        (statements.readLog.all(runId, options.afterSeq ?? 0) as Row[]).map((row) => rowToTransition(runId, row)),
      );
    },

    async getRunShape(runId: string): Promise<FlowShape | undefined> {
      return read(() => {
        const row = statements.getShape.get(runId) as Row | undefined;
        return row === undefined ? undefined : decodeShape(row['shape'], runId, rows, 'run_shapes');
      });
    },

    async readTaskLogs(runId: string, query: TaskLogQuery = {}): Promise<readonly StoredTaskLogLine[]> {
      open();
      const { limit, afterSeq } = checkTaskLogQuery(query);
      return read(() =>
        (
          statements.readLogs.all({
            runId,
            after: afterSeq,
            key: nullable(query.key),
            taskId: nullable(query.taskId),
            attempt: nullable(query.attempt),
            limit: limit === Infinity ? -1 : limit,
          }) as Row[]
        ).map((row) => rowToLogLine(runId, row)),
      );
    },

    async saveCheckpoint(checkpoint: CheckpointWrite): Promise<void> {
      open();
      checkCheckpoint(checkpoint);
      const valueText = text(checkpoint.value);
      transaction(() => {
        if (checkpoint.leaseToken !== undefined) checkFence(checkpoint.runId, checkpoint.leaseToken, leaseOf(checkpoint.runId));
        if (statements.runExists.get(checkpoint.runId) === undefined) {
          throw unknownRunError(checkpoint.runId, `save the checkpoint of '${checkpoint.key}'`);
        }
        statements.upsertCheckpoint.run(checkpoint.runId, checkpoint.key, valueText, checkpoint.savedAt);
      });
    },

    async loadCheckpoint(runId: string, key: string): Promise<StoredCheckpoint | undefined> {
      return read(() => {
        const row = statements.loadCheckpoint.get(runId, key) as Row | undefined;
        return row === undefined ? undefined : { runId, key, value: value(row['value']!, `the checkpoint of '${key}' in run '${runId}' (table checkpoints), column value`), savedAt: num(row['saved_at']!) };
      });
    },

    async deleteRun(runId: string): Promise<boolean> {
      open();
      return transaction(() => {
        const existed = statements.runExists.get(runId) !== undefined;
        for (const statement of statements.deleteRun) statement.run(runId);
        return existed;
      });
    },

    async acquireLease(request: LeaseRequest): Promise<LeaseGrant> {
      open();
      checkLeaseRequest(request);
      return transaction(() => {
        const grant = decideLease(leaseOf(request.runId), request);
        const { lease } = grant;
        statements.upsertLease.run(
          lease.runId,
          lease.owner.ownerId,
          lease.owner.host,
          lease.owner.pid,
          lease.token,
          lease.acquiredAt,
          lease.heartbeatAt,
          lease.expiresAt,
          null,
        );
        return grant;
      });
    },

    async renewLease(lease: StoredLease, now: number, ttlMs: number): Promise<StoredLease> {
      open();
      return transaction(() => {
        const current = leaseOf(lease.runId);
        if (current === undefined || current.releasedAt !== undefined || current.token !== lease.token) {
          throw new LeaseLostError({ runId: lease.runId, token: lease.token, current });
        }
        statements.renewLease.run(now, now + ttlMs, lease.runId, lease.token);
        return { ...current, heartbeatAt: now, expiresAt: now + ttlMs };
      });
    },

    async releaseLease(lease: StoredLease, now: number): Promise<void> {
      open();
      transaction(() => statements.releaseLease.run(now, lease.runId, lease.token));
    },

    async getLease(runId: string): Promise<StoredLease | undefined> {
      return read(() => leaseOf(runId));
    },

    async requestControl(request: ControlRequestWrite): Promise<StoredControlRequest> {
      open();
      checkControlRequest(request);
      const payloadText = text(request.payload);
      return transaction(() => {
        if (statements.runExists.get(request.runId) === undefined) throw unknownRunError(request.runId, `store a control request (${request.action})`);
        const row = statements.insertControl.get(
          request.runId,
          request.action,
          nullable(request.taskKey),
          nullable(request.state),
          payloadText,
          request.requestedAt,
          nullable(request.requestedBy),
        ) as Row;
        return rowToControl(row);
      });
    },

    async pendingControls(runId: string): Promise<readonly StoredControlRequest[]> {
      return read(() => (statements.pendingControls.all(runId) as Row[]).map(rowToControl));
    },

    async getControl(runId: string, id: number): Promise<StoredControlRequest | undefined> {
      return read(() => {
        const row = statements.getControl.get(runId, id) as Row | undefined;
        return row === undefined ? undefined : rowToControl(row);
      });
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
