import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { inspect } from 'node:util';
import type { Pool, PoolClient, PoolConfig, QueryResult } from 'pg';
import { isTaskInstanceState, type FlowRunFailureReason, type FlowRunState, type TaskInstanceEventType, type TaskInstanceState } from '../../machines/index.ts';
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
import type { ControlAction, ControlRequestWrite, ControlSettlement, ControlStatus, StoredControlRequest } from './controlRecord.ts';
import { LeaseLostError, StoreConflictError, StoreConnectionError, StoreError, StoreSchemaError } from './errors.ts';
import type { LeaseGrant, LeaseRequest, StoredLease } from './leaseRecord.ts';
import type { ListRunsOptions, LoadedRun, ReadTransitionLogOptions, RunSummary } from './queries.ts';
import type { StoredResult } from './resultRecord.ts';
import type { StoredRun } from './runRecord.ts';
import { deserializeValue, serializeValue } from './serialization.ts';
import type { Store } from './store.ts';
import type { StoredFailureKind, StoredTaskInstance, TaskInstanceWrite, TimerAction } from './taskInstanceRecord.ts';
import type { StoredTransition } from './transitionLog.ts';
import { checkedInstances, checkedLoadedRun, checkedRun, decodeTaskIds, encodeTaskIds, type RowSource } from './rowChecks.ts';
import { isConnectionError, isTransient, redact, safeCause, serverError, sqlState } from './postgres/connection.ts';
import { latestPostgresSchemaVersion, postgresMigrations, requiredPostgresTables } from './postgres/migrations.ts';
import { instanceColumns, statements, versionIndex, type Statement } from './postgres/sql.ts';
import type { FlowShape } from '../flow/flowShape.ts';
import { checkTaskLogQuery, decodeShape, encodeShape } from './shapeAndLogChecks.ts';
import type { StoredTaskLogLine, TaskLogQuery, TaskLogWrite } from './taskLogRecord.ts';
import { checkTaskInstanceQuery, countsFromRows, cursorPosition, type TaskInstanceCounts, type TaskInstancePage, type TaskInstanceQuery } from './instanceQueries.ts';

/**
 * The schema a PostgreSQL store uses when none is given.
 *
 * @example
 * ```ts
 * import { defaultPostgresSchema, postgresStore } from 'taskmachine/stores';
 * const store = await postgresStore({ connectionString: process.env.DATABASE_URL, schema: defaultPostgresSchema });
 * ```
 */
export const defaultPostgresSchema = 'taskmachine';

/**
 * Options of {@link postgresStore}. Give exactly one of `connectionString`, `pool` or
 * `poolOptions` (which may also be combined with `connectionString`).
 *
 * @example
 * ```ts
 * await postgresStore({
 *   connectionString: process.env.DATABASE_URL, // postgresql://user:password@host:5432/app
 *   poolOptions: { max: 20 },
 *   schema: 'taskmachine_staging',
 * });
 * ```
 */
export interface PostgresStoreOptions {
  /**
   * Where the database is: `postgresql://user:password@host:port/database` (query parameters such
   * as `sslmode` as node-postgres reads them). It is never logged and never put into an error:
   * errors name the server as `host:port/database` only.
   * @default undefined (use `pool`, or `poolOptions`, or node-postgres' PG* environment variables)
   */
  readonly connectionString?: string;
  /**
   * Options of the pool the store creates (node-postgres `PoolConfig`), laid over the store's
   * defaults. Not with `pool`.
   * @default { max: 10, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 10_000, keepAlive: true, idle_in_transaction_session_timeout: 60_000, application_name: 'taskmachine' }
   */
  readonly poolOptions?: Omit<PoolConfig, 'connectionString'>;
  /**
   * An existing node-postgres pool to borrow (for example the one your app or pg-boss uses). The
   * store never ends it (`close()` leaves it open) and does not add an `'error'` listener to it:
   * give it one, as node-postgres asks, or an idle connection that breaks crashes the process.
   * @default undefined (the store creates and owns its pool)
   */
  readonly pool?: Pool;
  /**
   * The PostgreSQL schema holding the store's tables: a lowercase identifier (a-z, 0-9, _; not
   * starting with a digit or `pg_`; at most 63 characters). It is created if missing. Stores on
   * different schemas of one database are independent.
   * @default 'taskmachine'
   */
  readonly schema?: string;
  /**
   * How many times an operation whose connection broke (or that the server asks to retry: a
   * serialization failure or deadlock) is tried again on a fresh connection before it fails with
   * `StoreConnectionError` — at least; see `reconnectForMs`.
   * @default 3
   */
  readonly connectionRetries?: number;
  /**
   * How long to wait before the first retry, in ms; doubled before each further one, up to 1 s.
   * @default 100
   */
  readonly retryDelayMs?: number;
  /**
   * After its `connectionRetries`, an operation whose connection broke (the server is restarting or
   * unreachable) keeps being tried again on a fresh connection until this many ms have passed
   * since its first failure, so a PostgreSQL restart or a short network loss is ridden out instead
   * of failing the run. `0`: only `connectionRetries` count.
   * @default 30000 (the default lease time to live of a run)
   */
  readonly reconnectForMs?: number;
}

/**
 * A {@link Store} on PostgreSQL, with what is specific to it.
 *
 * @example
 * ```ts
 * const store = await postgresStore({ connectionString: process.env.DATABASE_URL });
 * console.log(store.server, store.schema, await store.schemaVersion()); // 'db.internal:5432/app' 'taskmachine' 2
 * ```
 */
export interface PostgresStore extends Store {
  /** The server as `host:port/database` (never the user or password): what errors name. */
  readonly server: string;
  /** The schema of its tables. */
  readonly schema: string;
  /**
   * The node-postgres pool it runs on (its own, or the one given): to run your own statements, or
   * to give pg-boss the same database (`{ db: { executeSql: (text, values) => store.pool.query(text, values) } }`).
   */
  readonly pool: Pool;
  /** The schema version of its tables (the newest migration applied). */
  schemaVersion(): Promise<number>;
  /**
   * The result records of a run with these `(key, attempt)` pairs (those that exist, in no
   * particular order), deserialized like `loadRun`'s, each with the length of its stored text
   * (`chars`, for a cache's bound). What workers read instead of values carried by jobs.
   *
   * @example
   * ```ts
   * const [list] = await store.readResults('nightly', [{ key: 'extract', attempt: 1 }]);
   * list?.value; // the result of attempt 1 of 'extract'
   * ```
   */
  readResults(runId: string, ids: ReadonlyArray<{ readonly key: string; readonly attempt: number }>): Promise<Array<StoredResultRead>>;
  /**
   * Whether the batch with this id (`StoreConnectionError.batchId` of a commit whose outcome was
   * unknown) was committed. Commits whose outcome the store reported are not tracked: `false`.
   */
  wasCommitted(batchId: string): Promise<boolean>;
  /**
   * Commits `batch` like {@link Store.commit}, and runs `within` inside the same transaction, after
   * the batch's writes and before `COMMIT`: what it writes commits with the batch or not at all.
   * The runtime's `executor: 'workers'` uses it to enqueue attempt jobs (pg-boss) in the transaction
   * that stores the attempts' `START`. `within` may run more than once (a commit retried after a
   * lost connection runs it again in the new transaction), never twice in committed transactions.
   *
   * @example
   * ```ts
   * await store.commit(batch, (db) => db.query('INSERT INTO audit (run_id) VALUES ($1)', [batch.runId]));
   * ```
   */
  commit(batch: CommitBatch, within?: (db: SqlSession) => Promise<void>): Promise<CommitResult>;
  /**
   * Runs `work` in a transaction of its own and commits it. When the connection breaks (the server
   * restarts, the network drops) or the server asks to retry, the whole transaction is tried again
   * on a fresh connection as the store's own operations are (`connectionRetries`, then for up to
   * `reconnectForMs`), so `work` may run more than once — and, when a `COMMIT`'s reply was lost,
   * once more after it had committed: make it idempotent. Taskmachine's workers store attempt
   * outcomes with it.
   *
   * @example
   * ```ts
   * await store.transaction('mark the import done', (db) => db.query('UPDATE imports SET done = true WHERE id = $1', [id]));
   * ```
   */
  transaction<T>(doing: string, work: (db: SqlSession) => Promise<T>): Promise<T>;
}

