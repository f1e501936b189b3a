import type { PoolClient } from 'pg';
import { StoreSchemaError } from '../errors.ts';
import { inTransaction } from './retries.ts';
import { num } from './rows.ts';

/**
 * One step of the PostgreSQL store's schema. Migrations run in order, each once, all pending ones
 * in one transaction when a store is opened, under a transaction-scoped advisory lock so that
 * several processes opening the same schema at once migrate it exactly once. `schema_version`
 * records every applied version. Never edit a released migration: append a new one.
 *
 * @example
 * ```ts
 * import { postgresMigrations } from 'taskmachine/stores';
 * postgresMigrations.at(-1)?.version; // the schema version this code writes
 * console.log(postgresMigrations[0]!.sql('"taskmachine"')); // the statements for schema "taskmachine"
 * ```
 */
export interface PostgresMigration {
  /** 1, 2, 3, … in increasing order (4 is the stored flow hash of branch run-shape-logs, 5 attempt launches). */
  readonly version: number;
  /** What it changes, stored in `schema_version.description`. */
  readonly description: string;
  /** The statements for a schema (given as a quoted identifier), run inside the migration transaction. */
  readonly sql: (schema: string) => string;
}

/**
 * Every schema migration of the PostgreSQL store, oldest first.
 *
 * Times are `double precision` epoch ms (what the runtime's clock gives, exact to 2^53), values
 * are superjson text (like SQLite, so `\u0000` and key order survive, which `jsonb` would not),
 * integers are `bigint`. `write_order` identity columns keep first-write order for `loadRun` and
 * creation order for `listRuns`. `runs.last_seq` numbers the transition log without scanning it.
 * `commit_markers` holds one row per commit whose outcome its writer has not learnt yet (see
 * `postgresStore`): it is how a commit retried after a lost connection is never applied twice.
 * `leases` keeps one row per run id for good (deleting a run keeps it: fencing tokens never
 * repeat); `control_requests.id` is an identity (increasing per schema), and its `request_key`, a
 * UUID the store picks per request, makes a request retried after a lost connection land once.
 *
 * @example
 * ```ts
 * import { postgresMigrations } from 'taskmachine/stores';
 * for (const m of postgresMigrations) console.log(m.version, m.description);
 * ```
 */
