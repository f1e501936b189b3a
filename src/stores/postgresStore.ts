// The PostgreSQL store: its public types and postgresStore(), whose methods implement the Store
// contract. It stays over 400 lines because the public types keep their TSDoc here and the ~25
// methods share one closure (pool, statements, closed flag, commit markers); each is argument
// checks and a statement or two. The rest is in postgres/: options.ts (options, pool, secrets),
// rows.ts (rows <-> records), retries.ts (connections and retries), commitBatch.ts (the commit
// transaction), migrations.ts (the schema and migrate), sql.ts (the statements), connection.ts
// (which errors are transient, and reporting them without secrets).
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import type { Pool, PoolClient, QueryResult } from 'pg';
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
import { checkedCountState, checkedInstances, checkedLoadedRun, checkedRun, type RowSource } from './rowChecks.ts';
import { checkNoNul, commitPrepared, prepare } from './postgres/commitBatch.ts';
import { migrate } from './postgres/migrations.ts';
import { checkOptions, poolOf, type PgModule, type PostgresStoreOptions } from './postgres/options.ts';
import { inTransaction, retrier } from './postgres/retries.ts';
import {
  hasNul,
  leaseRow,
  nullable,
  nulError,
  num,
  rowToControl,
  rowToInstance,
  rowToLease,
  rowToLogLine,
  rowToResult,
  rowToRun,
  rowToSummary,
  rowToTransition,
  text,
  value,
} from './postgres/rows.ts';
import { exec, statements, type Row, type Statement } from './postgres/sql.ts';
import type { FlowShape } from '../flow/flowShape.ts';
import { checkTaskLogQuery, decodeShape } from './shapeAndLogChecks.ts';
import type { StoredTaskLogLine, TaskLogQuery } from './taskLogRecord.ts';
import { checkTaskInstanceQuery, countsFromRows, cursorPosition, type TaskInstanceCounts, type TaskInstancePage, type TaskInstanceQuery } from './instanceQueries.ts';