/**
 * A result record as {@link PostgresStore.readResults} gives it.
 *
 * @example
 * ```ts
 * const read: StoredResultRead = { key: 'extract', attempt: 1, value: [1, 2], chars: 24 };
 * ```
 */
export interface StoredResultRead {
  readonly key: string;
  readonly attempt: number;
  readonly value: unknown;
  /** Length of its stored (superjson) text. */
  readonly chars: number;
}

/**
 * One database session inside a transaction (a node-postgres client): what
 * {@link PostgresStore.commit}'s `within` gets.
 *
 * @example
 * ```ts
 * const within = async (db: SqlSession) => { await db.query('SELECT 1', []); };
 * ```
 */
export interface SqlSession {
  query(text: string, values?: unknown[]): Promise<{ rows: any[]; rowCount: number | null }>;
}

const poolDefaults: PoolConfig = {
  max: 10,
  connectionTimeoutMillis: 10_000,
  idleTimeoutMillis: 10_000,
  keepAlive: true,
  idle_in_transaction_session_timeout: 60_000,
  application_name: 'taskmachine',
};

const optionNames: ReadonlySet<string> = new Set(['connectionString', 'pool', 'poolOptions', 'schema', 'connectionRetries', 'retryDelayMs', 'reconnectForMs']);

/** The longest wait between two tries of an operation (retryDelayMs doubles up to it). */
const maxRetryDelayMs = 1_000;
const schemaPattern = /^[a-z_][a-z0-9_]{0,62}$/;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Row = Record<string, unknown>;

const num = (v: unknown): number => Number(v);
const optNum = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));
const optStr = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));
const value = (v: unknown): unknown => (v === null || v === undefined ? undefined : deserializeValue(v as string));
const text = (v: unknown): string | null => (v === undefined ? null : serializeValue(v));
const nullable = <T>(v: T | undefined): T | null => (v === undefined ? null : v);
const resultId = (key: string, attempt: number): string => `${attempt}:${key}`;
const hasNul = (s: unknown): boolean => typeof s === 'string' && s.includes('\u0000');

function rowToRun(row: Row): StoredRun {
  return {
    runId: String(row['run_id']),
    flowId: String(row['flow_id']),
    inputFingerprint: String(row['input_fingerprint']),
    state: row['state'] as FlowRunState,
    reason: (row['reason'] ?? null) as FlowRunFailureReason | null,
    input: value(row['input']),
    labels: value(row['labels']) as StoredRun['labels'],
    taskIds: decodeTaskIds(row['task_ids']),
    flowHash: optStr(row['flow_hash']),
    machineVersion: String(row['machine_version']),
    createdAt: num(row['created_at']),
    updatedAt: num(row['updated_at']),
    startedAt: optNum(row['started_at']),
    endedAt: optNum(row['ended_at']),
  };
}

function rowToInstance(row: Row): StoredTaskInstance {
  const deadline = optNum(row['timer_deadline']);
  return {
    runId: String(row['run_id']),
    key: String(row['key']),
    taskId: String(row['task_id']),
    mapIndex: optNum(row['map_index']),
    parentKey: optStr(row['parent_key']),
    callInput: value(row['call_input']),
    customContext: value(row['custom_context']) as StoredTaskInstance['customContext'],
    state: row['state'] as TaskInstanceState,
    attempt: num(row['attempt']),
    maxAttempts: num(row['max_attempts']),
    retries: num(row['retries']),
    manuallySetFrom: (row['manually_set_from'] ?? null) as TaskInstanceState | null,
    deferTimedOut: row['defer_timed_out'] === true,
    version: num(row['version']),
    machineVersion: String(row['machine_version']),
    createdAt: num(row['created_at']),
    updatedAt: num(row['updated_at']),
    startedAt: optNum(row['started_at']),
    endedAt: optNum(row['ended_at']),
    failureKind: optStr(row['failure_kind']) as StoredFailureKind | undefined,
    error: value(row['error']) as Error | undefined,
    parked: row['parked'] === true,
    awaitsEvent: row['waiting_for_event'] === true,
    interruptions: num(row['interruptions']),
    maxInterruptions: num(row['max_interruptions']),
    timer: deadline === undefined ? undefined : { deadline, action: String(row['timer_action']) as TimerAction },
    resumeData: value(row['resume_data']),
    eventPayload: value(row['event_payload']),
  };
}

/** The lease in `row` (its columns named `prefix` + column), or `undefined` when the row has none. */
function rowToLease(row: Row, prefix = ''): StoredLease | undefined {
  const token = row[`${prefix}token`];
  if (token === null || token === undefined) return undefined;
  return {
    runId: String(row[`${prefix}run_id`]),
    owner: { ownerId: String(row[`${prefix}owner_id`]), host: String(row[`${prefix}host`]), pid: num(row[`${prefix}pid`]) },
    token: num(token),
    acquiredAt: num(row[`${prefix}acquired_at`]),
    heartbeatAt: num(row[`${prefix}heartbeat_at`]),
    expiresAt: num(row[`${prefix}expires_at`]),
    releasedAt: optNum(row[`${prefix}released_at`]),
  };
}

/** A lease's column values, in the order of `leaseColumns` (sql.ts) without released_at (a granted lease is held). */
function leaseRow(lease: StoredLease): unknown[] {
  return [lease.runId, lease.owner.ownerId, lease.owner.host, lease.owner.pid, lease.token, lease.acquiredAt, lease.heartbeatAt, lease.expiresAt];
}

function rowToControl(row: Row): StoredControlRequest {
  const taskKey = optStr(row['task_key']);
  const state = optStr(row['state']);
  const requestedBy = optStr(row['requested_by']);
  return {
    id: num(row['id']),
    runId: String(row['run_id']),
    action: String(row['action']) as ControlAction,
    ...(taskKey !== undefined ? { taskKey } : {}),
    ...(state !== undefined ? { state: state as NonNullable<StoredControlRequest['state']> } : {}),
    ...(row['payload'] !== null && row['payload'] !== undefined ? { payload: value(row['payload']) } : {}),
    requestedAt: num(row['requested_at']),
    ...(requestedBy !== undefined ? { requestedBy } : {}),
    status: String(row['status']) as ControlStatus,
    message: optStr(row['message']),
    settledAt: optNum(row['settled_at']),
  };
}