export const postgresMigrations: readonly PostgresMigration[] = Object.freeze([
  {
    version: 1,
    description: 'runs, task instances, transition log, result records, checkpoints, commit markers',
    sql: (s: string) => `
      CREATE TABLE ${s}.runs (
        run_id            text PRIMARY KEY,
        flow_id           text NOT NULL,
        input_fingerprint text NOT NULL,
        state             text NOT NULL,
        reason            text,
        input             text,
        labels            text,
        machine_version   text NOT NULL,
        created_at        double precision NOT NULL,
        updated_at        double precision NOT NULL,
        started_at        double precision,
        ended_at          double precision,
        last_seq          bigint NOT NULL DEFAULT 0,
        write_order       bigint GENERATED ALWAYS AS IDENTITY
      );
      CREATE INDEX runs_by_created ON ${s}.runs (created_at DESC, write_order DESC);
      CREATE INDEX runs_by_flow ON ${s}.runs (flow_id, created_at DESC, write_order DESC);

      CREATE TABLE ${s}.task_instances (
        run_id            text NOT NULL,
        key               text NOT NULL,
        task_id           text NOT NULL,
        map_index         bigint,
        parent_key        text,
        call_input        text,
        custom_context    text,
        state             text NOT NULL,
        attempt           bigint NOT NULL,
        max_attempts      bigint NOT NULL,
        retries           bigint NOT NULL,
        manually_set_from text,
        defer_timed_out   boolean NOT NULL,
        version           bigint NOT NULL CHECK (version >= 1),
        machine_version   text NOT NULL,
        created_at        double precision NOT NULL,
        updated_at        double precision NOT NULL,
        started_at        double precision,
        ended_at          double precision,
        failure_kind      text,
        error             text,
        parked            boolean NOT NULL,
        waiting_for_event boolean NOT NULL,
        timer_deadline    double precision,
        timer_action      text,
        resume_data       text,
        event_payload     text,
        write_order       bigint GENERATED ALWAYS AS IDENTITY,
        PRIMARY KEY (run_id, key)
      );
      CREATE INDEX task_instances_by_timer ON ${s}.task_instances (timer_deadline) WHERE timer_deadline IS NOT NULL;

      CREATE TABLE ${s}.transitions (
        run_id     text NOT NULL,
        seq        bigint NOT NULL,
        key        text NOT NULL,
        from_state text NOT NULL,
        to_state   text NOT NULL,
        event      text NOT NULL,
        at         double precision NOT NULL,
        PRIMARY KEY (run_id, seq)
      );

      CREATE TABLE ${s}.results (
        run_id      text NOT NULL,
        key         text NOT NULL,
        attempt     bigint NOT NULL,
        value       text,
        at          double precision NOT NULL,
        write_order bigint GENERATED ALWAYS AS IDENTITY,
        PRIMARY KEY (run_id, key, attempt)
      );

      CREATE TABLE ${s}.checkpoints (
        run_id   text NOT NULL,
        key      text NOT NULL,
        value    text,
        saved_at double precision NOT NULL,
        PRIMARY KEY (run_id, key)
      );

      CREATE TABLE ${s}.commit_markers (
        batch_id     uuid PRIMARY KEY,
        run_id       text NOT NULL,
        last_seq     bigint NOT NULL,
        committed_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX commit_markers_by_run ON ${s}.commit_markers (run_id);
    `,
  },
  {
    version: 2,
    description: 'run leases with fencing tokens, control requests, interruption counts',
    // ADD COLUMN with a constant default changes only the catalog (no table rewrite); the CHECKs
    // scan task_instances once, under the migration's lock.
    sql: (s: string) => `
      ALTER TABLE ${s}.task_instances ADD COLUMN interruptions bigint NOT NULL DEFAULT 0 CHECK (interruptions >= 0);
      ALTER TABLE ${s}.task_instances ADD COLUMN max_interruptions bigint NOT NULL DEFAULT 3 CHECK (max_interruptions >= 0);

      CREATE TABLE ${s}.leases (
        run_id       text PRIMARY KEY,
        owner_id     text NOT NULL,
        host         text NOT NULL,
        pid          bigint NOT NULL,
        token        bigint NOT NULL CHECK (token >= 1),
        acquired_at  double precision NOT NULL,
        heartbeat_at double precision NOT NULL,
        expires_at   double precision NOT NULL,
        released_at  double precision
      );

      CREATE TABLE ${s}.control_requests (
        id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id       text NOT NULL,
        action       text NOT NULL,
        task_key     text,
        state        text,
        payload      text,
        requested_at double precision NOT NULL,
        requested_by text,
        status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'refused')),
        message      text,
        settled_at   double precision,
        request_key  uuid NOT NULL UNIQUE
      );
      CREATE INDEX control_requests_by_run ON ${s}.control_requests (run_id, id);
      CREATE INDEX control_requests_pending ON ${s}.control_requests (run_id, id) WHERE status = 'pending';
    `,
  },
  {
    version: 3,
    description: "each run's task list (task_ids), so a task instance of a task the run does not have is refused on read",
    // A JSON array of task ids, as text (the same as SQLite's column); NULL for runs stored before
    // (nothing is checked for them). A nullable column without a default changes only the catalog.
    sql: (s: string) => `ALTER TABLE ${s}.runs ADD COLUMN task_ids text;`,
  },
  {
    version: 4,
    description: "each run's shape (its task graph) and flow definition hash; task log lines (ctx().log) per attempt",
    // shape: plain JSON text (flowShape), read only by getRunShape; flow_hash: 'sha256:…'. Both NULL
    // for runs stored before (nullable columns without defaults: catalog-only changes). task_logs:
    // seq numbers a run's lines 1, 2, 3 … in commit order (commits of a run hold its row lock).
    sql: (s: string) => `
      ALTER TABLE ${s}.runs ADD COLUMN flow_hash text;
      ALTER TABLE ${s}.runs ADD COLUMN shape text;

      CREATE TABLE ${s}.task_logs (
        run_id  text NOT NULL,
        seq     bigint NOT NULL,
        key     text NOT NULL,
        task_id text NOT NULL,
        attempt bigint NOT NULL,
        at      double precision NOT NULL,
        line    text NOT NULL,
        PRIMARY KEY (run_id, seq)
      );
      CREATE INDEX task_logs_by_key ON ${s}.task_logs (run_id, key, attempt, seq);
    `,
  },
  {
    version: 5,
    description: 'attempt launches: attempts handed to worker processes (executor "workers"), their claims, heartbeats and outcomes',
    // One row per attempt the driver hands to a worker; its id is also the pg-boss job's id. The
    // row is inserted in the transaction that stores the instance's START, so a job never exists
    // for an attempt that was not stored. status: queued → running (a worker claimed it) → done
    // (outcome stored) | lost (the worker stopped heartbeating: an interruption) | aborted (the
    // driver ended it: timeout, cancel, manual change). A worker's write is fenced on status and
    // its own worker id, so a late or duplicate worker writes nothing.
    sql: (s: string) => `
      CREATE TABLE ${s}.attempt_launches (
        launch_id    uuid PRIMARY KEY,
        run_id       text NOT NULL,
        key          text NOT NULL,
        attempt      bigint NOT NULL,
        flow_hash    text NOT NULL,
        status       text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'lost', 'aborted')),
        worker       text,
        heartbeat_at double precision,
        outcome      text,
        refusal      text,
        created_at   double precision NOT NULL,
        seq          bigint GENERATED ALWAYS AS IDENTITY
      );
      CREATE INDEX attempt_launches_by_run ON ${s}.attempt_launches (run_id, key, seq);
    `,
  },
  {
    version: 6,
    description: 'child calls (ctx().call) of attempts on workers: their requests to the driver and its answers',
    // One row per ctx().call an attempt on a worker makes; (launch_id, seq) numbers its calls, so a
    // request repeated after a lost reply is the same row. The worker inserts it only while its
    // launch is still `running` for it, and counts it in the launch's `calls` in the same
    // statement: the driver polls its launches anyway, and reads this table only for a launch
    // whose `calls` grew. status: requested → answered (the driver wrote `answer`: the
    // child's result, or the error the call rejects with). A column with a constant default is a
    // catalog-only change.
    sql: (s: string) => `
      ALTER TABLE ${s}.attempt_launches ADD COLUMN calls bigint NOT NULL DEFAULT 0;

      CREATE TABLE ${s}.attempt_calls (
        launch_id      uuid NOT NULL,
        seq            bigint NOT NULL,
        run_id         text NOT NULL,
        task_id        text NOT NULL,
        call_index     bigint NOT NULL,
        input          text NOT NULL,
        custom_context text NOT NULL,
        status         text NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'answered')),
        answer         text,
        requested_at   double precision NOT NULL,
        answered_at    double precision,
        PRIMARY KEY (launch_id, seq)
      );
      CREATE INDEX attempt_calls_by_run ON ${s}.attempt_calls (run_id);
    `,
  },
  {
    version: 7,
    description: 'an index of the runs not finished, for the workers looking for runs to adopt',
    // Every worker looks for runs to adopt every 2 s; without it, that was a scan of every run ever
    // stored (20–50 ms of PostgreSQL a look at 100,000 finished runs). Built in the migration
    // transaction, so writes to `runs` wait for it once (about a second per million runs).
    sql: (s: string) => `
      CREATE INDEX runs_unfinished ON ${s}.runs (created_at) WHERE state IN ('queued', 'running');
    `,
  },
]);

/** The newest schema version this code knows (and writes). */
export const latestPostgresSchemaVersion: number = postgresMigrations.at(-1)!.version;

const tablesByVersion: ReadonlyArray<readonly string[]> = [
  [],
  ['schema_version', 'runs', 'task_instances', 'transitions', 'results', 'checkpoints', 'commit_markers'],
  ['leases', 'control_requests'],
  [],
  ['task_logs'],
  ['attempt_launches'],
  ['attempt_calls'],
  [],
];

/** The tables a schema at `version` must have (checked when a store is opened). */
export function requiredPostgresTables(version: number): string[] {
  return tablesByVersion.slice(0, version + 1).flat();
}

/**
 * Brings the store's schema to {@link latestPostgresSchemaVersion} in one transaction, under an
 * advisory lock so that concurrent openers migrate it once; refuses (changing nothing) a schema
 * written by a newer taskmachine, one missing tables, or one holding other tables.
 */
export async function migrate(
  client: PoolClient,
  broken: (error: unknown) => void,
  at: { readonly schema: string; readonly q: string; readonly server: string; readonly where: string },
): Promise<void> {
  const { schema, q, server, where } = at;
  await inTransaction(client, broken, 'BEGIN', async () => {
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
  });
}
