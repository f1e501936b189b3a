/**
 * Base class of every error a store throws, so callers can tell storage problems apart from task
 * errors.
 *
 * @example
 * ```ts
 * import { StoreError } from 'taskmachine/stores';
 * try { await store.commit(batch); } catch (error) { if (error instanceof StoreError) console.error(error.message); }
 * ```
 */
export class StoreError extends Error {
  override name = 'StoreError';
}

/**
 * A batch was rejected by compare-and-set: a task instance's stored version is not the one the
 * writer expected (someone else changed it, or the writer's copy is stale), or a result record for
 * the same attempt already exists. Nothing of the batch was written.
 *
 * @example
 * ```ts
 * import { StoreConflictError } from 'taskmachine/stores';
 * try {
 *   await store.commit(batch);
 * } catch (error) {
 *   if (error instanceof StoreConflictError) console.log(error.key, error.expectedVersion, error.actualVersion);
 * }
 * ```
 */
export class StoreConflictError extends StoreError {
  override name = 'StoreConflictError';
  /** `version`: a compare-and-set mismatch; `result`: the attempt's result was already recorded. */
  readonly kind: 'version' | 'result';
  /** The run. */
  readonly runId: string;
  /** The task-instance key. */
  readonly key: string;
  /** The version the writer expected (`0`: must not exist). For `kind: 'result'`, the stored version. */
  readonly expectedVersion: number;
  /** The version found in the store (`0`: there is no such instance). */
  readonly actualVersion: number;
  /** For `kind: 'result'`: the attempt whose result was already recorded. */
  readonly attempt: number | undefined;

  constructor(options: {
    kind: 'version' | 'result';
    runId: string;
    key: string;
    expectedVersion: number;
    actualVersion: number;
    attempt?: number;
  }) {
    const { kind, runId, key, expectedVersion, actualVersion, attempt } = options;
    const what =
      kind === 'result'
        ? `the result of attempt ${attempt} of task instance '${key}' in run '${runId}' is already recorded`
        : `task instance '${key}' in run '${runId}' is at version ${actualVersion}` +
          (actualVersion === 0 ? ' (it does not exist)' : '') +
          `, but the write expected version ${expectedVersion}` +
          (expectedVersion === 0 ? ' (a new instance)' : '');
    super(
      `Store conflict: ${what}. Nothing of the batch was written. Another process may be driving ` +
        `this run, or the runtime's copy is stale: reload the run (store.loadRun) before writing again.`,
    );
    this.kind = kind;
    this.runId = runId;
    this.key = key;
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
    this.attempt = attempt;
  }
}

/**
 * The store's file (SQLite) or schema (PostgreSQL) has a schema this code cannot use: written by a
 * newer taskmachine, or not a taskmachine store at all. Thrown on open, before anything was
 * written: the file or schema is unchanged.
 *
 * @example
 * ```ts
 * import { sqliteStore, StoreSchemaError } from 'taskmachine/stores';
 * try { sqliteStore({ path }); } catch (error) { if (error instanceof StoreSchemaError) console.error(error.message); }
 * ```
 */
export class StoreSchemaError extends StoreError {
  override name = 'StoreSchemaError';
  /**
   * The file (SQLite), or for PostgreSQL the server and schema as `host:port/database schema "name"`
   * (never the user or password).
   */
  readonly path: string;
  /** The schema version found (`undefined` when the file is not a taskmachine store). */
  readonly foundVersion: number | undefined;
  /** The newest schema version this code knows. */
  readonly supportedVersion: number;

  constructor(options: { path: string; foundVersion: number | undefined; supportedVersion: number; message: string }) {
    super(options.message);
    this.path = options.path;
    this.foundVersion = options.foundVersion;
    this.supportedVersion = options.supportedVersion;
  }
}

/**
 * The store's file is not a SQLite database or is damaged. When thrown on open, nothing was
 * written: the file is unchanged (move it away or restore a backup).
 *
 * @example
 * ```ts
 * import { sqliteStore, StoreCorruptError } from 'taskmachine/stores';
 * try { sqliteStore({ path }); } catch (error) { if (error instanceof StoreCorruptError) console.error(error.message); }
 * ```
 */
export class StoreCorruptError extends StoreError {
  override name = 'StoreCorruptError';
  /** The file. */
  readonly path: string;

  constructor(options: { path: string; message: string; cause?: unknown }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.path = options.path;
  }
}

/**
 * The store's file cannot be opened: its directory cannot be created, or SQLite may not create or
 * write the file (a read-only directory or file, a path under a file, a file system that refuses
 * it). The message names the file, the reason and the fix; nothing was written.
 *
 * @example
 * ```ts
 * import { sqliteStore, StoreOpenError } from 'taskmachine/stores';
 * try { sqliteStore({ path }); } catch (error) { if (error instanceof StoreOpenError) console.error(error.path, error.message); }
 * ```
 */
export class StoreOpenError extends StoreError {
  override name = 'StoreOpenError';
  /** The file. */
  readonly path: string;

  constructor(options: { path: string; message: string; cause?: unknown }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.path = options.path;
  }
}

/**
 * The tables a {@link StoreRowError} can name (`run_shapes` is the SQLite store's; PostgreSQL keeps
 * a run's shape in `runs.shape`).
 *
 * @example
 * ```ts
 * const table: StoredRowTable = 'task_instances';
 * ```
 */
export type StoredRowTable = 'runs' | 'run_shapes' | 'task_instances' | 'results';

