// The options of the PostgreSQL store: their defaults and checks, and the pool they make. The
// connection string and password are secrets: they never reach an error or a log, so the server is
// named as host:port/database and the secrets to redact are collected here.
import type { Pool, PoolConfig } from 'pg';
import { StoreError } from '../errors.ts';

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
   * `StoreConnectionError` — at least; see `reconnectForMs`. Opening the store (its first
   * connection, the migrations) is tried this many more times only: no server at the address, a
   * host name that does not resolve, fail within about a second.
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
   * of failing the run. `0`: only `connectionRetries` count. Not when opening the store: a server
   * that cannot be reached then is refused after `connectionRetries` (a `StoreConnectionError`
   * saying to check the host and port), not waited for.
   * @default 30000 (the default lease time to live of a run)
   */
  readonly reconnectForMs?: number;
}

// What a store's own pool starts from; the `@default` of `poolOptions` above says the same.
const poolDefaults: PoolConfig = {
  max: 10,
  connectionTimeoutMillis: 10_000,
  idleTimeoutMillis: 10_000,
  keepAlive: true,
  idle_in_transaction_session_timeout: 60_000,
  application_name: 'taskmachine',
};

const optionNames: ReadonlySet<string> = new Set(['connectionString', 'pool', 'poolOptions', 'schema', 'connectionRetries', 'retryDelayMs', 'reconnectForMs']);
const schemaPattern = /^[a-z_][a-z0-9_]{0,62}$/;

/** The options, checked (a StoreError names the first wrong one, never a secret), with their defaults. */
export function checkOptions(options: PostgresStoreOptions): { schema: string; retries: number; retryDelayMs: number; reconnectForMs: number } {
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

/** node-postgres, loaded only when a store is opened. */
export type PgModule = typeof import('pg');

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
 * The pool a store runs on (the one given, or its own over `poolDefaults`), the server errors name
 * and the secrets they must not show. Never connects.
 */
export function poolOf(pg: PgModule, options: PostgresStoreOptions): { pool: Pool; ownsPool: boolean; server: string; secrets: string[] } {
  if (options.pool !== undefined) return { pool: options.pool, ownsPool: false, ...describeServer(pg, options.pool.options as PoolConfig) };
  const config: PoolConfig = {
    ...poolDefaults,
    ...options.poolOptions,
    ...(options.connectionString === undefined ? {} : { connectionString: options.connectionString }),
  };
  const described = describeServer(pg, config);
  const pool = new pg.Pool(config);
  // node-postgres hides the password from inspection but not the connection string: hide it too,
  // so logging the pool (or the store) never prints it. The pool still reads it.
  if (typeof pool.options.connectionString === 'string') {
    Object.defineProperty(pool.options, 'connectionString', { enumerable: false, value: pool.options.connectionString, writable: true, configurable: true });
  }
  // An idle connection that breaks (server restart, idle timeout, pg_terminate_backend) is already
  // dropped by the pool; the next checkout opens a fresh one. Without a listener it would crash
  // the process.
  pool.on('error', () => {});
  return { pool, ownsPool: true, ...described };
}