/** The run's column values, in `runColumns` order (values serialized). */
function runRow(run: StoredRun): unknown[] {
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

/** The instance's column values, in `instanceColumns` order (values serialized; version set later). */
function instanceRow(record: StoredTaskInstance): unknown[] {
  const byColumn: Record<(typeof instanceColumns)[number][0], unknown> = {
    key: record.key,
    task_id: record.taskId,
    map_index: nullable(record.mapIndex),
    parent_key: nullable(record.parentKey),
    call_input: text(record.callInput),
    custom_context: text(record.customContext),
    state: record.state,
    attempt: record.attempt,
    max_attempts: record.maxAttempts,
    retries: record.retries,
    manually_set_from: record.manuallySetFrom,
    defer_timed_out: record.deferTimedOut,
    version: 0,
    machine_version: record.machineVersion,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
    started_at: nullable(record.startedAt),
    ended_at: nullable(record.endedAt),
    failure_kind: nullable(record.failureKind),
    error: text(record.error),
    parked: record.parked,
    waiting_for_event: record.awaitsEvent,
    timer_deadline: record.timer === undefined ? null : record.timer.deadline,
    timer_action: record.timer === undefined ? null : record.timer.action,
    resume_data: text(record.resumeData),
    event_payload: text(record.eventPayload),
    interruptions: record.interruptions,
    max_interruptions: record.maxInterruptions,
  };
  return instanceColumns.map(([column]) => byColumn[column]);
}

function nulError(what: string): StoreError {
  return new StoreError(
    `Invalid store write: ${what} contains the character U+0000 (NUL), which PostgreSQL cannot store in text. ` +
      'Remove it. Nothing was written.',
  );
}

/** PostgreSQL text cannot hold U+0000: refuse it up front, naming the field (values are JSON, so escaped). */
function checkNoNul(batch: CommitBatch): void {
  const { runId, run } = batch;
  if (hasNul(runId)) throw nulError(`batch.runId ${JSON.stringify(runId)}`);
  if (run !== undefined) {
    for (const field of ['flowId', 'inputFingerprint', 'machineVersion'] as const) {
      if (hasNul(run[field])) throw nulError(`run '${runId}': ${field}`);
    }
  }
  for (const del of batch.deleteInstances ?? []) if (hasNul(del.key)) throw nulError(`a deleted key in run '${runId}'`);
  for (const { record } of batch.instances ?? []) {
    for (const field of ['key', 'taskId', 'parentKey', 'machineVersion'] as const satisfies ReadonlyArray<keyof TaskInstanceWrite>) {
      if (hasNul(record[field])) throw nulError(`task instance ${JSON.stringify(record.key)} of run '${runId}': ${field}`);
    }
  }
  for (const t of batch.transitions ?? []) {
    if (hasNul(t.key) || hasNul(t.event)) throw nulError(`a transition of ${JSON.stringify(t.key)} in run '${runId}'`);
  }
  for (const r of batch.results ?? []) if (hasNul(r.key)) throw nulError(`a result key in run '${runId}'`);
  if (run !== undefined && hasNul(run.flowHash)) throw nulError(`run '${runId}': flowHash`);
  for (const l of batch.logs ?? []) {
    if (hasNul(l.key) || hasNul(l.taskId) || hasNul(l.line)) throw nulError(`a log line of ${JSON.stringify(l.key)} in run '${runId}'`);
  }
  for (const c of batch.controls ?? []) if (hasNul(c.message)) throw nulError(`the message settling control request ${c.id} of run '${runId}'`);
}

/** A batch checked and serialized, ready to be sent as often as it takes. */
interface PreparedBatch {
  readonly runId: string;
  readonly runValues: unknown[] | undefined;
  readonly deletes: ReadonlyArray<{ readonly key: string; readonly expectedVersion: number }>;
  readonly upserts: ReadonlyArray<{ readonly key: string; readonly expectedVersion: number; readonly row: readonly unknown[] }>;
  readonly transitions: NonNullable<CommitBatch['transitions']>;
  readonly results: ReadonlyArray<{ readonly key: string; readonly attempt: number; readonly value: string | null; readonly at: number }>;
  readonly controls: readonly ControlSettlement[];
  readonly shapeText: string | undefined;
  readonly logs: readonly TaskLogWrite[];
  readonly leaseToken: number | undefined;
}

function prepare(batch: CommitBatch): PreparedBatch {
  const { runId } = batch;
  return {
    runId,
    runValues: batch.run === undefined ? undefined : runRow(runRecord(batch.run)),
    deletes: (batch.deleteInstances ?? []).map(({ key, expectedVersion }) => ({ key, expectedVersion })),
    upserts: (batch.instances ?? []).map(({ record, expectedVersion = 0 }) => ({
      key: record.key,
      expectedVersion,
      row: instanceRow(instanceRecord(runId, record, 0)),
    })),
    transitions: batch.transitions ?? [],
    results: (batch.results ?? []).map((r) => ({ key: r.key, attempt: r.attempt, value: text(r.value), at: r.at })),
    controls: (batch.controls ?? []).map(({ id, status, message, at }) => ({ id, status, message, at })),
    shapeText: batch.shape === undefined ? undefined : encodeShape(batch.shape),
    logs: (batch.logs ?? []).map(({ key, taskId, attempt, at, line }) => ({ key, taskId, attempt, at, line })),
    leaseToken: batch.leaseToken,
  };
}

/** What a batch that passed compare-and-set returns: every upserted key at its last expected version + 1. */
function landedVersions(batch: PreparedBatch): Map<string, number> {
  const versions = new Map<string, number>();
  for (const upsert of batch.upserts) versions.set(upsert.key, upsert.expectedVersion + 1);
  return versions;
}

function checkOptions(options: PostgresStoreOptions): { schema: string; retries: number; retryDelayMs: number; reconnectForMs: number } {
  if (typeof options !== 'object' || options === null) {
    throw new StoreError('postgresStore: options must be an object, e.g. { connectionString: process.env.DATABASE_URL }.');
  }
  for (const key of Object.keys(options)) {
    if (!optionNames.has(key)) {
      throw new StoreError(`postgresStore: unknown option '${key}' (the options are ${[...optionNames].join(', ')}).`);
    }
  }
  const { connectionString, pool, poolOptions, schema = defaultPostgresSchema, connectionRetries = 3, retryDelayMs = 100, reconnectForMs = 30_000 } = options;
  if (connectionString === undefined && pool === undefined && poolOptions === undefined) {
    throw new StoreError(
      'postgresStore: say where the database is: connectionString (postgresql://user:password@host:port/database), ' +
        'pool (an existing pg.Pool) or poolOptions (node-postgres PoolConfig).',
    );
  }
  if (pool !== undefined && (connectionString !== undefined || poolOptions !== undefined)) {
    throw new StoreError('postgresStore: pool cannot be combined with connectionString or poolOptions: configure the pool itself.');
  }
  if (pool !== undefined && (typeof pool !== 'object' || pool === null || typeof (pool as Pool).connect !== 'function')) {
    throw new StoreError('postgresStore: pool must be a node-postgres Pool (new pg.Pool(...)).');
  }
  if (connectionString !== undefined) {
    if (typeof connectionString !== 'string' || !/^postgres(ql)?:\/\//i.test(connectionString)) {
      throw new StoreError(
        'postgresStore: connectionString must be a postgresql:// URL (postgresql://user:password@host:port/database); ' +
          'the value given is not shown, as it may contain a password.',
      );
    }
  }
  if (poolOptions !== undefined && (typeof poolOptions !== 'object' || poolOptions === null || 'connectionString' in poolOptions)) {
    throw new StoreError('postgresStore: poolOptions must be a node-postgres PoolConfig object without connectionString (give that on its own).');
  }
  if (typeof schema !== 'string' || !schemaPattern.test(schema) || schema.startsWith('pg_')) {
    throw new StoreError(
      `postgresStore: schema must be a lowercase SQL identifier (a-z, 0-9, _; not starting with a digit or pg_; ` +
        `at most 63 characters), got ${JSON.stringify(schema)}. Example: 'taskmachine' or 'taskmachine_staging'.`,
    );
  }
  if (!Number.isSafeInteger(connectionRetries) || connectionRetries < 0) {
    throw new StoreError(`postgresStore: connectionRetries must be a non-negative integer, got ${String(connectionRetries)}.`);
  }
  if (typeof retryDelayMs !== 'number' || !Number.isFinite(retryDelayMs) || retryDelayMs < 0) {
    throw new StoreError(`postgresStore: retryDelayMs must be a non-negative number of ms, got ${String(retryDelayMs)}.`);
  }
  if (typeof reconnectForMs !== 'number' || !Number.isFinite(reconnectForMs) || reconnectForMs < 0) {
    throw new StoreError(`postgresStore: reconnectForMs must be a non-negative number of ms, got ${String(reconnectForMs)}.`);
  }
  return { schema, retries: connectionRetries, retryDelayMs, reconnectForMs };
}

type PgModule = typeof import('pg');

/** `host:port/database` and the secrets to keep out of errors, from a pool config (never connects). */
function describeServer(pg: PgModule, config: PoolConfig): { server: string; secrets: string[] } {
  const secrets: string[] = [];
  if (typeof config.connectionString === 'string') secrets.push(config.connectionString);
  if (typeof config.password === 'string') secrets.push(config.password);
  let client: InstanceType<PgModule['Client']>;
  try {
    client = new pg.Client(config);
  } catch {
    // node-postgres' own error would carry the URL (and so the password) in its `input` field.
    throw new StoreError(
      'postgresStore: connectionString is not a valid postgresql:// URL (postgresql://user:password@host:port/database); ' +
        'the value given is not shown, as it may contain a password. Percent-encode special characters in the password.',
    );
  }
  const password: unknown = client.password;
  if (typeof password === 'string' && password !== '') secrets.push(password, encodeURIComponent(password));
  const host = client.host.includes(':') && !client.host.startsWith('/') ? `[${client.host}]` : client.host;
  return { server: `${host}:${client.port}/${client.database ?? ''}`, secrets };
}

/**
 * A {@link Store} on PostgreSQL through node-postgres (`pg`), the driver pg-boss 12 is built on, so
 * a job can be enqueued in the same transaction as a state change.
 *
 * - **Opening** connects, takes a transaction-scoped advisory lock for the schema, applies pending
 *   migrations in that one transaction (so concurrent openers migrate exactly once), and refuses a
 *   schema written by a newer taskmachine — or one holding other tables — with `StoreSchemaError`,
 *   changing nothing.
 * - **Group commit**: one transaction per `commit(batch)` in at most five round trips whatever its
 *   size (BEGIN; lock the run, record the batch's id and read its lease; read the versions and
 *   control requests it checks; one statement writing every instance, log entry, result and
 *   control settlement through `unnest`; COMMIT). The run's row lock serializes writers of one run;
 *   the lease check (`leaseToken`), compare-and-set, duplicate results and pending control requests
 *   are checked before anything is written, exactly as SQLite does.
 * - **Leases**: `acquireLease` locks the run's lease row (`SELECT … FOR UPDATE`, or inserts the
 *   first one) and decides in that transaction, so of concurrent acquirers exactly one wins. A
 *   commit or checkpoint carrying a token reads the lease `FOR SHARE` in the statement that locks
 *   the run: a takeover waits for it, and it sees a takeover that committed first. Expiry is
 *   decided against the `now` the caller passes, never the server's clock.
 * - **Connection loss**: a broken or idle-killed connection is dropped and replaced by the pool. An
 *   operation whose connection broke is tried again on a fresh one (`connectionRetries`, then until `reconnectForMs` passed). Every
 *   commit carries a batch id recorded in its own transaction, so a commit whose connection broke
 *   during COMMIT is retried safely: if it had landed, the retry sees its id and reports the
 *   original result instead of applying it again. Only when the server stays unreachable does
 *   `commit` fail, with `StoreConnectionError` (`outcome: 'unknown'` and the `batchId` to check
 *   with `wasCommitted` once the server is back, when the COMMIT was in flight).
 * - The connection string and password are never logged and never put into an error: errors name
 *   the server as `host:port/database`.
 * - `pg` is loaded only when a PostgreSQL store is opened.
 *
 * @example
 * ```ts
 * import { runFlow } from 'taskmachine';
 * import { postgresStore } from 'taskmachine/stores';
 * const store = await postgresStore({ connectionString: process.env.DATABASE_URL, schema: 'taskmachine' });
 * try {
 *   await runFlow(etl, { runId: 'nightly-2026-11-22', store });
 * } finally {
 *   await store.close();
 * }
 * ```
 */
export async function postgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const { schema, retries, retryDelayMs, reconnectForMs } = checkOptions(options);
  const pg = ((await import('pg')) as unknown as { default: PgModule }).default;
  const ownsPool = options.pool === undefined;
  let pool: Pool;
  let described: { server: string; secrets: string[] };
  if (options.pool !== undefined) {
    pool = options.pool;
    described = describeServer(pg, pool.options as PoolConfig);
  } else {
    const config: PoolConfig = {
      ...poolDefaults,
      ...options.poolOptions,
      ...(options.connectionString === undefined ? {} : { connectionString: options.connectionString }),
    };
    described = describeServer(pg, config);
    pool = new pg.Pool(config);
    // node-postgres hides the password from inspection but not the connection string: hide it too,
    // so logging the pool (or the store) never prints it. The pool still reads it.
    if (typeof pool.options.connectionString === 'string') {
      Object.defineProperty(pool.options, 'connectionString', { enumerable: false, value: pool.options.connectionString, writable: true, configurable: true });
    }
    // An idle connection that breaks (server restart, idle timeout, pg_terminate_backend) is already
    // dropped by the pool; the next checkout opens a fresh one. Without a listener it would crash
    // the process.
    pool.on('error', () => {});
  }
  const { server, secrets } = described;
  const q = `"${schema}"`;
  const where = `${server} schema "${schema}"`;
  const rows: RowSource = { store: `PostgreSQL at ${where}` };
  const sql = statements(q);

  let closed = false;
  /** Ids of committed batches whose writers know the outcome: their markers can go. */
  const forgettable = new Set<string>();

  const open = (): void => {
    if (closed) throw closedError(`PostgreSQL store (${where})`);
  };

  const exec = (client: Pool | PoolClient, st: Statement, values: unknown[]): Promise<QueryResult<Row>> =>
    client.query<Row>({ name: st.name, text: st.text, values });

  /** Runs `work` on a checked-out client; a client whose connection broke is destroyed, not reused. */
  async function withClient<T>(work: (client: PoolClient, broken: (error: unknown) => void) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    let brokenBy: Error | undefined;
    const broken = (error: unknown): void => {
      brokenBy ??= error instanceof Error ? error : new Error(String(error));
    };
    client.on('error', broken);
    try {
      return await work(client, broken);
    } catch (error) {
      if (isConnectionError(error)) broken(error);
      throw error;
    } finally {
      client.off('error', broken);
      client.release(brokenBy ?? false);
    }
  }

  async function rollback(client: PoolClient, broken: (error: unknown) => void): Promise<void> {
    try {
      await client.query('ROLLBACK');
    } catch (error) {
      broken(error); // never hand a connection in an unknown transaction state back to the pool
    }
  }

  function giveUp(error: unknown, attempts: number, doing: string, outcome: 'not-written' | 'unknown', batchId?: string): Error {
    if (error instanceof StoreError) return error;
    // After a COMMIT whose reply was lost, any failure of the retries leaves the outcome unknown.
    if (isConnectionError(error) || outcome === 'unknown') {
      const reason = redact((error as Error).message, secrets);
      const cause = safeCause(error, secrets);
      const tail =
        outcome === 'unknown'
          ? ` The connection broke while the server was committing batch ${batchId}: it was committed once or not at all ` +
            `(never twice, never in part). Once the server is reachable, store.wasCommitted('${batchId}') tells which; ` +
            'or reload the run (store.loadRun) before writing again.'
          : ' Nothing was written.';
      return new StoreConnectionError({
        server,
        outcome,
        ...(batchId === undefined ? {} : { batchId }),
        message: `Could not ${doing}: PostgreSQL at ${server} ${isConnectionError(error) ? 'is unreachable' : 'failed'} (${reason}) after ${attempts} attempt${attempts === 1 ? '' : 's'}.${tail}`,
        cause,
      });
    }
    if (sqlState(error) !== undefined) return serverError(error as Error, server, secrets, doing);
    return error instanceof Error ? error : new StoreError(String(error));
  }

  /**
   * Whether an operation that failed with `error` on its `attempt`-th try, `since` its first
   * failure (a time), is tried again: a transient error within `connectionRetries`, and after them
   * a broken connection until `reconnectForMs` have passed.
   */
  function tryAgain(error: unknown, attempt: number, since: number): boolean {
    if (error instanceof StoreError || !isTransient(error)) return false;
    if (attempt <= retries) return true;
    return isConnectionError(error) && Date.now() - since < reconnectForMs;
  }

  /** The wait before try `attempt + 1`: retryDelayMs doubled per try, at most 1 s (at least 50 ms once past `connectionRetries`). */
  function backoff(attempt: number): Promise<void> {
    const ms = Math.min(retryDelayMs * 2 ** (attempt - 1), maxRetryDelayMs);
    return delay(attempt > retries ? Math.max(ms, 50) : ms);
  }

  /** Runs `work`, again on a fresh connection while it fails with a transient error. */
  async function retrying<T>(doing: string, work: () => Promise<T>): Promise<T> {
    let since = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (closed) throw closedError(`PostgreSQL store (${where})`);
        if (attempt === 1) since = Date.now();
        if (!tryAgain(error, attempt, since)) throw giveUp(error, attempt, doing, 'not-written');
        await backoff(attempt);
      }
    }
  }

  const read = <T>(doing: string, st: Statement, values: unknown[], map: (result: QueryResult<Row>) => T): Promise<T> =>
    retrying(doing, async () => map(await exec(pool, st, values)));

  async function migrate(client: PoolClient, broken: (error: unknown) => void): Promise<void> {
    await client.query('BEGIN');
    try {
      await client.query("SELECT pg_advisory_xact_lock(hashtext('taskmachine.migrate'), hashtext($1))", [schema]);
      const found = await client.query<{ has_schema: boolean; tables: string[] }>(
        'SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS has_schema, ' +
          'ARRAY(SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY tablename) AS tables',
        [schema],
      );
      const { has_schema: hasSchema, tables } = found.rows[0]!;
      let current = 0;
      if (tables.includes('schema_version')) {
        current = num((await client.query(`SELECT coalesce(max(version), 0) AS v FROM ${q}.schema_version`)).rows[0]!['v']);
        if (current > latestPostgresSchemaVersion) {
          throw new StoreSchemaError({
            path: where,
            foundVersion: current,
            supportedVersion: latestPostgresSchemaVersion,
            message:
              `The PostgreSQL store at ${where} has schema version ${current}, but this taskmachine knows versions up to ` +
              `${latestPostgresSchemaVersion}: it was written by a newer taskmachine. Upgrade taskmachine, or use another schema. ` +
              'Nothing was changed.',
          });
        }
        const missing = requiredPostgresTables(current).filter((table) => !tables.includes(table));
        if (missing.length > 0) {
          throw new StoreSchemaError({
            path: where,
            foundVersion: current,
            supportedVersion: latestPostgresSchemaVersion,
            message:
              `The PostgreSQL store at ${where} is damaged: the tables ${missing.join(', ')} are missing. ` +
              'Restore it from a backup, or use another schema. Nothing was changed.',
          });
        }
      } else if (tables.length > 0) {
        throw new StoreSchemaError({
          path: where,
          foundVersion: undefined,
          supportedVersion: latestPostgresSchemaVersion,
          message:
            `The schema "${schema}" at ${server} is not a taskmachine store (it has the tables ${tables.join(', ')} and no ` +
            'schema_version). Choose another schema with the schema option. Nothing was changed.',
        });
      }
      if (current < latestPostgresSchemaVersion) {
        if (!hasSchema) await client.query(`CREATE SCHEMA ${q}`);
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${q}.schema_version ` +
            '(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), description text NOT NULL)',
        );
        for (const migration of postgresMigrations) {
          if (migration.version <= current) continue;
          await client.query(migration.sql(q));
          await client.query(`INSERT INTO ${q}.schema_version (version, description) VALUES ($1, $2)`, [migration.version, migration.description]);
        }
      }
      await client.query('COMMIT');
    } catch (error) {
      if (!isConnectionError(error)) await rollback(client, broken);
      throw error;
    }
  }

  /** One try at committing a prepared batch in one transaction. */
  async function commitOnce(
    client: PoolClient,
    broken: (error: unknown) => void,
    batch: PreparedBatch,
    batchId: string,
    committing: () => void,
    within: ((db: SqlSession) => Promise<void>) | undefined,
  ): Promise<CommitResult> {
    const { runId } = batch;
    const forget = [...forgettable];
    for (const id of forget) forgettable.delete(id);
    let inTransaction = false;
    try {
      await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      inTransaction = true;
      // 1. Lock the run (creating or replacing it if the batch carries it), reserve its log seqs,
      //    record the batch id, and read (and share-lock) the lease when the batch carries a token.
      //    A duplicate id means an earlier try of this very batch committed.
      let before: number;
      try {
        const n = batch.transitions.length;
        const token = nullable(batch.leaseToken);
        const res =
          batch.runValues !== undefined
            ? await exec(client, sql.upsertRun, [...batch.runValues, n, batchId, forget, token])
            : n > 0
              ? await exec(client, sql.bumpRun, [runId, n, batchId, forget, token])
              : await exec(client, sql.lockRun, [runId, batchId, forget, token]);
        const row = res.rows[0]!;
        checkFence(runId, batch.leaseToken, rowToLease(row));
        if (row['before'] === null || row['before'] === undefined) throw unknownRunError(runId, 'commit the batch');
        before = num(row['before']);
      } catch (error) {
        if (sqlState(error) === '23505' && (error as { constraint?: unknown }).constraint === 'commit_markers_pkey') {
          await client.query('ROLLBACK');
          inTransaction = false;
          for (const id of forget) forgettable.add(id);
          const marker = await exec(client, sql.marker, [batchId]);
          if (marker.rows.length === 0) throw new StoreError(`Batch ${batchId} of run '${runId}' was committed, but its marker is gone.`);
          forgettable.add(batchId);
          return { versions: landedVersions(batch), lastSeq: num(marker.rows[0]!['last_seq']) };
        }
        throw error;
      }

      // 2. Compare-and-set, duplicate results and pending control requests, against what is stored
      //    now (the run is locked).
      const keys = [...new Set([...batch.deletes.map((d) => d.key), ...batch.upserts.map((u) => u.key)])];
      const stored = new Map<string, number>();
      const recorded = new Set<string>();
      const statuses = new Map<number, string>();
      if (keys.length > 0 || batch.results.length > 0 || batch.controls.length > 0) {
        const res = await exec(client, sql.current, [
          runId,
          keys,
          batch.results.map((r) => r.key),
          batch.results.map((r) => r.attempt),
          batch.controls.map((c) => c.id),
        ]);
        for (const row of res.rows) {
          if (row['kind'] === 'v') stored.set(String(row['key']), num(row['n']));
          else if (row['kind'] === 'r') recorded.add(resultId(String(row['key']), num(row['n'])));
          else statuses.set(num(row['n']), String(row['key']));
        }
      }
      // Settled in batch order: a request settled twice in one batch is not pending the second time.
      for (const c of batch.controls) {
        const status = statuses.get(c.id);
        if (status !== 'pending') {
          throw new StoreError(
            `Control request ${c.id} of run '${runId}' is not pending (${status ?? 'no such request'}); nothing of the batch was written.`,
          );
        }
        statuses.set(c.id, c.status);
      }
      const current = new Map(stored);
      const deleted = new Set<string>();
      for (const del of batch.deletes) {
        const actual = current.get(del.key) ?? 0;
        if (actual !== del.expectedVersion) {
          throw new StoreConflictError({ kind: 'version', runId, key: del.key, expectedVersion: del.expectedVersion, actualVersion: actual });
        }
        current.delete(del.key);
        deleted.add(del.key);
      }
      const versions = new Map<string, number>();
      const rows = new Map<string, unknown[]>(); // first-write order, last record
      for (const upsert of batch.upserts) {
        const actual = current.get(upsert.key) ?? 0;
        if (actual !== upsert.expectedVersion) {
          throw new StoreConflictError({ kind: 'version', runId, key: upsert.key, expectedVersion: upsert.expectedVersion, actualVersion: actual });
        }
        current.set(upsert.key, actual + 1);
        versions.set(upsert.key, actual + 1);
        const row = [...upsert.row];
        row[versionIndex] = actual + 1;
        rows.set(upsert.key, row);
      }
      const seen = new Set<string>();
      for (const r of batch.results) {
        const id = resultId(r.key, r.attempt);
        if ((recorded.has(id) && !deleted.has(r.key)) || seen.has(id)) {
          const version = current.get(r.key) ?? 0;
          throw new StoreConflictError({ kind: 'result', runId, key: r.key, attempt: r.attempt, expectedVersion: version, actualVersion: version });
        }
        seen.add(id);
      }

      // 3. Write: the shape and deletions, then every instance, log entry, result, task log line and
      //    settlement in one statement.
      if (batch.shapeText !== undefined) await exec(client, sql.saveShape, [runId, batch.shapeText]);
      if (deleted.size > 0) await exec(client, sql.deleteInstances, [runId, [...deleted]]);
      const has = {
        instances: rows.size > 0,
        transitions: batch.transitions.length > 0,
        results: batch.results.length > 0,
        logs: batch.logs.length > 0,
        controls: batch.controls.length > 0,
      };
      if (has.instances || has.transitions || has.results || has.logs || has.controls) {
        const values: unknown[] = [runId];
        if (has.instances) {
          const list = [...rows.values()];
          for (let c = 0; c < instanceColumns.length; c++) values.push(list.map((row) => row[c]));
        }
        if (has.transitions) {
          const t = batch.transitions;
          values.push(
            t.map((_, i) => before + i + 1),
            t.map((x) => x.key),
            t.map((x) => x.from),
            t.map((x) => x.to),
            t.map((x) => x.event),
            t.map((x) => x.at),
          );
        }
        if (has.results) {
          const r = batch.results;
          values.push(
            r.map((x) => x.key),
            r.map((x) => x.attempt),
            r.map((x) => x.value),
            r.map((x) => x.at),
          );
        }
        if (has.logs) {
          const l = batch.logs;
          values.push(
            l.map((x) => x.key),
            l.map((x) => x.taskId),
            l.map((x) => x.attempt),
            l.map((x) => x.at),
            l.map((x) => x.line),
          );
        }
        if (has.controls) {
          const c = batch.controls;
          values.push(
            c.map((x) => x.id),
            c.map((x) => x.status),
            c.map((x) => x.message),
            c.map((x) => x.at),
          );
        }
        await exec(client, sql.write(has), values);
      }
      if (within !== undefined) await within(client);
      committing();
      await client.query('COMMIT');
      inTransaction = false;
      forgettable.add(batchId);
      return { versions, lastSeq: before + batch.transitions.length };
    } catch (error) {
      for (const id of forget) forgettable.add(id);
      if (inTransaction && !isConnectionError(error)) await rollback(client, broken);
      throw error;
    }
  }

  /** One try at acquiring a lease: the run's lease row locked, the decision `decideLease`'s, in one transaction. */
  async function acquireOnce(client: PoolClient, broken: (error: unknown) => void, request: LeaseRequest): Promise<LeaseGrant> {
    await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
    try {
      for (;;) {
        const current = rowToLease((await exec(client, sql.lockLease, [request.runId])).rows[0] ?? {});
        const grant = decideLease(current, request); // RunOwnedError when another owner's lease is live
        if (current !== undefined) {
          await exec(client, sql.updateLease, leaseRow(grant.lease));
        } else if ((await exec(client, sql.insertLease, leaseRow(grant.lease))).rows.length === 0) {
          continue; // another acquirer inserted the run's first lease meanwhile: lock and decide on it
        }
        await client.query('COMMIT');
        return grant;
      }
    } catch (error) {
      if (!isConnectionError(error)) await rollback(client, broken);
      throw error;
    }
  }

  async function deleteOnce(client: PoolClient, broken: (error: unknown) => void, runId: string): Promise<boolean> {
    await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
    try {
      const existed = (await exec(client, sql.deleteRunRow, [runId])).rows.length > 0;
      await exec(client, sql.deleteRunRest, [runId]);
      await client.query('COMMIT');
      return existed;
    } catch (error) {
      if (!isConnectionError(error)) await rollback(client, broken);
      throw error;
    }
  }

  try {
    await retrying(`open the store (schema "${schema}")`, () => withClient(migrate));
  } catch (error) {
    if (ownsPool) await pool.end().catch(() => {});
    throw error;
  }

  const store: PostgresStore = {
    server,
    schema,
    get pool(): Pool {
      return pool;
    },

    async commit(batch: CommitBatch, within?: (db: SqlSession) => Promise<void>): Promise<CommitResult> {
      open();
      checkBatch(batch);
      checkNoNul(batch);
      // Serialize every value before the transaction: a value that cannot be stored fails first.
      const prepared = prepare(batch);
      const batchId = randomUUID();
      let maybeCommitted = false;
      let since = 0;
      for (let attempt = 1; ; attempt++) {
        let committing = false;
        try {
          return await withClient((client, broken) => commitOnce(client, broken, prepared, batchId, () => (committing = true), within));
        } catch (error) {
          if (committing && isConnectionError(error)) maybeCommitted = true;
          const outcome = maybeCommitted ? 'unknown' : 'not-written';
          const doing = `commit a batch of run '${batch.runId}'`;
          if (closed) throw maybeCommitted ? giveUp(error, attempt, doing, outcome, batchId) : closedError(`PostgreSQL store (${where})`);
          if (attempt === 1) since = Date.now();
          if (!tryAgain(error, attempt, since)) throw giveUp(error, attempt, doing, outcome, batchId);
          await backoff(attempt);
        }
      }
    },

    async getRun(runId: string): Promise<StoredRun | undefined> {
      open();
      if (hasNul(runId)) return undefined;
      return read(`read run '${runId}'`, sql.getRun, [runId], (res) => (res.rows[0] === undefined ? undefined : checkedRun(rowToRun(res.rows[0]), rows)));
    },

    async listRuns(options: ListRunsOptions = {}): Promise<readonly RunSummary[]> {
      open();
      checkListRunsOptions(options);
      if (hasNul(options.flowId) || hasNul(options.state)) return [];
      const limit = options.limit ?? Infinity;
      const values: unknown[] = [limit >= Number.MAX_SAFE_INTEGER ? null : Math.floor(limit)];
      if (options.flowId !== undefined) values.push(options.flowId);
      if (options.state !== undefined) values.push(options.state);
      const st = sql.listRuns({ flowId: options.flowId !== undefined, state: options.state !== undefined });
      return read('list runs', st, values, (res) =>
        res.rows.map((row): RunSummary => {
          const { input: _input, ...run } = checkedRun(rowToRun({ ...row, input: null }), rows);
          const parsed = JSON.parse(String(row['counts'])) as Record<string, unknown>;
          const taskCounts: Partial<Record<TaskInstanceState, number>> = {};
          for (const [state, n] of Object.entries(parsed)) if (isTaskInstanceState(state)) taskCounts[state] = num(n);
          return { ...run, taskCounts, lease: rowToLease(row, 'lease_') };
        }),
      );
    },

    async loadRun(runId: string): Promise<LoadedRun | undefined> {
      open();
      if (hasNul(runId)) return undefined;
      const row = await read(`load run '${runId}'`, sql.loadRun, [runId], (res) => res.rows[0]!);
      if (row['run'] === null || row['run'] === undefined) return undefined;
      return checkedLoadedRun(
        {
          run: rowToRun(JSON.parse(String(row['run'])) as Row),
          instances: (JSON.parse(String(row['instances'])) as Row[]).map(rowToInstance),
          results: (JSON.parse(String(row['results'])) as Row[]).map(
            (r): StoredResult => ({ runId, key: String(r['key']), attempt: num(r['attempt']), value: value(r['value']), at: num(r['at']) }),
          ),
        },
        rows,
      );
    },

    async queryTaskInstances(runId: string, query: TaskInstanceQuery = {}): Promise<TaskInstancePage> {
      open();
      const limit = checkTaskInstanceQuery(query);
      const after = cursorPosition(query.cursor);
      if (hasNul(runId)) return { instances: [], next: undefined };
      const params = [runId, after, query.states ?? null, query.taskId ?? null, query.keyPrefix ?? null, limit + 1];
      const found = await read(`query the task instances of run '${runId}'`, sql.queryInstances, params, (res) => JSON.parse(String(res.rows[0]!['instances'])) as Row[]);
      const more = found.length > limit;
      const pageRows = more ? found.slice(0, limit) : found;
      const instances = checkedInstances(runId, pageRows.map(rowToInstance), rows);
      let results: Map<string, unknown> | undefined;
      if (query.withResults === true) {
        results = new Map();
        const keys = instances.filter((i) => i.state === 'success').map((i) => i.key);
        if (keys.length > 0) {
          const resultRows = await read(`read results of run '${runId}'`, sql.pageResults, [runId, keys], (res) => res.rows);
          for (const row of resultRows) results.set(String(row['key']), value(row['value']));
        }
      }
      return { instances, ...(results === undefined ? {} : { results }), next: more ? String(num(pageRows.at(-1)!['write_order'])) : undefined };
    },

    async countTaskInstances(runId: string): Promise<TaskInstanceCounts> {
      open();
      if (hasNul(runId)) return countsFromRows([]);
      return read(`count the task instances of run '${runId}'`, sql.countInstances, [runId], (res) =>
        countsFromRows(res.rows.map((row) => ({ taskId: String(row['task_id']), state: String(row['state']), n: num(row['n']) }))),
      );
    },

    async readTransitionLog(runId: string, options: ReadTransitionLogOptions = {}): Promise<readonly StoredTransition[]> {
      open();
      // seq is an integer: seq > x exactly when seq > floor(x); nothing is after NaN or Infinity.
      const afterSeq = options.afterSeq ?? 0;
      if (hasNul(runId) || Number.isNaN(afterSeq) || afterSeq >= Number.MAX_SAFE_INTEGER) return [];
      return read(`read the transition log of run '${runId}'`, sql.readLog, [runId, Math.max(-1, Math.floor(afterSeq))], (res) =>
        res.rows.map(
          (row): StoredTransition => ({
            runId,
            key: String(row['key']),
            seq: num(row['seq']),
            from: row['from_state'] as TaskInstanceState,
            to: row['to_state'] as TaskInstanceState,
            event: row['event'] as TaskInstanceEventType,
            at: num(row['at']),
          }),
        ),
      );
    },

    async getRunShape(runId: string): Promise<FlowShape | undefined> {
      open();
      if (hasNul(runId)) return undefined;
      const row = await read(`read the shape of run '${runId}'`, sql.getShape, [runId], (res) => res.rows[0]);
      return row === undefined ? undefined : decodeShape(row['shape'], runId, rows);
    },

    async readTaskLogs(runId: string, query: TaskLogQuery = {}): Promise<readonly StoredTaskLogLine[]> {
      open();
      const { limit, afterSeq } = checkTaskLogQuery(query);
      if (hasNul(runId) || hasNul(query.key) || hasNul(query.taskId) || afterSeq >= Number.MAX_SAFE_INTEGER) return [];
      const values = [runId, Math.max(-1, afterSeq), query.key ?? null, query.taskId ?? null, query.attempt ?? null, limit === Infinity ? null : limit];
      return read(`read the task log of run '${runId}'`, sql.readLogs, values, (res) =>
        res.rows.map((row) => ({
          runId,
          seq: num(row['seq']),
          key: String(row['key']),
          taskId: String(row['task_id']),
          attempt: num(row['attempt']),
          at: num(row['at']),
          line: String(row['line']),
        })),
      );
    },

    async saveCheckpoint(checkpoint: CheckpointWrite): Promise<void> {
      open();
      checkCheckpoint(checkpoint);
      if (hasNul(checkpoint.runId) || hasNul(checkpoint.key)) throw nulError(`checkpoint ${JSON.stringify(checkpoint.key)} of run ${JSON.stringify(checkpoint.runId)}`);
      const valueText = text(checkpoint.value);
      // One statement (its own transaction), fenced like a commit; repeating it after a lost
      // connection is harmless.
      const row = await read(
        `save the checkpoint of '${checkpoint.key}' in run '${checkpoint.runId}'`,
        sql.saveCheckpoint,
        [checkpoint.runId, checkpoint.key, valueText, checkpoint.savedAt, nullable(checkpoint.leaseToken)],
        (res) => res.rows[0]!,
      );
      checkFence(checkpoint.runId, checkpoint.leaseToken, rowToLease(row));
      if (num(row['run_exists']) === 0) throw unknownRunError(checkpoint.runId, `save the checkpoint of '${checkpoint.key}'`);
    },

    async loadCheckpoint(runId: string, key: string): Promise<StoredCheckpoint | undefined> {
      open();
      if (hasNul(runId) || hasNul(key)) return undefined;
      return read(`load the checkpoint of '${key}' in run '${runId}'`, sql.loadCheckpoint, [runId, key], (res) => {
        const row = res.rows[0];
        return row === undefined ? undefined : { runId, key, value: value(row['value']), savedAt: num(row['saved_at']) };
      });
    },

    async deleteRun(runId: string): Promise<boolean> {
      open();
      if (hasNul(runId)) return false;
      return retrying(`delete run '${runId}'`, () => withClient((client, broken) => deleteOnce(client, broken, runId)));
    },

    async acquireLease(request: LeaseRequest): Promise<LeaseGrant> {
      open();
      checkLeaseRequest(request);
      const { runId, owner } = request;
      if (hasNul(runId) || hasNul(owner.ownerId) || hasNul(owner.host)) throw nulError(`the lease request for run ${JSON.stringify(runId)}`);
      // A retry after a lost COMMIT finds this owner's own lease and keeps it (same token).
      return retrying(`acquire the lease of run '${runId}'`, () => withClient((client, broken) => acquireOnce(client, broken, request)));
    },

    async renewLease(lease: StoredLease, now: number, ttlMs: number): Promise<StoredLease> {
      open();
      const { runId, token } = lease;
      const lost = (current: StoredLease | undefined) => new LeaseLostError({ runId, token, current });
      if (hasNul(runId) || !Number.isSafeInteger(token)) throw lost(undefined);
      const renewed = await read(`renew the lease of run '${runId}'`, sql.renewLease, [runId, token, now, now + ttlMs], (res) =>
        res.rows[0] === undefined ? undefined : rowToLease(res.rows[0]),
      );
      if (renewed !== undefined) return renewed;
      throw lost(await read(`read the lease of run '${runId}'`, sql.getLease, [runId], (res) => rowToLease(res.rows[0] ?? {})));
    },

    async releaseLease(lease: StoredLease, now: number): Promise<void> {
      open();
      if (hasNul(lease.runId) || !Number.isSafeInteger(lease.token)) return;
      await read(`release the lease of run '${lease.runId}'`, sql.releaseLease, [lease.runId, lease.token, now], () => undefined);
    },

    async getLease(runId: string): Promise<StoredLease | undefined> {
      open();
      if (hasNul(runId)) return undefined;
      return read(`read the lease of run '${runId}'`, sql.getLease, [runId], (res) => rowToLease(res.rows[0] ?? {}));
    },

    async requestControl(request: ControlRequestWrite): Promise<StoredControlRequest> {
      open();
      checkControlRequest(request);
      const { runId, action } = request;
      if ([runId, request.taskKey, request.state, request.requestedBy].some(hasNul)) {
        throw nulError(`the control request '${action}' for run ${JSON.stringify(runId)}`);
      }
      const payloadText = text(request.payload);
      // The key makes the insert idempotent: a retry after a lost reply returns the stored request.
      const requestKey = randomUUID();
      const doing = `store a control request (${action}) for run '${runId}'`;
      const values = [runId, action, nullable(request.taskKey), nullable(request.state), payloadText, request.requestedAt, nullable(request.requestedBy), requestKey];
      let row = await read(doing, sql.insertControl, values, (res) => res.rows[0]);
      // A first try still committing when its retry ran is visible only to a later statement.
      row ??= await read(doing, sql.controlByKey, [runId, requestKey], (res) => res.rows[0]);
      if (row === undefined) throw unknownRunError(runId, `store a control request (${action})`);
      return rowToControl(row);
    },

    async pendingControls(runId: string): Promise<readonly StoredControlRequest[]> {
      open();
      if (hasNul(runId)) return [];
      return read(`read the pending control requests of run '${runId}'`, sql.pendingControls, [runId], (res) => res.rows.map(rowToControl));
    },

    async getControl(runId: string, id: number): Promise<StoredControlRequest | undefined> {
      open();
      if (hasNul(runId) || !Number.isSafeInteger(id)) return undefined;
      return read(`read control request ${id} of run '${runId}'`, sql.getControl, [runId, id], (res) =>
        res.rows[0] === undefined ? undefined : rowToControl(res.rows[0]),
      );
    },

    async readResults(runId: string, ids: ReadonlyArray<{ readonly key: string; readonly attempt: number }>): Promise<StoredResultRead[]> {
      open();
      const wanted = ids.filter((id) => !hasNul(id.key));
      if (hasNul(runId) || wanted.length === 0) return [];
      const values = [runId, wanted.map((id) => id.key), wanted.map((id) => id.attempt)];
      return read(`read results of run '${runId}'`, sql.readResults, values, (res) =>
        res.rows.map((row) => ({ key: String(row['key']), attempt: num(row['attempt']), value: value(row['value']), chars: num(row['chars']) })),
      );
    },

    async transaction<T>(doing: string, work: (db: SqlSession) => Promise<T>): Promise<T> {
      open();
      return retrying(doing, () =>
        withClient(async (client, broken) => {
          await client.query('BEGIN');
          try {
            const out = await work(client);
            await client.query('COMMIT');
            return out;
          } catch (error) {
            if (!isConnectionError(error)) await rollback(client, broken);
            throw error;
          }
        }),
      );
    },

    async schemaVersion(): Promise<number> {
      open();
      return read('read the schema version', sql.schemaVersion, [], (res) => num(res.rows[0]!['version']));
    },

    async wasCommitted(batchId: string): Promise<boolean> {
      open();
      if (typeof batchId !== 'string' || !uuidPattern.test(batchId)) {
        throw new StoreError(`wasCommitted: batchId must be the UUID a StoreConnectionError reported, got ${JSON.stringify(batchId)}.`);
      }
      return read('look up a batch', sql.wasCommitted, [batchId], (res) => res.rows.length > 0);
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const forget = [...forgettable];
      forgettable.clear();
      // Best effort: a marker left behind is one small row, removed with its run.
      if (forget.length > 0) await exec(pool, sql.forget, [forget]).catch(() => {});
      if (ownsPool) await pool.end();
    },
  };
  // Logging the store shows where it is, never the pool's settings.
  Object.defineProperty(store, inspect.custom, {
    value: () => `PostgresStore { server: '${server}', schema: '${schema}'${closed ? ', closed' : ''} }`,
  });
  return store;
}
