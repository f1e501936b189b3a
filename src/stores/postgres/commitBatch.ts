// How the PostgreSQL store commits a batch: checked and serialized once, then committed in one
// transaction of at most five round trips (more only for rows past one jsonb parameter), tried again on a fresh connection when it breaks. Each
// try records the batch's id (a commit marker) in its own transaction, so a try whose COMMIT reply
// was lost is recognised by the next one and never applied twice.
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import type { CommitBatch, CommitResult } from '../batch.ts';
import { checkFence, closedError, instanceRecord, runRecord, unknownRunError } from '../batchChecks.ts';
import { runColumnValues } from '../rowChecks.ts';
import type { ControlSettlement } from '../controlRecord.ts';
import { StoreConflictError, StoreError } from '../errors.ts';
import { encodeShape } from '../shapeAndLogChecks.ts';
import type { TaskInstanceWrite } from '../taskInstanceRecord.ts';
import type { TaskLogWrite } from '../taskLogRecord.ts';
import { isConnectionError, sqlState } from './connection.ts';
import { rollback, type Retrier } from './retries.ts';
import { hasNul, instanceRow, nullable, nulError, num, rowToLease, text } from './rows.ts';
import { rowsJsonParts } from './jsonRows.ts';
import { exec, versionIndex, type Statements } from './sql.ts';

/** What committing needs of its store. */
export interface CommitContext {
  readonly sql: Statements;
  /** Ids of committed batches whose writers know the outcome: their markers can go. */
  readonly forgettable: Set<string>;
  readonly retrier: Retrier;
  readonly isClosed: () => boolean;
  /** The server and schema, as the closed-store error names them. */
  readonly where: string;
}

const resultId = (key: string, attempt: number): string => `${attempt}:${key}`;

/** PostgreSQL text cannot hold U+0000: refuse it up front, naming the field (values are JSON, so escaped). */
export function checkNoNul(batch: CommitBatch): void {
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
export interface PreparedBatch {
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

/** Serializes every value up front: a value that cannot be stored fails before the transaction. */
export function prepare(batch: CommitBatch): PreparedBatch {
  const { runId } = batch;
  return {
    runId,
    runValues: batch.run === undefined ? undefined : runColumnValues(runRecord(batch.run)),
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

/** One try at committing a prepared batch in one transaction. */
async function commitOnce(
  store: CommitContext,
  client: PoolClient,
  broken: (error: unknown) => void,
  batch: PreparedBatch,
  batchId: string,
  committing: () => void,
  within: ((db: PoolClient) => Promise<void>) | undefined,
): Promise<CommitResult> {
  const { sql, forgettable } = store;
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
      // (A batch too large for one jsonb parameter writes its first parts in statements of their own.)
      const none = { instances: false, transitions: false, results: false, logs: false, controls: false };
      if (has.instances) {
        const parts = rowsJsonParts([...rows.values()]);
        for (const part of parts.slice(0, -1)) await exec(client, sql.write({ ...none, instances: true }), [runId, part]);
        values.push(parts.at(-1));
      }
      if (has.transitions) {
        const parts = rowsJsonParts(batch.transitions.map((x, i) => [before + i + 1, x.key, x.from, x.to, x.event, x.at]));
        for (const part of parts.slice(0, -1)) await exec(client, sql.write({ ...none, transitions: true }), [runId, part]);
        values.push(parts.at(-1));
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

/**
 * Commits `batch`, trying again on a fresh connection while that may help, and runs `within` in
 * each try's transaction before COMMIT. `within` gets the transaction's client itself, which
 * postgresStore.ts shows its callers as a `SqlSession`.
 */
export async function commitPrepared(
  store: CommitContext,
  batch: PreparedBatch,
  within: ((db: PoolClient) => Promise<void>) | undefined,
): Promise<CommitResult> {
  const { withClient, giveUp, tryAgain, backoff } = store.retrier;
  const batchId = randomUUID();
  let maybeCommitted = false;
  let since = 0;
  for (let attempt = 1; ; attempt++) {
    let committing = false;
    try {
      return await withClient((client, broken) => commitOnce(store, client, broken, batch, batchId, () => (committing = true), within));
    } catch (error) {
      if (committing && isConnectionError(error)) maybeCommitted = true;
      const outcome = maybeCommitted ? 'unknown' : 'not-written';
      const doing = `commit a batch of run '${batch.runId}'`;
      if (store.isClosed()) throw maybeCommitted ? giveUp(error, attempt, doing, outcome, batchId) : closedError(`PostgreSQL store (${store.where})`);
      if (attempt === 1) since = Date.now();
      if (!tryAgain(error, attempt, since)) throw giveUp(error, attempt, doing, outcome, batchId);
      await backoff(attempt);
    }
  }
}
