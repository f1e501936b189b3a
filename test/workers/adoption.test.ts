// findAdoptable, the query every worker runs every 2 s: which runs it offers for adoption (and why),
// and that it reads them through the index of unfinished runs (store migration 7), not by scanning
// every run the store ever kept.
import { describe, expect, it } from 'vitest';
import { CONCURRENCY_LABEL, EXECUTOR_LABEL } from '../../src/runtime/settings.ts';
import type { PostgresStore } from '../../src/stores/index.ts';
import { serializeValue } from '../../src/stores/serialization.ts';
import { findAdoptable } from '../../src/workers/adoption.ts';
import { openStore, postgres, skipReason } from '../helpers/postgresTest.ts';

const now = 1_000_000;
const onWorkers = serializeValue({ [EXECUTOR_LABEL]: 'workers', [CONCURRENCY_LABEL]: '8' });
const onLocal = serializeValue({ flowFile: 'flows/etl.ts' });

interface RunRow {
  readonly runId: string;
  readonly state?: string;
  readonly labels?: string;
  readonly flowHash?: string | null;
  /** The run's lease: live, expired, released, or none at all. */
  readonly lease?: 'live' | 'expired' | 'released';
}

async function insertRuns(store: PostgresStore, rows: readonly RunRow[]): Promise<void> {
  const s = `"${store.schema}"`;
  for (const [i, row] of rows.entries()) {
    await store.pool.query(
      `INSERT INTO ${s}.runs (run_id, flow_id, input_fingerprint, state, labels, machine_version, created_at, updated_at, flow_hash)
       VALUES ($1, 'etl', 'x', $2, $3, 'v1', $4, $4, $5)`,
      [row.runId, row.state ?? 'running', row.labels ?? onWorkers, i, row.flowHash === undefined ? 'h1' : row.flowHash],
    );
    if (row.lease !== undefined) {
      await store.pool.query(
        `INSERT INTO ${s}.leases (run_id, owner_id, host, pid, token, acquired_at, heartbeat_at, expires_at, released_at)
         VALUES ($1, 'o', 'host', 1, 1, 0, 0, $2, $3)`,
        [row.runId, row.lease === 'expired' ? now - 1 : now + 30_000, row.lease === 'released' ? now - 5 : null],
      );
    }
  }
}

interface PlanNode {
  readonly 'Node Type': string;
  readonly 'Relation Name'?: string;
  readonly 'Index Name'?: string;
  readonly Plans?: readonly PlanNode[];
}

/** Every scan of a plan (EXPLAIN's JSON), as 'Seq Scan on runs', 'Index Scan on runs using …'. */
function scansOf(node: PlanNode): string[] {
  const table = node['Relation Name'] ?? (node['Index Name']?.startsWith('runs_') ? 'runs' : undefined);
  const own = node['Node Type'].endsWith('Scan') && table !== undefined ? [`${node['Node Type']} on ${table}${node['Index Name'] === undefined ? '' : ` using ${node['Index Name']}`}`] : [];
  return [...own, ...(node.Plans ?? []).flatMap(scansOf)];
}

describe.skipIf(postgres === undefined)(`findAdoptable${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`, () => {
  it('offers the unfinished runs on workers whose driver is gone, with why, oldest first; no others', async () => {
    const store = await openStore();
    await insertRuns(store, [
      { runId: 'no-lease' },
      { runId: 'expired', lease: 'expired' },
      { runId: 'released', lease: 'released', state: 'queued' },
      { runId: 'live', lease: 'live' },
      { runId: 'finished', state: 'success' },
      { runId: 'failed', state: 'failed', lease: 'expired' },
      { runId: 'local', labels: onLocal },
      { runId: 'other-definition', flowHash: 'h2' },
      { runId: 'before-hashes', flowHash: null, lease: 'expired' },
    ]);
    const found = await findAdoptable(store.pool, `"${store.schema}"`, [{ flowId: 'etl', hash: 'h1' }], now);
    expect(found).toEqual([
      { runId: 'no-lease', flowId: 'etl', why: 'it had no driver', concurrency: 8 },
      { runId: 'expired', flowId: 'etl', why: "its driver's lease expired", concurrency: 8 },
      { runId: 'released', flowId: 'etl', why: 'its driver let go of it', concurrency: 8 },
      { runId: 'before-hashes', flowId: 'etl', why: "its driver's lease expired", concurrency: 8 },
    ]);
    // Another flow's worker finds none of them.
    expect(await findAdoptable(store.pool, `"${store.schema}"`, [{ flowId: 'report', hash: 'h1' }], now)).toEqual([]);
  });

  it('reads the unfinished runs through their index, not every finished run the store keeps', async () => {
    const store = await openStore();
    const s = `"${store.schema}"`;
    await store.pool.query(
      `INSERT INTO ${s}.runs (run_id, flow_id, input_fingerprint, state, labels, machine_version, created_at, updated_at, flow_hash)
       SELECT 'done-' || i, 'etl', 'x', 'success', $1, 'v1', i, i, 'h1' FROM generate_series(1, 20000) AS i`,
      [onWorkers],
    );
    await insertRuns(store, [{ runId: 'live', lease: 'live' }, { runId: 'orphan', lease: 'expired' }]);
    await store.pool.query(`ANALYZE ${s}.runs`);
    await store.pool.query(`ANALYZE ${s}.leases`);
    // The same statement, explained: a session that runs EXPLAIN of whatever findAdoptable asks.
    const scans: string[][] = [];
    const explaining = {
      async query(text: string, values?: unknown[]) {
        const res = await store.pool.query(`EXPLAIN (FORMAT JSON) ${text}`, values);
        scans.push(scansOf(res.rows[0]['QUERY PLAN'][0].Plan));
        return { rows: [], rowCount: 0 };
      },
    };
    await findAdoptable(explaining, s, [{ flowId: 'etl', hash: 'h1' }], now);
    expect(scans).toHaveLength(1);
    expect(scans[0]!.filter((scan) => scan.includes(' on runs'))).toEqual([expect.stringMatching(/^(Index|Bitmap Index) Scan on runs using runs_unfinished$/)]);
    expect((await findAdoptable(store.pool, s, [{ flowId: 'etl', hash: 'h1' }], now)).map((run) => run.runId)).toEqual(['orphan']);
  });
});
