import type * as sqlite from 'node:sqlite';
import { StoreSchemaError } from '../errors.ts';
import { num, type Row } from './rows.ts';

/**
 * One step of the SQLite store's schema. Migrations run in order, each once, all pending ones in
 * one transaction when a store is opened; `schema_version` records every applied version and
 * `PRAGMA user_version` mirrors the latest (so a newer file is recognised from its header alone).
 * Never edit a released migration: append a new one.
 *
 * @example
 * ```ts
 * import { sqliteMigrations } from 'taskmachine/stores';
 * sqliteMigrations.at(-1)?.version; // the schema version this code writes
 * ```
 */
export interface SqliteMigration {
  /** 1, 2, 3, … without gaps. */
  readonly version: number;
  /** What it changes, stored in `schema_version.description`. */
  readonly description: string;
  /** The statements (run with `exec`, inside the migration transaction). */
  readonly sql: string;
}

/**
 * Every schema migration of the SQLite store, oldest first.
 *
 * @example
 * ```ts
 * import { sqliteMigrations } from 'taskmachine/stores';
 * for (const m of sqliteMigrations) console.log(m.version, m.description);
 * ```
 */
export const sqliteMigrations: readonly SqliteMigration[] = Object.freeze([
  {
    version: 1,
    description: 'runs, task instances, transition log, result records, checkpoints',
    sql: `
      CREATE TABLE runs (
        run_id            TEXT PRIMARY KEY,
        flow_id           TEXT NOT NULL,
        input_fingerprint TEXT NOT NULL,
        state             TEXT NOT NULL,
        reason            TEXT,
        input             TEXT,
        labels            TEXT,
        machine_version   TEXT NOT NULL,
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL,
        started_at        INTEGER,
        ended_at          INTEGER
      );
      CREATE INDEX runs_by_created ON runs (created_at);
      CREATE INDEX runs_by_flow ON runs (flow_id, created_at);

      CREATE TABLE task_instances (
        run_id            TEXT NOT NULL,
        key               TEXT NOT NULL,
        task_id           TEXT NOT NULL,
        map_index         INTEGER,
        parent_key        TEXT,
        call_input        TEXT,
        custom_context    TEXT,
        state             TEXT NOT NULL,
        attempt           INTEGER NOT NULL,
        max_attempts      INTEGER NOT NULL,
        retries           INTEGER NOT NULL,
        manually_set_from TEXT,
        defer_timed_out   INTEGER NOT NULL CHECK (defer_timed_out IN (0, 1)),
        version           INTEGER NOT NULL CHECK (version >= 1),
        machine_version   TEXT NOT NULL,
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL,
        started_at        INTEGER,
        ended_at          INTEGER,
        failure_kind      TEXT,
        error             TEXT,
        parked            INTEGER NOT NULL CHECK (parked IN (0, 1)),
        waiting_for_event INTEGER NOT NULL CHECK (waiting_for_event IN (0, 1)),
        timer_deadline    INTEGER,
        timer_action      TEXT,
        resume_data       TEXT,
        event_payload     TEXT,
        PRIMARY KEY (run_id, key)
      );
      CREATE INDEX task_instances_by_timer ON task_instances (timer_deadline) WHERE timer_deadline IS NOT NULL;

      CREATE TABLE transitions (
        run_id     TEXT NOT NULL,
        seq        INTEGER NOT NULL,
        key        TEXT NOT NULL,
        from_state TEXT NOT NULL,
        to_state   TEXT NOT NULL,
        event      TEXT NOT NULL,
        at         INTEGER NOT NULL,
        PRIMARY KEY (run_id, seq)
      ) WITHOUT ROWID;

      CREATE TABLE results (
        run_id  TEXT NOT NULL,
        key     TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        value   TEXT,
        at      INTEGER NOT NULL,
        UNIQUE (run_id, key, attempt)
      );

      CREATE TABLE checkpoints (
        run_id   TEXT NOT NULL,
        key      TEXT NOT NULL,
        value    TEXT,
        saved_at INTEGER NOT NULL,
        PRIMARY KEY (run_id, key)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    description: 'run leases with fencing tokens, control requests, interruption counts',
    sql: `
      ALTER TABLE task_instances ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0 CHECK (interruptions >= 0);
      ALTER TABLE task_instances ADD COLUMN max_interruptions INTEGER NOT NULL DEFAULT 3 CHECK (max_interruptions >= 0);

      CREATE TABLE leases (
        run_id       TEXT PRIMARY KEY,
        owner_id     TEXT NOT NULL,
        host         TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        token        INTEGER NOT NULL CHECK (token >= 1),
        acquired_at  INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL,
        released_at  INTEGER
      ) WITHOUT ROWID;

      CREATE TABLE control_requests (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id       TEXT NOT NULL,
        action       TEXT NOT NULL,
        task_key     TEXT,
        state        TEXT,
        payload      TEXT,
        requested_at INTEGER NOT NULL,
        requested_by TEXT,
        status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'refused')),
        message      TEXT,
        settled_at   INTEGER
      );
      CREATE INDEX control_requests_pending ON control_requests (run_id, id) WHERE status = 'pending';
    `,
  },
  {
    version: 3,
    description: "each run's task list (task_ids), so a task instance of a task the run does not have is refused on read",
    // A JSON array of task ids; NULL for runs stored before (nothing is checked for them).
    sql: `ALTER TABLE runs ADD COLUMN task_ids TEXT;`,
  },
  {
    version: 4,
    description: "each run's shape (its task graph) and flow definition hash; task log lines (ctx().log) per attempt",
    // shape: plain JSON (flowShape), read only by getRunShape; flow_hash: 'sha256:…'. Both NULL for
    // runs stored before. task_logs: seq numbers a run's lines 1, 2, 3 … in commit order.
    sql: `
      ALTER TABLE runs ADD COLUMN flow_hash TEXT;
      ALTER TABLE runs ADD COLUMN shape TEXT;

      CREATE TABLE task_logs (
        run_id  TEXT NOT NULL,
        seq     INTEGER NOT NULL,
        key     TEXT NOT NULL,
        task_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at      INTEGER NOT NULL,
        line    TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
      ) WITHOUT ROWID;
      CREATE INDEX task_logs_by_key ON task_logs (run_id, key, attempt, seq);
    `,
  },
  {
    version: 5,
    description: "each run's shape in a table of its own, written once",
    // In the runs row, a large shape (44 bytes a task: 4.4 MB at 100k) was written again with every
    // update of the run (start, end) and with the WAL checkpoints: 40 % more bytes written per run.
    // runs.shape stays, always NULL: dropping it would fail on a user's index or view on it, and a
    // process of the previous version with the file open would fail on its next write.
    sql: `
      CREATE TABLE run_shapes (
        run_id TEXT PRIMARY KEY,
        shape  TEXT NOT NULL
      );
      INSERT INTO run_shapes (run_id, shape) SELECT run_id, shape FROM runs WHERE shape IS NOT NULL;
      UPDATE runs SET shape = NULL WHERE shape IS NOT NULL;
    `,
  },
]);

/** The newest schema version this code knows (and writes). */
export const latestSchemaVersion: number = sqliteMigrations.at(-1)!.version;

const tablesByVersion: ReadonlyArray<readonly string[]> = [
  [],
  ['schema_version', 'runs', 'task_instances', 'transitions', 'results', 'checkpoints'],
  ['leases', 'control_requests'],
  [],
  ['task_logs'],
  ['run_shapes'],
];

/** The tables a file of `version` must have (checked when a file is opened). */
export function requiredTables(version: number): string[] {
  return tablesByVersion.slice(0, version + 1).flat();
}

/**
 * Applies pending migrations in one transaction; refuses a schema newer than this code. A file
 * already at this code's schema is only read: opening a store takes no write lock (it would wait
 * behind a writer that holds one, e.g. a process stopped mid-commit) and writes nothing.
 */
export function migrate(db: sqlite.DatabaseSync, path: string): void {
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
