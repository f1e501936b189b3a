// The statements of the PostgreSQL store, built once per store for its schema. Every statement is
// schema-qualified (no search_path dependence) and sent as a named prepared statement, so each
// connection parses and plans it once.
import { createHash } from 'node:crypto';
import type { Pool, PoolClient, QueryResult } from 'pg';

/** A named prepared statement. */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

/** Names derive from the text, so stores on different schemas can share a pool (and a connection). */
export function statement(text: string): Statement {
  return { name: `taskmachine_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`, text };
}

/** A row as node-postgres returns it. */
export type Row = Record<string, unknown>;

/** Sends `st` as the named prepared statement it is (on the pool: any free connection). */
export const exec = (client: Pool | PoolClient, st: Statement, values: unknown[]): Promise<QueryResult<Row>> =>
  client.query<Row>({ name: st.name, text: st.text, values });

/** Task-instance columns in the order of `instanceRow` (run_id excluded), with their array types. */
export const instanceColumns = [
  ['key', 'text'],
  ['task_id', 'text'],
  ['map_index', 'bigint'],
  ['parent_key', 'text'],
  ['call_input', 'text'],
  ['custom_context', 'text'],
  ['state', 'text'],
  ['attempt', 'bigint'],
  ['max_attempts', 'bigint'],
  ['retries', 'bigint'],
  ['manually_set_from', 'text'],
  ['defer_timed_out', 'boolean'],
  ['version', 'bigint'],
  ['machine_version', 'text'],
  ['created_at', 'float8'],
  ['updated_at', 'float8'],
  ['started_at', 'float8'],
  ['ended_at', 'float8'],
  ['failure_kind', 'text'],
  ['error', 'text'],
  ['parked', 'boolean'],
  ['waiting_for_event', 'boolean'],
  ['timer_deadline', 'float8'],
  ['timer_action', 'text'],
  ['resume_data', 'text'],
  ['event_payload', 'text'],
  ['interruptions', 'bigint'],
  ['max_interruptions', 'bigint'],
] as const;

/** Transition-log columns in the order of a transition row of the batch write. */
export const transitionColumns = [
  ['seq', 'bigint'],
  ['key', 'text'],
  ['from_state', 'text'],
  ['to_state', 'text'],
  ['event', 'text'],
  ['at', 'float8'],
] as const;

/** Position of `version` in an instance row (set once the batch's versions are known). */
export const versionIndex: number = instanceColumns.findIndex(([c]) => c === 'version');

/** Run columns in the order of `runColumnValues` (rowChecks.ts), with their types. */
export const runColumns = [
  ['run_id', 'text'],
  ['flow_id', 'text'],
  ['input_fingerprint', 'text'],
  ['state', 'text'],
  ['reason', 'text'],
  ['input', 'text'],
  ['labels', 'text'],
  ['task_ids', 'text'],
  ['flow_hash', 'text'],
  ['machine_version', 'text'],
  ['created_at', 'float8'],
  ['updated_at', 'float8'],
  ['started_at', 'float8'],
  ['ended_at', 'float8'],
] as const;

/** Lease columns, in the order `rowToLease` reads them and the lease statements write them. */
export const leaseColumns = ['run_id', 'owner_id', 'host', 'pid', 'token', 'acquired_at', 'heartbeat_at', 'expires_at', 'released_at'] as const;

/** Control-request columns every read returns. */
export const controlColumns = [
  'id',
  'run_id',
  'action',
  'task_key',
  'state',
  'payload',
  'requested_at',
  'requested_by',
  'status',
  'message',
  'settled_at',
] as const;

const names = (columns: ReadonlyArray<readonly [string, string]>): string => columns.map(([c]) => c).join(', ');

