import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type * as sqlite from 'node:sqlite';
import { isTaskInstanceState, type TaskInstanceEventType, type TaskInstanceState } from '../../machines/index.ts';
import type { CommitBatch, CommitResult } from './batch.ts';
import {
  checkBatch,
  checkCheckpoint,
  checkControlRequest,
  checkFence,
  checkLeaseRequest,
  checkListRunsOptions,
  closedError,
  decideLease,
  instanceRecord,
  runRecord,
  unknownRunError,
} from './batchChecks.ts';
import type { CheckpointWrite, StoredCheckpoint } from './checkpointRecord.ts';
import type { ControlAction, ControlRequestWrite, ControlStatus, StoredControlRequest } from './controlRecord.ts';
import { LeaseLostError, StoreConflictError, StoreError, StoreSchemaError } from './errors.ts';
import type { LeaseGrant, LeaseRequest, StoredLease } from './leaseRecord.ts';
import type { ListRunsOptions, LoadedRun, ReadTransitionLogOptions, RunSummary } from './queries.ts';
import type { StoredResult } from './resultRecord.ts';
import type { StoredRun } from './runRecord.ts';
import type { Store } from './store.ts';
import type { StoredTaskInstance } from './taskInstanceRecord.ts';
import type { StoredTransition } from './transitionLog.ts';
import { shellWord } from '../shellWord.ts';
import { checkedInstances, checkedLoadedRun, checkedRun, encodeTaskIds, type RowSource } from './rowChecks.ts';
import { accessError, corruptError, inspectStoreFile, isCorruptionError, loadSqlite, primaryCode } from './sqlite/inspectFile.ts';
import { latestSchemaVersion, sqliteMigrations } from './sqlite/migrations.ts';
import { instanceColumns, nullable, num, optNum, optStr, rowToInstance, rowToRun, runColumns, str, text, value, type Row } from './sqlite/rows.ts';
import type { FlowShape } from '../flow/flowShape.ts';
import { checkTaskLogQuery, decodeShape, encodeShape } from './shapeAndLogChecks.ts';
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
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_READONLY = 8;
const SQLITE_CANTOPEN = 14;

/** The run columns `listRuns` reads (everything but `input`). */
const summaryColumns = runColumns
  .split(', ')
  .filter((c) => c !== 'input')
  .map((c) => `r.${c}`)
  .join(', ');

/** Position of `version` in the task-instance parameters (set inside the transaction). */
const versionParam = instanceColumns.split(', ').indexOf('version');

function placeholders(columns: string): string {
  return columns
    .split(',')
    .map(() => '?')
    .join(', ');
}

function updateAll(columns: string, conflict: readonly string[]): string {
  return columns
    .split(',')
    .map((c) => c.trim())
    .filter((c) => !conflict.includes(c))
    .map((c) => `${c} = excluded.${c}`)
    .join(', ');
}

const leaseColumns = 'run_id, owner_id, host, pid, token, acquired_at, heartbeat_at, expires_at, released_at';

function rowToLease(row: Row): StoredLease {
  return {
    runId: str(row['run_id']!),
    owner: { ownerId: str(row['owner_id']!), host: str(row['host']!), pid: num(row['pid']!) },
    token: num(row['token']!),
    acquiredAt: num(row['acquired_at']!),
    heartbeatAt: num(row['heartbeat_at']!),
    expiresAt: num(row['expires_at']!),
    releasedAt: optNum(row['released_at'] ?? null),
  };
}

const controlColumns = 'id, run_id, action, task_key, state, payload, requested_at, requested_by, status, message, settled_at';

function rowToControl(row: Row): StoredControlRequest {
  const taskKey = optStr(row['task_key'] ?? null);
  const state = optStr(row['state'] ?? null);
  const payload = row['payload'] ?? null;
  const requestedBy = optStr(row['requested_by'] ?? null);
  return {
    id: num(row['id']!),
    runId: str(row['run_id']!),
    action: str(row['action']!) as ControlAction,
    ...(taskKey !== undefined ? { taskKey } : {}),
    ...(state !== undefined ? { state: state as StoredControlRequest['state'] & string } : {}),
    ...(payload !== null ? { payload: value(payload) } : {}),
    requestedAt: num(row['requested_at']!),
    ...(requestedBy !== undefined ? { requestedBy } : {}),
    status: str(row['status']!) as ControlStatus,
    message: optStr(row['message'] ?? null),
    settledAt: optNum(row['settled_at'] ?? null),
  };
}

