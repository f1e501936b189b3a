// `npm run bench:postgres`: commit throughput of postgresStore (group commit). Starts a private
// PostgreSQL cluster with PostgreSQL's default durability (fsync on, synchronous_commit on) unless
// TASKMACHINE_PG_URL names a server to use (a fresh schema is created there and dropped after).
// Prints a Markdown table: batches/s and median ms per commit, one writer and four concurrent ones.
import { randomBytes } from 'node:crypto';
import { postgresStore, type CommitBatch, type PostgresStore, type TaskInstanceWrite } from '../src/stores/index.ts';
import { startPostgres } from '../test/helpers/postgres.ts';
import { makeInstance, makeRun } from '../test/stores/fixtures/records.ts';

const batches = Number(process.env['BENCH_BATCHES'] ?? 300);

interface Shape {
  readonly label: string;
  readonly instances: number;
  readonly transitions: boolean;
  readonly results: boolean;
}

const shapes: Shape[] = [
  { label: '1 instance upsert', instances: 1, transitions: false, results: false },
  { label: '100 instance upserts', instances: 100, transitions: false, results: false },
  { label: '100 upserts + 100 log entries + 100 results', instances: 100, transitions: true, results: true },
  { label: '1,000 upserts + 1,000 log entries + 1,000 results', instances: 1_000, transitions: true, results: true },
];

/** Commits `count` turns of `shape` to a new run, one after the other; resolves to each commit's ms. */
async function drive(store: PostgresStore, runId: string, shape: Shape, count: number): Promise<number[]> {
  const keys = Array.from({ length: shape.instances }, (_, i) => `t[${i}]`);
  // (Each round is a new attempt: max_attempts must allow every round's.)
  const records = keys.map((key, i): TaskInstanceWrite => makeInstance(key, { mapIndex: i, maxAttempts: 1_000_000 }));
  await store.commit({ runId, run: makeRun(runId), instances: records.map((record) => ({ record })) });
  const times: number[] = [];
  for (let round = 1; round <= count; round++) {
    const batch: CommitBatch = {
      runId,
      instances: records.map((record) => ({ record: { ...record, attempt: round, updatedAt: round }, expectedVersion: round })),
      ...(shape.transitions ? { transitions: keys.map((key) => ({ key, from: 'running', to: 'success', event: 'SUCCEED', at: round }) as const) } : {}),
      ...(shape.results ? { results: keys.map((key) => ({ key, attempt: round, value: { rows: round }, at: round })) } : {}),
    };
    const start = performance.now();
    await store.commit(batch);
    times.push(performance.now() - start);
  }
  return times;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const external = process.env['TASKMACHINE_PG_URL'];
  const cluster = external === undefined ? await startPostgres({ durable: true }) : undefined;
  const url = external ?? cluster!.url;
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const store = await postgresStore({ connectionString: url, schema });
  const version = (await store.pool.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
  const rows: string[] = [];
  try {
    for (const shape of shapes) {
      const count = shape.instances >= 1_000 ? Math.max(20, Math.floor(batches / 10)) : batches;
      await drive(store, `warm-${shape.instances}-${shape.results}`, shape, Math.min(20, count));
      const start = performance.now();
      const one = await drive(store, `one-${shape.instances}-${shape.results}`, shape, count);
      const oneRate = count / ((performance.now() - start) / 1000);
      const start4 = performance.now();
      const four = await Promise.all([0, 1, 2, 3].map((w) => drive(store, `four-${w}-${shape.instances}-${shape.results}`, shape, count)));
      const fourRate = (4 * count) / ((performance.now() - start4) / 1000);
      rows.push(
        `| ${shape.label} | ${oneRate.toFixed(0)} | ${median(one).toFixed(2)} | ${fourRate.toFixed(0)} | ${median(four.flat()).toFixed(2)} |`,
      );
      console.error(`done: ${shape.label}`);
    }
  } finally {
    await store.pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    await store.close();
    await cluster?.stop();
  }
  console.log(`PostgreSQL ${version} (${external === undefined ? 'private cluster, fsync on, synchronous_commit on' : 'TASKMACHINE_PG_URL'}), ${batches} batches per writer\n`);
  console.log('| batch | 1 writer: batches/s | median ms | 4 writers (4 runs): batches/s | median ms |');
  console.log('|---|---|---|---|---|');
  for (const row of rows) console.log(row);
}

await main();
