// The statements of the SQLite store, prepared once per connection and reused by every call.
import type * as sqlite from 'node:sqlite';
import { controlColumns, instanceColumns, leaseColumns, runColumns } from './rows.ts';

/** The run columns `listRuns` reads (everything but `input`). */
export const summaryColumns = runColumns
  .split(', ')
  .filter((c) => c !== 'input')
  .map((c) => `r.${c}`)
  .join(', ');

/** Position of `version` in the task-instance parameters (set inside the transaction). */
export const versionParam = instanceColumns.split(', ').indexOf('version');

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

/** Transition rows per call of `insertTransitions` (7 parameters each; SQLite allows 32,766). */
export const transitionsPerInsert = 32;

/** Every fixed statement of the store (the `listRuns` and page queries vary: the store caches those). */
export function prepareStatements(db: sqlite.DatabaseSync) {
  return {
    upsertRun: db.prepare(
      `INSERT INTO runs (${runColumns}) VALUES (${placeholders(runColumns)}) ` +
        `ON CONFLICT (run_id) DO UPDATE SET ${updateAll(runColumns, ['run_id'])}`,
    ),
    runExists: db.prepare('SELECT 1 AS one FROM runs WHERE run_id = ?'),
    getRun: db.prepare(`SELECT ${runColumns} FROM runs WHERE run_id = ?`),
    instanceVersion: db.prepare('SELECT version FROM task_instances WHERE run_id = ? AND key = ?'),
    // The compare-and-set of a task-instance write is in the statement itself (no read first): a
    // new instance is inserted only if its key is free, a stored one updated only at the version
    // the batch expects; `changes` 0 means a conflict.
    insertInstance: db.prepare(
      `INSERT INTO task_instances (${instanceColumns}) VALUES (${placeholders(instanceColumns)}) ON CONFLICT (run_id, key) DO NOTHING`,
    ),
    // Parameters: the instance's columns after run_id and key, then run_id, key and the expected
    // version (anonymous `?`: node:sqlite before 24.7 does not bind numbered ones positionally).
    updateInstance: db.prepare(
      `UPDATE task_instances SET ${instanceColumns
        .split(', ')
        .slice(2)
        .map((c) => `${c} = ?`)
        .join(', ')} WHERE run_id = ? AND key = ? AND version = ?`,
    ),
    deleteInstance: db.prepare('DELETE FROM task_instances WHERE run_id = ? AND key = ?'),
    deleteResultsOfKey: db.prepare('DELETE FROM results WHERE run_id = ? AND key = ?'),
    deleteCheckpoint: db.prepare('DELETE FROM checkpoints WHERE run_id = ? AND key = ?'),
    loadInstances: db.prepare(`SELECT ${instanceColumns} FROM task_instances WHERE run_id = ? ORDER BY rowid`),
    lastSeq: db.prepare('SELECT coalesce(max(seq), 0) AS seq FROM transitions WHERE run_id = ?'),
    insertTransition: db.prepare('INSERT INTO transitions (run_id, seq, key, from_state, to_state, event, at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    // A batch's transition log in rows of this many per call: one call per row was most of a
    // commit's statement overhead (four transitions a task).
    insertTransitions: db.prepare(
      `INSERT INTO transitions (run_id, seq, key, from_state, to_state, event, at) VALUES ${Array(transitionsPerInsert).fill('(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
    ),
    readLog: db.prepare('SELECT seq, key, from_state, to_state, event, at FROM transitions WHERE run_id = ? AND seq > ? ORDER BY seq'),
    // `changes` 0: the attempt already has its result record (a conflict).
    insertResult: db.prepare('INSERT INTO results (run_id, key, attempt, value, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, key, attempt) DO NOTHING'),
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

/** What {@link prepareStatements} returns. */
export type Statements = ReturnType<typeof prepareStatements>;