/**
 * A stored row does not decode into a valid record — an unknown state, an impossible attempt
 * number, a task id the run's task list does not have, a column of the wrong type — because the
 * store was changed by hand or by another program, or is damaged. The row is refused, never used:
 * the read that met it rejects and nothing is written. Names the row (table, run id, task-instance
 * key), the column and the value found.
 *
 * @example
 * ```ts
 * import { StoreRowError } from 'taskmachine/stores';
 * try {
 *   await store.loadRun('nightly');
 * } catch (error) {
 *   if (error instanceof StoreRowError) console.error(error.table, error.runId, error.key, error.column, error.value);
 * }
 * ```
 */
export class StoreRowError extends StoreError {
  override name = 'StoreRowError';
  /** The table of the row: `runs`, `run_shapes` (SQLite), `task_instances` or `results`. */
  readonly table: StoredRowTable;
  /** The run the row belongs to. */
  readonly runId: string;
  /** The task-instance key (`undefined` for a `runs` row). */
  readonly key: string | undefined;
  /** The column whose value is invalid, as named in the SQLite and PostgreSQL tables (`state`, `attempt`, `task_id`, …). */
  readonly column: string;
  /** The value found (as decoded). */
  readonly value: unknown;

  constructor(options: {
    table: StoredRowTable;
    runId: string;
    key?: string | undefined;
    column: string;
    value: unknown;
    message: string;
  }) {
    super(options.message);
    this.table = options.table;
    this.runId = options.runId;
    this.key = options.key;
    this.column = options.column;
    this.value = options.value;
  }
}

/**
 * A value cannot be stored (a function, a symbol, a key the serializer refuses), or a stored
 * payload is unsafe or unreadable (it carries `__proto__`, `constructor` or `prototype` keys, or is not valid). On
 * write nothing was stored; on read nothing was changed.
 *
 * @example
 * ```ts
 * import { serializeValue, StoreSerializationError } from 'taskmachine/stores';
 * try { serializeValue({ f() {} }); } catch (error) { if (error instanceof StoreSerializationError) console.log(error.path); }
 * ```
 */
export class StoreSerializationError extends StoreError {
  override name = 'StoreSerializationError';
  /** Where in the value the problem is (`$` is the root, e.g. `$.user.__proto__`). */
  readonly path: string;
  /** The problem in a few words, without the path (e.g. `a function cannot be stored`). */
  readonly problem: string;
  /** What to do instead, when it is not "hand over plain data" (a value too large to store). */
  readonly fix?: string;

  constructor(options: { path: string; message: string; problem?: string; fix?: string; cause?: unknown }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.path = options.path;
    this.problem = options.problem ?? options.message;
    if (options.fix !== undefined) this.fix = options.fix;
  }
}

/**
 * A write carried a lease token that is no longer the run's: another process took the run over
 * (its lease had expired), or the lease was released. Nothing of the write was stored; the writer
 * must stop driving the run.
 *
 * @example
 * ```ts
 * import { LeaseLostError } from 'taskmachine/stores';
 * try { await store.commit({ ...batch, leaseToken }); } catch (error) { if (error instanceof LeaseLostError) stopDriving(); }
 * ```
 */
export class LeaseLostError extends StoreError {
  override name = 'LeaseLostError';
  readonly runId: string;
  /** The token the writer held. */
  readonly token: number;
  /** The run's current lease token (`undefined`: no lease is held). */
  readonly currentToken: number | undefined;

  constructor(options: { runId: string; token: number; current: { token: number; owner: { host: string; pid: number }; releasedAt: number | undefined } | undefined }) {
    const { runId, token, current } = options;
    const now =
      current === undefined || current.releasedAt !== undefined
        ? 'no process holds it now'
        : `it is held by pid ${current.owner.pid} on ${current.owner.host} with token ${current.token}`;
    super(
      `Lease lost: this process held run '${runId}' with lease token ${token}, but ${now}. Nothing was written; ` +
        'this process stops driving the run (another process took it over after its lease expired).',
    );
    this.runId = runId;
    this.token = token;
    this.currentToken = current?.releasedAt === undefined ? current?.token : undefined;
  }
}

/**
 * A networked store (PostgreSQL) could not reach its server, or lost the connection and could not
 * get it back within its retries. The message names the server as `host:port/database` only (never
 * the user or the password).
 *
 * `outcome` says what happened to a write:
 * - `not-written`: nothing of it was written (the connection broke before it could commit, or it
 *   was a read).
 * - `unknown`: the connection broke while the server was committing it. It was either committed
 *   once or not at all — never twice, never in part. Once the server is reachable again,
 *   `wasCommitted(batchId)` tells which (or reload the run with `loadRun` before writing again).
 *
 * @example
 * ```ts
 * import { StoreConnectionError } from 'taskmachine/stores';
 * try {
 *   await store.commit(batch);
 * } catch (error) {
 *   if (error instanceof StoreConnectionError && error.outcome === 'unknown') {
 *     const landed = await store.wasCommitted(error.batchId!); // after the server is back
 *   }
 * }
 * ```
 */
export class StoreConnectionError extends StoreError {
  override name = 'StoreConnectionError';
  /** The server, as `host:port/database`. */
  readonly server: string;
  /** What happened to the write (see the class description); `not-written` for reads. */
  readonly outcome: 'not-written' | 'unknown';
  /** For a commit: the batch's id (see `PostgresStore.wasCommitted`). */
  readonly batchId: string | undefined;

  constructor(options: { server: string; outcome: 'not-written' | 'unknown'; batchId?: string; message: string; cause?: unknown }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.server = options.server;
    this.outcome = options.outcome;
    this.batchId = options.batchId;
  }
}