/** Every statement of a store on schema `q` (a quoted identifier). */
export function statements(q: string) {
  const runNames = names(runColumns);
  const instanceNames = names(instanceColumns);
  const runValues = runColumns.map(([, type], i) => `$${i + 1}::${type}`).join(', ');
  const runUpdate = runColumns
    .filter(([c]) => c !== 'run_id')
    .map(([c]) => `${c} = excluded.${c}`)
    .join(', ');
  const n = runColumns.length;
  const leaseNames = leaseColumns.join(', ');
  const controlNames = controlColumns.join(', ');

  /**
   * The fencing read of a write: the run's lease, row-locked FOR SHARE (a takeover, which updates
   * the row, waits for the write to commit, and the write sees a takeover that committed first), or
   * no row when the write carries no token (parameter \`token\` is null: nothing is read or locked).
   */
  const fence = (run: number, token: number): string =>
    `l AS (SELECT ${leaseNames} FROM ${q}.leases WHERE run_id = $${run}::text AND $${token}::bigint IS NOT NULL FOR SHARE)`;
  /** The lock statements' answer: one row whether or not the run exists (before is null when not), with the lease. */
  const lockAnswer = `SELECT r.before, ${leaseColumns.map((c) => `l.${c}`).join(', ')} FROM (SELECT 1) AS one LEFT JOIN r ON true LEFT JOIN l ON true`;

  /** The forget-list and marker CTEs, given the parameter numbers of batch id, run id, forget list. */
  const markers = (batch: number, run: number, forget: number, before: string): string =>
    `m AS (INSERT INTO ${q}.commit_markers (batch_id, run_id, last_seq) SELECT $${batch}::uuid, $${run}::text, ${before} FROM r), ` +
    `f AS (DELETE FROM ${q}.commit_markers WHERE batch_id = ANY($${forget}::uuid[]))`;

  return {
    /**
     * Insert or replace the run, move last_seq by the batch's transition count, record the batch's
     * marker, read the lease. $1..$n run columns, $n+1 transition count, $n+2 batch id, $n+3 forget
     * list, $n+4 lease token (or null).
     */
    upsertRun: statement(
      `WITH r AS (INSERT INTO ${q}.runs (${runNames}, last_seq) VALUES (${runValues}, $${n + 1}::bigint) ` +
        `ON CONFLICT (run_id) DO UPDATE SET ${runUpdate}, last_seq = ${q}.runs.last_seq + $${n + 1}::bigint ` +
        `RETURNING last_seq - $${n + 1}::bigint AS before), ` +
        `${markers(n + 2, 1, n + 3, `before + $${n + 1}::bigint`)}, ${fence(1, n + 4)} ${lockAnswer}`,
    ),
    /** Lock an existing run and move last_seq; read the lease. $1 run id, $2 transition count, $3 batch id, $4 forget list, $5 lease token. */
    bumpRun: statement(
      `WITH r AS (UPDATE ${q}.runs SET last_seq = last_seq + $2::bigint WHERE run_id = $1::text RETURNING last_seq - $2::bigint AS before), ` +
        `${markers(3, 1, 4, 'before + $2::bigint')}, ${fence(1, 5)} ${lockAnswer}`,
    ),
    /** Lock an existing run (no transitions in the batch); read the lease. $1 run id, $2 batch id, $3 forget list, $4 lease token. */
    lockRun: statement(
      `WITH r AS (SELECT last_seq AS before FROM ${q}.runs WHERE run_id = $1::text FOR UPDATE), ` +
        `${markers(2, 1, 3, 'before')}, ${fence(1, 4)} ${lockAnswer}`,
    ),
    /** The marker of a batch that already landed. $1 batch id. */
    marker: statement(`SELECT last_seq FROM ${q}.commit_markers WHERE batch_id = $1::uuid`),
    /** Forget markers whose outcome their writers know. $1 batch ids. */
    forget: statement(`DELETE FROM ${q}.commit_markers WHERE batch_id = ANY($1::uuid[])`),
    /**
     * Stored versions of the batch's keys, the batch's (key, attempt) pairs already recorded, and
     * the status of the control requests it settles (kind 'c': key is the status, n the id).
     * $1 run id, $2 keys, $3 result keys, $4 result attempts, $5 control request ids. One
     * primary-key lookup per key, pair and id (LATERAL … LIMIT 1 keeps the planner from scanning
     * every row of a long run instead), so the cost follows the batch, not the run. Only commits of
     * the run settle its requests, and they hold the run's row lock: the statuses cannot change
     * before COMMIT.
     */
    current: statement(
      `SELECT 'v' AS kind, k.key, t.version AS n FROM unnest($2::text[]) AS k(key) ` +
        `JOIN LATERAL (SELECT version FROM ${q}.task_instances WHERE run_id = $1::text AND key = k.key LIMIT 1) t ON true ` +
        `UNION ALL SELECT 'r', w.key, w.attempt FROM unnest($3::text[], $4::bigint[]) AS w(key, attempt) ` +
        `JOIN LATERAL (SELECT 1 FROM ${q}.results WHERE run_id = $1::text AND key = w.key AND attempt = w.attempt LIMIT 1) x ON true ` +
        `UNION ALL SELECT 'c', c.status, c.id FROM ${q}.control_requests c WHERE c.id = ANY($5::bigint[]) AND c.run_id = $1::text`,
    ),
    /** Delete instances with their results and checkpoints. $1 run id, $2 keys. */
    deleteInstances: statement(
      `WITH i AS (DELETE FROM ${q}.task_instances WHERE run_id = $1::text AND key = ANY($2::text[])), ` +
        `r AS (DELETE FROM ${q}.results WHERE run_id = $1::text AND key = ANY($2::text[])) ` +
        `DELETE FROM ${q}.checkpoints WHERE run_id = $1::text AND key = ANY($2::text[])`,
    ),
    /**
     * The write of a batch: which of instances, transitions, results, control settlements it has
     * picks the variant. Instances and transitions come as one `jsonb` parameter each — an array
     * of rows, each an array in column order (see `rowsJson`) — the rest as one array per column.
     */
    write(has: { instances: boolean; transitions: boolean; results: boolean; logs: boolean; controls: boolean }): Statement {
      let p = 1; // $1 is the run id
      const arrays = (columns: ReadonlyArray<readonly [string, string]>): string =>
        columns.map(([, type]) => `$${++p}::${type}[]`).join(', ');
      // (jsonb, not json: parsed once, then each `->>` is a lookup, not a scan of the row's text.)
      const fromJson = (columns: ReadonlyArray<readonly [string, string]>): string => columns.map(([, type], i) => `(e.r->>${i})::${type}`).join(', ');
      const ctes: string[] = [];
      if (has.instances) {
        const update = instanceColumns
          .filter(([c]) => c !== 'key')
          .map(([c]) => `${c} = excluded.${c}`)
          .join(', ');
        ctes.push(
          `i AS (INSERT INTO ${q}.task_instances (run_id, ${instanceNames}) ` +
            `SELECT $1::text, ${fromJson(instanceColumns)} ` +
            `FROM jsonb_array_elements($${++p}::jsonb) WITH ORDINALITY AS e(r, ord) ORDER BY e.ord ` +
            `ON CONFLICT (run_id, key) DO UPDATE SET ${update})`,
        );
      }
      if (has.transitions) {
        ctes.push(
          `t AS (INSERT INTO ${q}.transitions (run_id, ${names(transitionColumns)}) ` +
            `SELECT $1::text, ${fromJson(transitionColumns)} FROM jsonb_array_elements($${++p}::jsonb) AS e(r))`,
        );
      }
      if (has.results) {
        const columns = [['key', 'text'], ['attempt', 'bigint'], ['value', 'text'], ['at', 'float8']] as const;
        ctes.push(
          `x AS (INSERT INTO ${q}.results (run_id, ${names(columns)}) ` +
            `SELECT $1::text, ${columns.map(([c]) => `u.${c}`).join(', ')} ` +
            `FROM unnest(${arrays(columns)}) WITH ORDINALITY AS u(${names(columns)}, ord) ORDER BY u.ord)`,
        );
      }
      if (has.logs) {
        // seq continues the run's: the subquery reads the log as it was before this statement.
        const columns = [['key', 'text'], ['task_id', 'text'], ['attempt', 'bigint'], ['at', 'float8'], ['line', 'text']] as const;
        ctes.push(
          `g AS (INSERT INTO ${q}.task_logs (run_id, seq, ${names(columns)}) ` +
            `SELECT $1::text, (SELECT coalesce(max(seq), 0) FROM ${q}.task_logs WHERE run_id = $1::text) + u.ord, ${columns.map(([c]) => `u.${c}`).join(', ')} ` +
            `FROM unnest(${arrays(columns)}) WITH ORDINALITY AS u(${names(columns)}, ord))`,
        );
      }
      if (has.controls) {
        const columns = [['id', 'bigint'], ['status', 'text'], ['message', 'text'], ['at', 'float8']] as const;
        const ids = `$${p + 1}::bigint[]`;
        // `c.id = ANY(ids)` besides the join, as in LaunchTable.finishMany: the ids bound the rows read.
        ctes.push(
          `c AS (UPDATE ${q}.control_requests AS c SET status = u.status, message = u.message, settled_at = u.at ` +
            `FROM unnest(${arrays(columns)}) AS u(${names(columns)}) WHERE c.id = ANY(${ids}) AND c.id = u.id AND c.run_id = $1::text AND c.status = 'pending')`,
        );
      }
      return statement(`WITH ${ctes.join(', ')} SELECT 1 AS done`);
    },
    getRun: statement(`SELECT ${runNames} FROM ${q}.runs WHERE run_id = $1::text`),
    /** Everything `loadRun` returns, in one statement (one snapshot, one round trip). */
    loadRun: statement(
      `SELECT (SELECT row_to_json(r)::text FROM (SELECT ${runNames} FROM ${q}.runs WHERE run_id = $1::text) r) AS run, ` +
        `(SELECT coalesce(json_agg(i ORDER BY i.write_order), '[]')::text FROM ` +
        `(SELECT run_id, ${instanceNames}, write_order FROM ${q}.task_instances WHERE run_id = $1::text) i) AS instances, ` +
        `(SELECT coalesce(json_agg(x ORDER BY x.write_order), '[]')::text FROM ` +
        `(SELECT key, attempt, value, at, write_order FROM ${q}.results WHERE run_id = $1::text) x) AS results`,
    ),
    listRuns(filter: { flowId: boolean; state: boolean }): Statement {
      const where: string[] = [];
      let p = 1; // $1 is the limit
      if (filter.flowId) where.push(`r.flow_id = $${++p}::text`);
      if (filter.state) where.push(`r.state = $${++p}::text`);
      const columns = runColumns.filter(([c]) => c !== 'input').map(([c]) => `r.${c}`).join(', ');
      const lease = leaseColumns.map((c) => `l.${c} AS lease_${c}`).join(', ');
      return statement(
        `SELECT ${columns}, (SELECT coalesce(json_object_agg(c.state, c.n)::text, '{}') FROM ` +
          `(SELECT t.state, count(*) AS n FROM ${q}.task_instances t WHERE t.run_id = r.run_id GROUP BY t.state) c) AS counts, ${lease} ` +
          `FROM ${q}.runs r LEFT JOIN ${q}.leases l ON l.run_id = r.run_id${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ` +
          'ORDER BY r.created_at DESC, r.write_order DESC LIMIT $1::bigint',
      );
    },
    /**
     * One page of a run's task instances (first-write order), as JSON like `loadRun`'s; one more
     * than asked tells whether there is a next page. $1 run id, $2 after this write_order, $3 states
     * (or null), $4 task id (or null), $5 key prefix (or null), $6 limit + 1.
     */
    queryInstances: statement(
      `SELECT coalesce(json_agg(i ORDER BY i.write_order), '[]')::text AS instances FROM ` +
        `(SELECT run_id, ${instanceNames}, write_order FROM ${q}.task_instances WHERE run_id = $1::text AND write_order > $2::bigint ` +
        `AND ($3::text[] IS NULL OR state = ANY($3::text[])) AND ($4::text IS NULL OR task_id = $4::text) ` +
        `AND ($5::text IS NULL OR left(key, length($5::text)) = $5::text) ORDER BY write_order LIMIT $6::bigint) i`,
    ),
    /**
     * The result records with these (key, attempt) pairs, with their stored text's length. $1 run
     * id, $2 keys, $3 attempts. One primary-key lookup per pair (LATERAL … LIMIT 1, as `current`):
     * a plain join may read every result of a long run for a few pairs.
     */
    readResults: statement(
      `SELECT w.key, w.attempt, r.value, coalesce(length(r.value), 0) AS chars FROM unnest($2::text[], $3::bigint[]) AS w(key, attempt) ` +
        `JOIN LATERAL (SELECT value FROM ${q}.results WHERE run_id = $1::text AND key = w.key AND attempt = w.attempt LIMIT 1) r ON true`,
    ),
    /** The result records of these keys, in recording order (so the last per key is the latest). */
    pageResults: statement(`SELECT key, value FROM ${q}.results WHERE run_id = $1::text AND key = ANY($2::text[]) ORDER BY write_order`),
    countInstances: statement(
      `SELECT task_id, state, count(*) AS n, min(write_order) AS first FROM ${q}.task_instances WHERE run_id = $1::text GROUP BY task_id, state ORDER BY first`,
    ),
    readLog: statement(
      `SELECT seq, key, from_state, to_state, event, at FROM ${q}.transitions WHERE run_id = $1::text AND seq > $2::bigint ORDER BY seq`,
    ),
    /**
     * Upsert a checkpoint if the run exists and, given a token, the run's lease is held with it.
     * One row: saved (0 or 1), whether the run exists, and the lease read for the fence.
     * $1 run id, $2 key, $3 value, $4 saved at, $5 lease token (or null).
     */
    saveCheckpoint: statement(
      `WITH ${fence(1, 5)}, r AS (SELECT 1 FROM ${q}.runs WHERE run_id = $1::text FOR KEY SHARE), ` +
        `ok AS (SELECT 1 FROM r WHERE $5::bigint IS NULL OR EXISTS (SELECT 1 FROM l WHERE l.token = $5::bigint AND l.released_at IS NULL)), ` +
        `w AS (INSERT INTO ${q}.checkpoints (run_id, key, value, saved_at) SELECT $1::text, $2::text, $3::text, $4::float8 FROM ok ` +
        'ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, saved_at = excluded.saved_at RETURNING 1) ' +
        `SELECT (SELECT count(*) FROM w)::int AS saved, (SELECT count(*) FROM r)::int AS run_exists, ${leaseColumns.map((c) => `l.${c}`).join(', ')} ` +
        'FROM (SELECT 1) AS one LEFT JOIN l ON true',
    ),
    loadCheckpoint: statement(`SELECT value, saved_at FROM ${q}.checkpoints WHERE run_id = $1::text AND key = $2::text`),
    /** Store the run's shape (in the commit, after the run is locked). $1 run id, $2 shape JSON. */
    saveShape: statement(`UPDATE ${q}.runs SET shape = $2::text WHERE run_id = $1::text`),
    getShape: statement(`SELECT shape FROM ${q}.runs WHERE run_id = $1::text`),
    /** A run's log lines. $1 run id, $2 after seq, $3 key, $4 task id, $5 attempt (each null: any), $6 limit (null: all). */
    readLogs: statement(
      `SELECT seq, key, task_id, attempt, at, line FROM ${q}.task_logs WHERE run_id = $1::text AND seq > $2::bigint ` +
        'AND ($3::text IS NULL OR key = $3::text) AND ($4::text IS NULL OR task_id = $4::text) AND ($5::bigint IS NULL OR attempt = $5::bigint) ' +
        'ORDER BY seq LIMIT $6::bigint',
    ),
    /** Delete the run row first (it waits for writers holding the run), then what belongs to it. */
    deleteRunRow: statement(`DELETE FROM ${q}.runs WHERE run_id = $1::text RETURNING 1 AS existed`),
    deleteRunRest: statement(
      ['task_instances', 'transitions', 'results', 'checkpoints', 'control_requests', 'task_logs', 'attempt_launches', 'attempt_calls']
        .map((table, i) => `d${i} AS (DELETE FROM ${q}.${table} WHERE run_id = $1::text)`)
        .reduce((sql, cte, i) => `${sql}${i === 0 ? 'WITH ' : ', '}${cte}`, '') +
        ` DELETE FROM ${q}.commit_markers WHERE run_id = $1::text`,
    ),
    wasCommitted: statement(`SELECT 1 AS landed FROM ${q}.commit_markers WHERE batch_id = $1::uuid`),
    schemaVersion: statement(`SELECT coalesce(max(version), 0) AS version FROM ${q}.schema_version`),

    getLease: statement(`SELECT ${leaseNames} FROM ${q}.leases WHERE run_id = $1::text`),
    /** The lease row, locked until the acquiring transaction ends. $1 run id. */
    lockLease: statement(`SELECT ${leaseNames} FROM ${q}.leases WHERE run_id = $1::text FOR UPDATE`),
    /** A run's first lease; no row when a concurrent acquirer inserted one first. $1..$8 lease columns (released_at null). */
    insertLease: statement(
      `INSERT INTO ${q}.leases (${leaseNames}) VALUES ($1::text, $2::text, $3::text, $4::bigint, $5::bigint, $6::float8, $7::float8, $8::float8, NULL) ` +
        'ON CONFLICT (run_id) DO NOTHING RETURNING 1 AS inserted',
    ),
    /** A granted lease over the locked row. $1..$8 lease columns (released_at null). */
    updateLease: statement(
      `UPDATE ${q}.leases SET owner_id = $2::text, host = $3::text, pid = $4::bigint, token = $5::bigint, acquired_at = $6::float8, ` +
        'heartbeat_at = $7::float8, expires_at = $8::float8, released_at = NULL WHERE run_id = $1::text',
    ),
    /** The heartbeat, only while the lease is still this one. $1 run id, $2 token, $3 now, $4 expires at. */
    renewLease: statement(
      `UPDATE ${q}.leases SET heartbeat_at = $3::float8, expires_at = $4::float8 ` +
        `WHERE run_id = $1::text AND token = $2::bigint AND released_at IS NULL RETURNING ${leaseNames}`,
    ),
    /** Let go, only while the lease is still this one. $1 run id, $2 token, $3 now. */
    releaseLease: statement(
      `UPDATE ${q}.leases SET released_at = $3::float8 WHERE run_id = $1::text AND token = $2::bigint AND released_at IS NULL`,
    ),

    /**
     * Store a control request if the run exists; no row when it does not. $8 is the request's key:
     * a retry of a request that landed (its reply lost with the connection) inserts nothing and
     * returns the stored one. $1 run id, $2 action, $3 task key, $4 state, $5 payload, $6 requested
     * at, $7 requested by, $8 request key.
     */
    insertControl: statement(
      `WITH r AS (SELECT 1 FROM ${q}.runs WHERE run_id = $1::text FOR KEY SHARE), ` +
        `i AS (INSERT INTO ${q}.control_requests (run_id, action, task_key, state, payload, requested_at, requested_by, request_key) ` +
        'SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::float8, $7::text, $8::uuid FROM r ' +
        `ON CONFLICT (request_key) DO NOTHING RETURNING ${controlNames}) ` +
        `SELECT ${controlNames} FROM i UNION ALL ` +
        `SELECT ${controlNames} FROM ${q}.control_requests WHERE request_key = $8::uuid AND run_id = $1::text AND NOT EXISTS (SELECT 1 FROM i)`,
    ),
    /** A control request by its key (after a retry whose insert found it already stored). $1 run id, $2 request key. */
    controlByKey: statement(`SELECT ${controlNames} FROM ${q}.control_requests WHERE run_id = $1::text AND request_key = $2::uuid`),
    pendingControls: statement(`SELECT ${controlNames} FROM ${q}.control_requests WHERE run_id = $1::text AND status = 'pending' ORDER BY id`),
    getControl: statement(`SELECT ${controlNames} FROM ${q}.control_requests WHERE run_id = $1::text AND id = $2::bigint`),
  };
}

export type Statements = ReturnType<typeof statements>;
