// The statements of the PostgreSQL store, built once per store for its schema. Every statement is
// schema-qualified (no search_path dependence) and sent as a named prepared statement, so each
// connection parses and plans it once.
import { createHash } from 'node:crypto';

/** A named prepared statement. */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

/** Names derive from the text, so stores on different schemas can share a pool (and a connection). */
export function statement(text: string): Statement {
  return { name: `taskmachine_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`, text };
}

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
] as const;

/** Position of `version` in an instance row (set once the batch's versions are known). */
export const versionIndex: number = instanceColumns.findIndex(([c]) => c === 'version');

/** Run columns in the order of `runRow`, with their types. */
export const runColumns = [
  ['run_id', 'text'],
  ['flow_id', 'text'],
  ['input_fingerprint', 'text'],
  ['state', 'text'],
  ['reason', 'text'],
  ['input', 'text'],
  ['labels', 'text'],
  ['machine_version', 'text'],
  ['created_at', 'float8'],
  ['updated_at', 'float8'],
  ['started_at', 'float8'],
  ['ended_at', 'float8'],
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

  /** The forget-list and marker CTEs, given the parameter numbers of batch id, run id, forget list. */
  const markers = (batch: number, run: number, forget: number, before: string): string =>
    `m AS (INSERT INTO ${q}.commit_markers (batch_id, run_id, last_seq) SELECT $${batch}::uuid, $${run}::text, ${before} FROM r), ` +
    `f AS (DELETE FROM ${q}.commit_markers WHERE batch_id = ANY($${forget}::uuid[]))`;

  return {
    /**
     * Insert or replace the run, move last_seq by the batch's transition count, record the batch's
     * marker. $1..$n run columns, $n+1 transition count, $n+2 batch id, $n+3 forget list.
     */
    upsertRun: statement(
      `WITH r AS (INSERT INTO ${q}.runs (${runNames}, last_seq) VALUES (${runValues}, $${n + 1}::bigint) ` +
        `ON CONFLICT (run_id) DO UPDATE SET ${runUpdate}, last_seq = ${q}.runs.last_seq + $${n + 1}::bigint ` +
        `RETURNING last_seq - $${n + 1}::bigint AS before), ` +
        `${markers(n + 2, 1, n + 3, `before + $${n + 1}::bigint`)} SELECT before FROM r`,
    ),
    /** Lock an existing run and move last_seq. $1 run id, $2 transition count, $3 batch id, $4 forget list. */
    bumpRun: statement(
      `WITH r AS (UPDATE ${q}.runs SET last_seq = last_seq + $2::bigint WHERE run_id = $1::text RETURNING last_seq - $2::bigint AS before), ` +
        `${markers(3, 1, 4, 'before + $2::bigint')} SELECT before FROM r`,
    ),
    /** Lock an existing run (no transitions in the batch). $1 run id, $2 batch id, $3 forget list. */
    lockRun: statement(
      `WITH r AS (SELECT last_seq AS before FROM ${q}.runs WHERE run_id = $1::text FOR UPDATE), ` +
        `${markers(2, 1, 3, 'before')} SELECT before FROM r`,
    ),
    /** The marker of a batch that already landed. $1 batch id. */
    marker: statement(`SELECT last_seq FROM ${q}.commit_markers WHERE batch_id = $1::uuid`),
    /** Forget markers whose outcome their writers know. $1 batch ids. */
    forget: statement(`DELETE FROM ${q}.commit_markers WHERE batch_id = ANY($1::uuid[])`),
    /**
     * Stored versions of the batch's keys and the batch's (key, attempt) pairs already recorded.
     * $1 run id, $2 keys, $3 result keys, $4 result attempts. One primary-key lookup per key and
     * pair (LATERAL … LIMIT 1 keeps the planner from scanning every row of a long run instead),
     * so the cost follows the batch, not the run.
     */
    current: statement(
      `SELECT 'v' AS kind, k.key, t.version AS n FROM unnest($2::text[]) AS k(key) ` +
        `JOIN LATERAL (SELECT version FROM ${q}.task_instances WHERE run_id = $1::text AND key = k.key LIMIT 1) t ON true ` +
        `UNION ALL SELECT 'r', w.key, w.attempt FROM unnest($3::text[], $4::bigint[]) AS w(key, attempt) ` +
        `JOIN LATERAL (SELECT 1 FROM ${q}.results WHERE run_id = $1::text AND key = w.key AND attempt = w.attempt LIMIT 1) x ON true`,
    ),
    /** Delete instances with their results and checkpoints. $1 run id, $2 keys. */
    deleteInstances: statement(
      `WITH i AS (DELETE FROM ${q}.task_instances WHERE run_id = $1::text AND key = ANY($2::text[])), ` +
        `r AS (DELETE FROM ${q}.results WHERE run_id = $1::text AND key = ANY($2::text[])) ` +
        `DELETE FROM ${q}.checkpoints WHERE run_id = $1::text AND key = ANY($2::text[])`,
    ),
    /** The write of a batch: which of instances, transitions, results it has picks the variant. */
    write(has: { instances: boolean; transitions: boolean; results: boolean }): Statement {
      let p = 1; // $1 is the run id
      const arrays = (columns: ReadonlyArray<readonly [string, string]>): string =>
        columns.map(([, type]) => `$${++p}::${type}[]`).join(', ');
      const ctes: string[] = [];
      if (has.instances) {
        const update = instanceColumns
          .filter(([c]) => c !== 'key')
          .map(([c]) => `${c} = excluded.${c}`)
          .join(', ');
        ctes.push(
          `i AS (INSERT INTO ${q}.task_instances (run_id, ${instanceNames}) ` +
            `SELECT $1::text, ${instanceColumns.map(([c]) => `u.${c}`).join(', ')} ` +
            `FROM unnest(${arrays(instanceColumns)}) WITH ORDINALITY AS u(${instanceNames}, ord) ORDER BY u.ord ` +
            `ON CONFLICT (run_id, key) DO UPDATE SET ${update})`,
        );
      }
      if (has.transitions) {
        const columns = [['seq', 'bigint'], ['key', 'text'], ['from_state', 'text'], ['to_state', 'text'], ['event', 'text'], ['at', 'float8']] as const;
        ctes.push(
          `t AS (INSERT INTO ${q}.transitions (run_id, ${names(columns)}) ` +
            `SELECT $1::text, ${columns.map(([c]) => `u.${c}`).join(', ')} FROM unnest(${arrays(columns)}) AS u(${names(columns)}))`,
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
      return statement(
        `SELECT ${columns}, (SELECT coalesce(json_object_agg(c.state, c.n)::text, '{}') FROM ` +
          `(SELECT t.state, count(*) AS n FROM ${q}.task_instances t WHERE t.run_id = r.run_id GROUP BY t.state) c) AS counts ` +
          `FROM ${q}.runs r${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ` +
          'ORDER BY r.created_at DESC, r.write_order DESC LIMIT $1::bigint',
      );
    },
    readLog: statement(
      `SELECT seq, key, from_state, to_state, event, at FROM ${q}.transitions WHERE run_id = $1::text AND seq > $2::bigint ORDER BY seq`,
    ),
    /** Upsert a checkpoint if the run exists (0 rows: it does not). $1 run id, $2 key, $3 value, $4 saved at. */
    saveCheckpoint: statement(
      `WITH r AS (SELECT 1 FROM ${q}.runs WHERE run_id = $1::text FOR KEY SHARE) ` +
        `INSERT INTO ${q}.checkpoints (run_id, key, value, saved_at) SELECT $1::text, $2::text, $3::text, $4::float8 FROM r ` +
        'ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, saved_at = excluded.saved_at RETURNING 1 AS saved',
    ),
    loadCheckpoint: statement(`SELECT value, saved_at FROM ${q}.checkpoints WHERE run_id = $1::text AND key = $2::text`),
    /** Delete the run row first (it waits for writers holding the run), then what belongs to it. */
    deleteRunRow: statement(`DELETE FROM ${q}.runs WHERE run_id = $1::text RETURNING 1 AS existed`),
    deleteRunRest: statement(
      ['task_instances', 'transitions', 'results', 'checkpoints']
        .map((table, i) => `d${i} AS (DELETE FROM ${q}.${table} WHERE run_id = $1::text)`)
        .reduce((sql, cte, i) => `${sql}${i === 0 ? 'WITH ' : ', '}${cte}`, '') +
        ` DELETE FROM ${q}.commit_markers WHERE run_id = $1::text`,
    ),
    wasCommitted: statement(`SELECT 1 AS landed FROM ${q}.commit_markers WHERE batch_id = $1::uuid`),
    schemaVersion: statement(`SELECT coalesce(max(version), 0) AS version FROM ${q}.schema_version`),
  };
}

export type Statements = ReturnType<typeof statements>;
