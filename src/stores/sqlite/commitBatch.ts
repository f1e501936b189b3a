// How the SQLite store commits a batch: every value serialized first, then every check and write
// in the store's one write transaction, so a batch lands whole or not at all.
import type { CommitBatch, CommitResult } from '../batch.ts';
import { checkFence, instanceRecord, runRecord, unknownRunError } from '../batchChecks.ts';
import { runColumnValues } from '../rowChecks.ts';
import { StoreConflictError, StoreError } from '../errors.ts';
import type { StoredLease } from '../leaseRecord.ts';
import { encodeShape } from '../shapeAndLogChecks.ts';
import { instanceParams, num, str, text, type Row } from './rows.ts';
import { versionParam, type Statements } from './statements.ts';

/** A batch's values serialized, so a value that cannot be stored fails before the transaction. */
export function prepare(batch: CommitBatch) {
  const { runId } = batch;
  const runParams =
    batch.run === undefined ? undefined : runColumnValues(runRecord(batch.run));
  const upserts = (batch.instances ?? []).map(({ record, expectedVersion = 0 }) => ({
    key: record.key,
    expectedVersion,
    params: instanceParams(instanceRecord(runId, record, 0)),
  }));
  const results = (batch.results ?? []).map((r) => ({ key: r.key, attempt: r.attempt, at: r.at, value: text(r.value) }));
  const shapeText = batch.shape === undefined ? undefined : encodeShape(batch.shape);
  return { runParams, upserts, results, shapeText };
}

/** What {@link prepare} returns. */
export type PreparedBatch = ReturnType<typeof prepare>;

/**
 * Checks and writes `batch` (its values `prepared`); call inside the store's write transaction, which
 * rolls everything back when this throws. `leaseOf` reads a run's lease in that transaction.
 */
export function writeBatch(
  statements: Statements,
  batch: CommitBatch,
  prepared: PreparedBatch,
  leaseOf: (runId: string) => StoredLease | undefined,
): CommitResult {
  const { runId } = batch;
  const { runParams, upserts, results, shapeText } = prepared;
  if (batch.leaseToken !== undefined) checkFence(runId, batch.leaseToken, leaseOf(runId));
  if (runParams !== undefined) statements.upsertRun.run(...runParams);
  else if (statements.runExists.get(runId) === undefined) throw unknownRunError(runId, 'commit the batch');
  if (shapeText !== undefined) statements.saveShape.run(runId, shapeText);

  const versionOf = (key: string): number => num((statements.instanceVersion.get(runId, key) as Row | undefined)?.['version'] ?? 0);
  for (const del of batch.deleteInstances ?? []) {
    const actual = versionOf(del.key);
    if (actual !== del.expectedVersion) {
      throw new StoreConflictError({ kind: 'version', runId, key: del.key, expectedVersion: del.expectedVersion, actualVersion: actual });
    }
    statements.deleteInstance.run(runId, del.key);
    statements.deleteResultsOfKey.run(runId, del.key);
    statements.deleteCheckpoint.run(runId, del.key);
  }
  const versions = new Map<string, number>();
  for (const upsert of upserts) {
    const actual = versionOf(upsert.key);
    if (actual !== upsert.expectedVersion) {
      throw new StoreConflictError({
        kind: 'version',
        runId,
        key: upsert.key,
        expectedVersion: upsert.expectedVersion,
        actualVersion: actual,
      });
    }
    upsert.params[versionParam] = actual + 1;
    statements.upsertInstance.run(...upsert.params);
    versions.set(upsert.key, actual + 1);
  }
  let seq = num((statements.lastSeq.get(runId) as Row)['seq']!);
  for (const t of batch.transitions ?? []) {
    seq += 1;
    statements.insertTransition.run(runId, seq, t.key, t.from, t.to, t.event, t.at);
  }
  for (const r of results) {
    if (statements.resultExists.get(runId, r.key, r.attempt) !== undefined) {
      const version = versionOf(r.key);
      throw new StoreConflictError({ kind: 'result', runId, key: r.key, attempt: r.attempt, expectedVersion: version, actualVersion: version });
    }
    statements.insertResult.run(runId, r.key, r.attempt, r.value, r.at);
  }
  if (batch.logs !== undefined && batch.logs.length > 0) {
    let logSeq = num((statements.lastLogSeq.get(runId) as Row)['seq']!);
    for (const l of batch.logs) statements.insertLog.run(runId, ++logSeq, l.key, l.taskId, l.attempt, l.at, l.line);
  }
  for (const c of batch.controls ?? []) {
    const settled = statements.settleControl.run(c.status, c.message, c.at, c.id, runId);
    if (Number(settled.changes) !== 1) {
      const row = statements.getControl.get(runId, c.id) as Row | undefined;
      throw new StoreError(
        `Control request ${c.id} of run '${runId}' is not pending (${row === undefined ? 'no such request' : str(row['status']!)}); nothing of the batch was written.`,
      );
    }
  }
  return { versions, lastSeq: seq };
}