function instanceParams(record: StoredTaskInstance): sqlite.SQLInputValue[] {
  return [
    record.runId,
    record.key,
    record.taskId,
    nullable(record.mapIndex),
    nullable(record.parentKey),
    text(record.callInput),
    text(record.customContext),
    record.state,
    record.attempt,
    record.maxAttempts,
    record.retries,
    record.manuallySetFrom,
    record.deferTimedOut ? 1 : 0,
    record.version,
    record.machineVersion,
    record.createdAt,
    record.updatedAt,
    nullable(record.startedAt),
    nullable(record.endedAt),
    nullable(record.failureKind),
    text(record.error),
    record.parked ? 1 : 0,
    record.awaitsEvent ? 1 : 0,
    record.timer === undefined ? null : record.timer.deadline,
    record.timer === undefined ? null : record.timer.action,
    text(record.resumeData),
    text(record.eventPayload),
    record.interruptions,
    record.maxInterruptions,
  ];
}

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
  if (!inMemory) {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (error) {
      throw accessError(path, error, true);
    }
    try {
      inspectStoreFile(path);
    } catch (error) {
      throw accessError(path, error);
    }
  }

  let db: sqlite.DatabaseSync;
  try {
    db = new (loadSqlite().DatabaseSync)(path, { enableForeignKeyConstraints: false });
  } catch (error) {
    if (isCorruptionError(error)) throw corruptError(path, error, true);
    throw accessError(path, error);
  }
  try {
    db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    // (The first write: in a read-only directory or file this is where SQLite refuses.)
    db.exec('PRAGMA journal_mode = WAL');
    db.exec(`PRAGMA synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
    migrate(db, path);
  } catch (error) {
    db.close();
    if (isCorruptionError(error)) throw corruptError(path, error, false);
    throw accessError(path, error);
  }

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

  /** Runs `work` in one write transaction; rolls back everything on any error. */
  function transaction<T>(work: () => T): T {
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

  function translate(error: unknown): unknown {
    if (isCorruptionError(error)) return corruptError(path, error, false);
    const errcode = primaryCode(error);
    if (errcode === SQLITE_READONLY || errcode === SQLITE_CANTOPEN) return accessError(path, error);
    if (error instanceof Error && (errcode === SQLITE_BUSY || errcode === SQLITE_LOCKED)) {
      return new StoreError(
        `The store file "${path}" stayed locked by another connection for longer than busyTimeoutMs ` +
          `(${busyTimeoutMs} ms), so nothing was written. Another process is holding a long write transaction; ` +
          'retry, or raise busyTimeoutMs.',
        { cause: error },
      );
    }
    return error;
  }

  function read<T>(work: () => T): T {
    open();
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
    let statement = listStatements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      listStatements.set(sql, statement);
    }
    return statement;
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
      const { runId } = batch;
      // Serialize every value before the transaction: a value that cannot be stored fails first.
      const runParams =
        batch.run === undefined ? undefined : runParamsOf(runRecord(batch.run));
      const upserts = (batch.instances ?? []).map(({ record, expectedVersion = 0 }) => ({
        key: record.key,
        expectedVersion,
        params: instanceParams(instanceRecord(runId, record, 0)),
      }));
      const results = (batch.results ?? []).map((r) => ({ key: r.key, attempt: r.attempt, at: r.at, value: text(r.value) }));
      const shapeText = batch.shape === undefined ? undefined : encodeShape(batch.shape);

      return transaction(() => {
        if (batch.leaseToken !== undefined) checkFence(runId, batch.leaseToken, leaseOf(runId));
        if (runParams !== undefined) statements.upsertRun.run(...runParams);
        else if (statements.runExists.get(runId) === undefined) throw unknownRunError(runId, 'commit the batch');
        if (shapeText !== undefined) statements.saveShape.run(runId, shapeText);

        const versionOf = (key: string): number => num((statements.instanceVersion.get(runId, key) as Row | undefined)?.['version'] ?? 0);
        for (const del of batch.deleteInstances ?? []) {
          const actual = versionOf(del.key);
          if (actual !== del.expectedVersion) {
            throw new StoreConflictError({ kind: 'version', runId, key: del.key, expectedVersion: del.expectedVersion, actualVersion: actual });
          }
          statements.deleteInstance.run(runId, del.key);
          statements.deleteResultsOfKey.run(runId, del.key);
          statements.deleteCheckpoint.run(runId, del.key);
        }
        const versions = new Map<string, number>();
        for (const upsert of upserts) {
          const actual = versionOf(upsert.key);
          if (actual !== upsert.expectedVersion) {
            throw new StoreConflictError({
              kind: 'version',
              runId,
              key: upsert.key,
              expectedVersion: upsert.expectedVersion,
              actualVersion: actual,
            });
          }
          upsert.params[versionParam] = actual + 1;
          statements.upsertInstance.run(...upsert.params);
          versions.set(upsert.key, actual + 1);
        }
        let seq = num((statements.lastSeq.get(runId) as Row)['seq']!);
        for (const t of batch.transitions ?? []) {
          seq += 1;
          statements.insertTransition.run(runId, seq, t.key, t.from, t.to, t.event, t.at);
        }
        for (const r of results) {
          if (statements.resultExists.get(runId, r.key, r.attempt) !== undefined) {
            const version = versionOf(r.key);
            throw new StoreConflictError({ kind: 'result', runId, key: r.key, attempt: r.attempt, expectedVersion: version, actualVersion: version });
          }
          statements.insertResult.run(runId, r.key, r.attempt, r.value, r.at);
        }
        if (batch.logs !== undefined && batch.logs.length > 0) {
          let logSeq = num((statements.lastLogSeq.get(runId) as Row)['seq']!);
          for (const l of batch.logs) statements.insertLog.run(runId, ++logSeq, l.key, l.taskId, l.attempt, l.at, l.line);
        }
        for (const c of batch.controls ?? []) {
          const settled = statements.settleControl.run(c.status, c.message, c.at, c.id, runId);
          if (Number(settled.changes) !== 1) {
            const row = statements.getControl.get(runId, c.id) as Row | undefined;
            throw new StoreError(
              `Control request ${c.id} of run '${runId}' is not pending (${row === undefined ? 'no such request' : str(row['status']!)}); nothing of the batch was written.`,
            );
          }
        }
        return { versions, lastSeq: seq };
      });
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
          for (const [state, n] of Object.entries(parsed)) if (isTaskInstanceState(state)) taskCounts[state] = n;
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
            results: (statements.loadResults.all(runId) as Row[]).map(
              (row): StoredResult => ({ runId, key: str(row['key']!), attempt: num(row['attempt']!), value: value(row['value']!), at: num(row['at']!) }),
            ),
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
            for (const row of resultRows) results.set(str(row['key']!), value(row['value']!));
          }
        }
        return { instances, ...(results === undefined ? {} : { results }), next: more ? String(num(pageRows.at(-1)!['write_order']!)) : undefined };
      });
    },

    async countTaskInstances(runId: string): Promise<TaskInstanceCounts> {
      return read(() =>
        countsFromRows(
          (statements.countInstances.all(runId) as Row[]).map((row) => ({ taskId: str(row['task_id']!), state: str(row['state']!), n: num(row['n']!) })),
        ),
      );
    },

    async readTransitionLog(runId: string, options: ReadTransitionLogOptions = {}): Promise<readonly StoredTransition[]> {
      return read(() =>
        (statements.readLog.all(runId, options.afterSeq ?? 0) as Row[]).map(
          (row): StoredTransition => ({
            runId,
            key: str(row['key']!),
            seq: num(row['seq']!),
            from: str(row['from_state']!) as TaskInstanceState,
            to: str(row['to_state']!) as TaskInstanceState,
            event: str(row['event']!) as TaskInstanceEventType,
            at: num(row['at']!),
          }),
        ),
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
        ).map((row) => ({
          runId,
          seq: num(row['seq']!),
          key: str(row['key']!),
          taskId: str(row['task_id']!),
          attempt: num(row['attempt']!),
          at: num(row['at']!),
          line: str(row['line']!),
        })),
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
        return row === undefined ? undefined : { runId, key, value: value(row['value']!), savedAt: num(row['saved_at']!) };
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

function runParamsOf(run: StoredRun): sqlite.SQLInputValue[] {
  return [
    run.runId,
    run.flowId,
    run.inputFingerprint,
    run.state,
    run.reason,
    text(run.input),
    text(run.labels),
    encodeTaskIds(run.taskIds),
    nullable(run.flowHash),
    run.machineVersion,
    run.createdAt,
    run.updatedAt,
    nullable(run.startedAt),
    nullable(run.endedAt),
  ];
}

function prepareStatements(db: sqlite.DatabaseSync) {
  return {
    upsertRun: db.prepare(
      `INSERT INTO runs (${runColumns}) VALUES (${placeholders(runColumns)}) ` +
        `ON CONFLICT (run_id) DO UPDATE SET ${updateAll(runColumns, ['run_id'])}`,
    ),
    runExists: db.prepare('SELECT 1 AS one FROM runs WHERE run_id = ?'),
    getRun: db.prepare(`SELECT ${runColumns} FROM runs WHERE run_id = ?`),
    instanceVersion: db.prepare('SELECT version FROM task_instances WHERE run_id = ? AND key = ?'),
    upsertInstance: db.prepare(
      `INSERT INTO task_instances (${instanceColumns}) VALUES (${placeholders(instanceColumns)}) ` +
        `ON CONFLICT (run_id, key) DO UPDATE SET ${updateAll(instanceColumns, ['run_id', 'key'])}`,
    ),
    deleteInstance: db.prepare('DELETE FROM task_instances WHERE run_id = ? AND key = ?'),
    deleteResultsOfKey: db.prepare('DELETE FROM results WHERE run_id = ? AND key = ?'),
    deleteCheckpoint: db.prepare('DELETE FROM checkpoints WHERE run_id = ? AND key = ?'),
    loadInstances: db.prepare(`SELECT ${instanceColumns} FROM task_instances WHERE run_id = ? ORDER BY rowid`),
    lastSeq: db.prepare('SELECT coalesce(max(seq), 0) AS seq FROM transitions WHERE run_id = ?'),
    insertTransition: db.prepare('INSERT INTO transitions (run_id, seq, key, from_state, to_state, event, at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    readLog: db.prepare('SELECT seq, key, from_state, to_state, event, at FROM transitions WHERE run_id = ? AND seq > ? ORDER BY seq'),
    resultExists: db.prepare('SELECT 1 AS one FROM results WHERE run_id = ? AND key = ? AND attempt = ?'),
    insertResult: db.prepare('INSERT INTO results (run_id, key, attempt, value, at) VALUES (?, ?, ?, ?, ?)'),
    loadResults: db.prepare('SELECT key, attempt, value, at FROM results WHERE run_id = ? ORDER BY rowid'),
    // (Later attempts come later, so a reader that keeps the last per key has the latest.)
    pageResults: db.prepare('SELECT key, value FROM results WHERE run_id = ? AND key IN (SELECT value FROM json_each(?)) ORDER BY rowid'),
    countInstances: db.prepare('SELECT task_id, state, count(*) AS n, min(rowid) AS first FROM task_instances WHERE run_id = ? GROUP BY task_id, state ORDER BY first'),
    upsertCheckpoint: db.prepare(
      'INSERT INTO checkpoints (run_id, key, value, saved_at) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, saved_at = excluded.saved_at',
    ),
    loadCheckpoint: db.prepare('SELECT value, saved_at FROM checkpoints WHERE run_id = ? AND key = ?'),
    saveShape: db.prepare('INSERT INTO run_shapes (run_id, shape) VALUES (?, ?) ON CONFLICT (run_id) DO UPDATE SET shape = excluded.shape'),
    getShape: db.prepare('SELECT shape FROM run_shapes WHERE run_id = ?'),
    lastLogSeq: db.prepare('SELECT coalesce(max(seq), 0) AS seq FROM task_logs WHERE run_id = ?'),
    insertLog: db.prepare('INSERT INTO task_logs (run_id, seq, key, task_id, attempt, at, line) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    readLogs: db.prepare(
      'SELECT seq, key, task_id, attempt, at, line FROM task_logs WHERE run_id = :runId AND seq > :after ' +
        'AND (:key IS NULL OR key = :key) AND (:taskId IS NULL OR task_id = :taskId) AND (:attempt IS NULL OR attempt = :attempt) ' +
        'ORDER BY seq LIMIT :limit',
    ),
    deleteRun: ['task_instances', 'transitions', 'results', 'checkpoints', 'control_requests', 'task_logs', 'run_shapes', 'runs'].map((table) =>
      db.prepare(`DELETE FROM ${table} WHERE run_id = ?`),
    ),
    getLease: db.prepare(`SELECT ${leaseColumns} FROM leases WHERE run_id = ?`),
    upsertLease: db.prepare(
      `INSERT INTO leases (${leaseColumns}) VALUES (${placeholders(leaseColumns)}) ` +
        `ON CONFLICT (run_id) DO UPDATE SET ${updateAll(leaseColumns, ['run_id'])}`,
    ),
    renewLease: db.prepare('UPDATE leases SET heartbeat_at = ?, expires_at = ? WHERE run_id = ? AND token = ? AND released_at IS NULL'),
    releaseLease: db.prepare('UPDATE leases SET released_at = ? WHERE run_id = ? AND token = ? AND released_at IS NULL'),
    insertControl: db.prepare(
      'INSERT INTO control_requests (run_id, action, task_key, state, payload, requested_at, requested_by) VALUES (?, ?, ?, ?, ?, ?, ?) ' +
        `RETURNING ${controlColumns}`,
    ),
    pendingControls: db.prepare(`SELECT ${controlColumns} FROM control_requests WHERE run_id = ? AND status = 'pending' ORDER BY id`),
    getControl: db.prepare(`SELECT ${controlColumns} FROM control_requests WHERE run_id = ? AND id = ?`),
    settleControl: db.prepare(
      `UPDATE control_requests SET status = ?, message = ?, settled_at = ? WHERE id = ? AND run_id = ? AND status = 'pending'`,
    ),
  };
}

/**
 * Applies pending migrations in one transaction; refuses a schema newer than this code. A file
 * already at this code's schema is only read: opening a store takes no write lock (it would wait
 * behind a writer that holds one, e.g. a process stopped mid-commit) and writes nothing.
 */
function migrate(db: sqlite.DatabaseSync, path: string): void {
  const hasVersions = db.prepare(`SELECT 1 AS one FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'`).get() !== undefined;
  if (hasVersions) {
    const stored = num((db.prepare('SELECT coalesce(max(version), 0) AS v FROM schema_version').get() as Row)['v']!);
    const userVersion = num((db.prepare('PRAGMA user_version').get() as Row)['user_version']!);
    if (stored === latestSchemaVersion && userVersion === latestSchemaVersion) return;
  }
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(
      'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL, description TEXT NOT NULL)',
    );
    const current = num((db.prepare('SELECT coalesce(max(version), 0) AS v FROM schema_version').get() as Row)['v']!);
    if (current > latestSchemaVersion) {
      // Another process upgraded the file between the read-only check and now.
      throw new StoreSchemaError({
        path,
        foundVersion: current,
        supportedVersion: latestSchemaVersion,
        message:
          `The store file "${path}" has schema version ${current}, but this taskmachine knows versions up to ` +
          `${latestSchemaVersion}: it was written by a newer taskmachine. Upgrade taskmachine, or use another store path.`,
      });
    }
    const record = db.prepare('INSERT INTO schema_version (version, applied_at, description) VALUES (?, ?, ?)');
    for (const migration of sqliteMigrations) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      record.run(migration.version, Date.now(), migration.description);
    }
    const userVersion = num((db.prepare('PRAGMA user_version').get() as Row)['user_version']!);
    if (userVersion !== latestSchemaVersion) db.exec(`PRAGMA user_version = ${latestSchemaVersion}`);
    db.exec('COMMIT');
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}
