// How the SQLite store commits a batch: every value serialized first, then every check and write
// in the store's one write transaction, so a batch lands whole or not at all.
import type { CommitBatch, CommitResult } from '../batch.ts';
import { checkFence, instanceRecord, runRecord, unknownRunError } from '../batchChecks.ts';
import { runColumnValues } from '../rowChecks.ts';
import { StoreConflictError, StoreError } from '../errors.ts';
import type { StoredLease } from '../leaseRecord.ts';
import { encodeShape } from '../shapeAndLogChecks.ts';
import { instanceParams, num, str, text, type Row } from './rows.ts';
import { transitionsPerInsert, versionParam, type Statements } from './statements.ts';
import type { TransitionWrite } from '../transitionLog.ts';

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
    const expected = upsert.expectedVersion;
    upsert.params[versionParam] = expected + 1;
    const { params } = upsert;
    const written =
      expected === 0
        ? statements.insertInstance.run(...params)
        : statements.updateInstance.run(...params.slice(2), params[0]!, params[1]!, expected);
    if (Number(written.changes) !== 1) {
      throw new StoreConflictError({ kind: 'version', runId, key: upsert.key, expectedVersion: expected, actualVersion: versionOf(upsert.key) });
    }
    versions.set(upsert.key, expected + 1);
  }
  const seq = insertTransitions(statements, runId, batch.transitions ?? []);
  for (const r of results) {
    if (Number(statements.insertResult.run(runId, r.key, r.attempt, r.value, r.at).changes) !== 1) {
      const version = versionOf(r.key);
      throw new StoreConflictError({ kind: 'result', runId, key: r.key, attempt: r.attempt, expectedVersion: version, actualVersion: version });
    }
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

/** Appends `transitions` to the run's log, numbered after its last entry; returns the last number. */
function insertTransitions(statements: Statements, runId: string, transitions: readonly TransitionWrite[]): number {
  let seq = num((statements.lastSeq.get(runId) as Row)['seq']!);
  let next = 0;
  if (transitions.length >= transitionsPerInsert) {
    const params = new Array<string | number>(transitionsPerInsert * 7);
    for (; next + transitionsPerInsert <= transitions.length; next += transitionsPerInsert) {
      for (let row = 0; row < transitionsPerInsert; row++) {
        const t = transitions[next + row]!;
        const at = row * 7;
        params[at] = runId;
        params[at + 1] = ++seq;
        params[at + 2] = t.key;
        params[at + 3] = t.from;
        params[at + 4] = t.to;
        params[at + 5] = t.event;
        params[at + 6] = t.at;
      }
      statements.insertTransitions.run(...params);
    }
  }
  for (; next < transitions.length; next++) {
    const t = transitions[next]!;
    statements.insertTransition.run(runId, ++seq, t.key, t.from, t.to, t.event, t.at);
  }
  return seq;
}