export { defaultPostgresSchema, type PostgresStoreOptions } from './postgres/options.ts';

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

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A {@link Store} on PostgreSQL through node-postgres (`pg`), the driver pg-boss 12 is built on, so
 * a job can be enqueued in the same transaction as a state change.
 *
 * - **Opening** connects, takes a transaction-scoped advisory lock for the schema, applies pending
 *   migrations in that one transaction (so concurrent openers migrate exactly once), and refuses a
 *   schema written by a newer taskmachine — or one holding other tables — with `StoreSchemaError`,
 *   changing nothing. A server it cannot reach fails the opening after `connectionRetries`
 *   (`StoreConnectionError`, naming the host and port to check), not after `reconnectForMs`.
 * - **Group commit**: one transaction per `commit(batch)` in at most five round trips whatever its
 *   size (BEGIN; lock the run, record the batch's id and read its lease; read the versions and
 *   control requests it checks; one statement writing every instance, log entry, result and
 *   control settlement — instances and transitions as one `jsonb` parameter each, the rest through
 *   `unnest`; COMMIT). Only a batch whose instance or transition rows pass 32 Mi characters of
 *   JSON (jsonb holds 256 MB) takes one more statement per part. The run's row lock serializes
 *   writers of one run; the lease check (`leaseToken`), compare-and-set, duplicate results and
 *   pending control requests are checked before anything is written, exactly as SQLite does.
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
  const { pool, ownsPool, server, secrets } = poolOf(pg, options);
  const q = `"${schema}"`;
  const where = `${server} schema "${schema}"`;
  const rows: RowSource = { store: `PostgreSQL at ${where}` };
  const sql = statements(q);

  let closed = false;
  const isClosed = (): boolean => closed;
  const retry = retrier({ pool, server, secrets, where, retries, retryDelayMs, reconnectForMs, isClosed });
  const { withClient, retrying } = retry;
  /** Ids of committed batches whose writers know the outcome: their markers can go. */
  const forgettable = new Set<string>();
  const committer = { sql, forgettable, retrier: retry, isClosed, where };

  const open = (): void => {
    if (closed) throw closedError(`PostgreSQL store (${where})`);
  };

  const read = <T>(doing: string, st: Statement, values: unknown[], map: (result: QueryResult<Row>) => T): Promise<T> =>
    retrying(doing, async () => map(await exec(pool, st, values)));

  /** One try at acquiring a lease: the run's lease row locked, the decision `decideLease`'s, in one transaction. */
  const acquireOnce = (client: PoolClient, broken: (error: unknown) => void, request: LeaseRequest): Promise<LeaseGrant> =>
    inTransaction(client, broken, 'BEGIN ISOLATION LEVEL READ COMMITTED', async () => {
      for (;;) {
        const current = rowToLease((await exec(client, sql.lockLease, [request.runId])).rows[0] ?? {});
        const grant = decideLease(current, request); // RunOwnedError when another owner's lease is live
        if (current !== undefined) {
          await exec(client, sql.updateLease, leaseRow(grant.lease));
        } else if ((await exec(client, sql.insertLease, leaseRow(grant.lease))).rows.length === 0) {
          continue; // another acquirer inserted the run's first lease meanwhile: lock and decide on it
        }
        return grant;
      }
    });

  const deleteOnce = (client: PoolClient, broken: (error: unknown) => void, runId: string): Promise<boolean> =>
    inTransaction(client, broken, 'BEGIN ISOLATION LEVEL READ COMMITTED', async () => {
      const existed = (await exec(client, sql.deleteRunRow, [runId])).rows.length > 0;
      await exec(client, sql.deleteRunRest, [runId]);
      return existed;
    });

  try {
    await retrying(`open the store (schema "${schema}")`, () => withClient((client, broken) => migrate(client, broken, { schema, q, server, where })), { opening: true });
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
      return commitPrepared(committer, prepare(batch), within);
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
      return read('list runs', st, values, (res) => res.rows.map((row) => rowToSummary(row, rows)));
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
          results: (JSON.parse(String(row['results'])) as Row[]).map((r) => rowToResult(runId, r)),
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
          for (const row of resultRows) results.set(String(row['key']), value(row['value'], `the result record of '${String(row['key'])}' in run '${runId}' (table results), column value`));
        }
      }
      return { instances, ...(results === undefined ? {} : { results }), next: more ? String(num(pageRows.at(-1)!['write_order'])) : undefined };
    },

    async countTaskInstances(runId: string): Promise<TaskInstanceCounts> {
      open();
      if (hasNul(runId)) return countsFromRows([], (_, state) => state as never);
      return read(`count the task instances of run '${runId}'`, sql.countInstances, [runId], (res) =>
        countsFromRows(
          res.rows.map((row) => ({ taskId: String(row['task_id']), state: String(row['state']), n: num(row['n']) })),
          (taskId, state) => checkedCountState(rows, runId, taskId, state),
        ),
      );
    },

    async readTransitionLog(runId: string, options: ReadTransitionLogOptions = {}): Promise<readonly StoredTransition[]> {
      open();
      // seq is an integer: seq > x exactly when seq > floor(x); nothing is after NaN or Infinity.
      const afterSeq = options.afterSeq ?? 0;
      if (hasNul(runId) || Number.isNaN(afterSeq) || afterSeq >= Number.MAX_SAFE_INTEGER) return [];
      return read(`read the transition log of run '${runId}'`, sql.readLog, [runId, Math.max(-1, Math.floor(afterSeq))], (res) =>
        res.rows.map((row) => rowToTransition(runId, row)),
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
      return read(`read the task log of run '${runId}'`, sql.readLogs, values, (res) => res.rows.map((row) => rowToLogLine(runId, row)));
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
        return row === undefined ? undefined : { runId, key, value: value(row['value'], `the checkpoint of '${key}' in run '${runId}' (table checkpoints), column value`), savedAt: num(row['saved_at']) };
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
        res.rows.map((row) => ({ key: String(row['key']), attempt: num(row['attempt']), value: value(row['value'], `the result record of '${String(row['key'])}' in run '${runId}' (table results), column value`), chars: num(row['chars']) })),
      );
    },

    async transaction<T>(doing: string, work: (db: SqlSession) => Promise<T>): Promise<T> {
      open();
      return retrying(doing, () => withClient((client, broken) => inTransaction(client, broken, 'BEGIN', () => work(client))));
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
