// Statements whose cost must follow their batch, not their table: a worker's outcome write
// (LaunchTable.finishMany), the driver's answers to child calls and a worker's read of them
// (CallTable.answer / answers), and the store's read of result records (readResults). Each takes
// a batch of ids through unnest(). Joined plainly, the planner trusts statistics that are
// usually stale in exactly the wrong way — autovacuum analyzed the launches while they were
// queued, so "worker = $1" looks like one row — and plans the unnest() inside a nested loop over
// every row of the table: the outcome write of 40 launches ran the unnest 2,000 times (13 ms here,
// 17–24 ms a call in `npm run bench:workers`, growing with the table). Each test builds that state
// (rows analyzed before the change that makes them match) and runs the real statement under
// EXPLAIN ANALYZE in a transaction it rolls back: no step may run more than once per id of the
// batch, no scan of the table may return more rows than the batch has, and the table is read at
// most once.
import { describe, expect, it } from 'vitest';
import { CallTable } from '../../src/runtime/remote/callTable.ts';
import { LaunchTable } from '../../src/runtime/remote/launchTable.ts';
import { statements } from '../../src/stores/postgres/sql.ts';
import type { PostgresStore, SqlSession } from '../../src/stores/postgresStore.ts';
import { openStore, postgres, skipReason } from '../helpers/postgresTest.ts';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

const rows = 2_000;
const batch = 40;

/** A session that runs each statement under EXPLAIN ANALYZE, rolled back; `plans` gets each plan. */
function explaining(store: PostgresStore, plans: PlanNode[]): SqlSession {
  return {
    async query(text, values) {
      const client = await store.pool.connect();
      try {
        await client.query('BEGIN');
        const res = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values);
        plans.push((res.rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan);
        return { rows: [], rowCount: 0 };
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    },
  };
}

/**
 * Fails when a step of `plan` ran more than once per id, when a scan of `table` returned more rows
 * than ids, or when its scans read more rows than the table has (the table read more than once).
 * (On a table this small, one sequential pass filtered by the ids is a plan PostgreSQL may choose;
 * the loop over every row that runs the unnest each time is the one that must not come back.)
 */
function expectBatchBound(plan: PlanNode, table: string): void {
  let read = 0;
  const walk = (node: PlanNode): void => {
    expect({ step: node['Node Type'], loops: node['Actual Loops'] <= batch }).toEqual({ step: node['Node Type'], loops: true });
    if (node['Relation Name'] === table && node['Node Type'].includes('Scan')) {
      expect({ scan: node['Node Type'], rows: node['Actual Rows'] * node['Actual Loops'] <= batch }).toEqual({ scan: node['Node Type'], rows: true });
      read += (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops'];
    }
    for (const child of node.Plans ?? []) walk(child);
  };
  walk(plan);
  expect(read, `rows of ${table} read`).toBeLessThanOrEqual(rows);
}

async function launches(store: PostgresStore): Promise<string[]> {
  const s = `"${store.schema}"`;
  await store.pool.query(
    `INSERT INTO ${s}.attempt_launches (launch_id, run_id, key, attempt, flow_hash, created_at)
     SELECT gen_random_uuid(), 'run-' || (i % 50), 'k' || i, 1, 'sha256:x', i FROM generate_series(1, ${rows}) AS i`,
  );
  // Analyzed while queued (no worker yet), then claimed: what autovacuum leaves a worker with.
  await store.pool.query(`ANALYZE ${s}.attempt_launches`);
  await store.pool.query(`UPDATE ${s}.attempt_launches SET status = 'running', worker = 'w1', heartbeat_at = 1`);
  const res = await store.pool.query(`SELECT launch_id FROM ${s}.attempt_launches ORDER BY random() LIMIT ${batch}`);
  return res.rows.map((row: { launch_id: string }) => row.launch_id);
}

describe.skipIf(postgres === undefined)(`batch statements cost their batch, not their table${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`, () => {
  it("a worker's outcome write (finishMany) of 40 launches among 2,000", async () => {
    const store = await openStore();
    const ids = await launches(store);
    const plans: PlanNode[] = [];
    await new LaunchTable(`"${store.schema}"`).finishMany(explaining(store, plans), 'w1', ids, ids.map(() => '{"json":{"ok":true}}'));
    expect(plans).toHaveLength(1);
    expectBatchBound(plans[0]!, 'attempt_launches');
  });

  it("the driver's answers to 40 calls (answer) and a worker's read of them (answers) among 2,000", async () => {
    const store = await openStore();
    const s = `"${store.schema}"`;
    const ids = await launches(store);
    const calls = new CallTable(s);
    const insertCalls = (status: string) =>
      store.pool.query(
        `INSERT INTO ${s}.attempt_calls (launch_id, seq, run_id, task_id, call_index, input, custom_context, status, requested_at)
         SELECT launch_id, 0, run_id, 'child', 0, '{}', '{}', $1, 1 FROM ${s}.attempt_launches`,
        [status],
      );
    const plans: PlanNode[] = [];
    // Analyzed while answered, then requested again: "status = 'requested'" looks like one row.
    await insertCalls('answered');
    await store.pool.query(`ANALYZE ${s}.attempt_calls`);
    await store.pool.query(`UPDATE ${s}.attempt_calls SET status = 'requested'`);
    await calls.answer(explaining(store, plans), ids.map((launchId) => ({ launchId, seq: 0, answer: '{}' })), 2);
    // And the other way round for the worker's read of answers.
    await store.pool.query(`DELETE FROM ${s}.attempt_calls`);
    await insertCalls('requested');
    await store.pool.query(`ANALYZE ${s}.attempt_calls`);
    await store.pool.query(`UPDATE ${s}.attempt_calls SET status = 'answered', answer = '{}'`);
    await calls.answers(explaining(store, plans), ids.map((launchId) => ({ launchId, seq: 0 })));
    expect(plans).toHaveLength(2);
    for (const plan of plans) expectBatchBound(plan, 'attempt_calls');
  });

  it("the store's read of 40 result records (readResults) of a run with 2,000", async () => {
    const store = await openStore();
    const s = `"${store.schema}"`;
    // Analyzed before the run had results ("run_id = 'big'" looks like one row), then recorded.
    await store.pool.query(`INSERT INTO ${s}.results (run_id, key, attempt, value, at) SELECT 'other', 'k' || i, 1, '{"json":null}', i FROM generate_series(1, ${rows}) AS i`);
    await store.pool.query(`ANALYZE ${s}.results`);
    await store.pool.query(`INSERT INTO ${s}.results (run_id, key, attempt, value, at) SELECT 'big', 'k' || i, 1, '{"json":null}', i FROM generate_series(1, ${rows}) AS i`);
    const keys = Array.from({ length: batch }, (_, i) => `k${i * 40 + 1}`);
    const plans: PlanNode[] = [];
    // The statement readResults sends (src/stores/postgres/sql.ts), with its parameters.
    await explaining(store, plans).query(statements(s).readResults.text, ['big', keys, keys.map(() => 1)]);
    expectBatchBound(plans[0]!, 'results');
    // And it reads what it should: the 40 records, by (key, attempt).
    const read = await store.readResults('big', keys.map((key) => ({ key, attempt: 1 })));
    expect(read.map((r) => r.key).sort()).toEqual([...keys].sort());
  });
});
