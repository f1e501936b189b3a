// `npm run bench:workers`: durable task throughput with attempts on worker processes
// (executor 'workers') against the same run in one process (executor 'local'), both on a private
// PostgreSQL cluster (default durability) unless TASKMACHINE_PG_URL names a server. Two workloads:
// no-op tasks and 5 ms-sleep tasks ($BENCH_TASKS each, default 1,000, a map), with 1, 2 and 4
// `taskmachine worker` processes (--concurrency $BENCH_WORKER_CONCURRENCY, default 64; the run's
// concurrency $BENCH_RUN_CONCURRENCY, default 256). Then one worker with the default concurrency
// (16, run and worker) on no-op tasks, and 1, 2 and 4 workers of $BENCH_FEW_SLOTS slots (default 1)
// on 5 ms-sleep tasks, where the workers, not the driver, are the bound. Prints a Markdown table:
// tasks/s and the ratio to local. With BENCH_COMMITS=1 it also prints, per row, the driver's commits: how many, their
// median duration and the share of the run's time spent in them (the bound of attempts on workers).
// With BENCH_CPU=1, the CPU per task of the driver (or the peer's process), the workers and
// PostgreSQL, per row (Linux /proc). With BENCH_STATEMENTS=1, per row, the statements PostgreSQL
// spent most time in (pg_stat_statements: calls and µs per task). BENCH_ONLY=workers runs only the
// peer and the one-worker-× $BENCH_WORKER_CONCURRENCY rows (to compare a change quickly).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import pg from 'pg';
import { runFlow } from '../src/index.ts';
import { postgresStore } from '../src/stores/index.ts';
import { startPostgres } from '../test/helpers/postgres.ts';
import { bullmqPeer } from './bullmqPeer.ts';
import { startCpuSplit } from './cpuSplit.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixture = 'bench/fixtures/workerFlow.ts';
const tasks = Number(process.env['BENCH_TASKS'] ?? 1_000);
const workerConcurrency = Number(process.env['BENCH_WORKER_CONCURRENCY'] ?? 64);
// Attempts on workers are latency-bound (each waits for the driver's poll and commit and a worker's
// fetch): a run needs many in flight to keep workers busy.
const runConcurrency = Number(process.env['BENCH_RUN_CONCURRENCY'] ?? 256);
// The worker-bound rows: this many slots per worker ($BENCH_FEW_SLOTS, default 1).
const fewSlots = Number(process.env['BENCH_FEW_SLOTS'] ?? 1);

async function freshDatabase(url: string): Promise<string> {
  const name = `bench_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.href;
}

function startWorkers(url: string, count: number, env: NodeJS.ProcessEnv, slots: number): Promise<ChildProcess[]> {
  return Promise.all(
    Array.from({ length: count }, () => {
      const child = spawn(process.execPath, [join(root, 'bin', 'taskmachine.js'), 'worker', fixture, '--store', url, '--concurrency', String(slots), '--no-adopt'], {
        cwd: root,
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      return new Promise<ChildProcess>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('running attempts of')) resolve(child);
        });
        child.on('exit', (code) => reject(new Error(`a worker exited (${code}) before it was up: ${out}`)));
      });
    }),
  );
}

const commitRows: string[] = [];
const cpuRows: string[] = [];
const measureCpu = process.env['BENCH_CPU'] === '1';
const measureStatements = process.env['BENCH_STATEMENTS'] === '1';
const only = process.env['BENCH_ONLY'] || undefined;
if (only !== undefined && only !== 'workers') throw new Error(`BENCH_ONLY=${only}: the one choice is BENCH_ONLY=workers (the peer and one worker × ${workerConcurrency})`);
const statementRows: string[] = [];

/** Resets pg_stat_statements of `database`; resolves to a reader of its top statements for after the run (and `close`, always). */
async function watchStatements(database: string): Promise<{ read: (label: string, tasks: number) => Promise<void>; close: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: database });
  await client.connect();
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await client.query('SELECT pg_stat_statements_reset()');
  } catch (error) {
    await client.end();
    throw new Error(
      `BENCH_STATEMENTS=1 needs pg_stat_statements (${(error as Error).message}): with TASKMACHINE_PG_URL, the server must have shared_preload_libraries = 'pg_stat_statements'`,
    );
  }
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await client.end();
  };
  const read = async (label: string, count: number): Promise<void> => {
    const { rows } = await client.query<{ calls: string; total: number; plan: number; query: string }>(
      `SELECT calls, total_exec_time AS total, total_plan_time AS plan, query FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY total_exec_time + total_plan_time DESC LIMIT 16`,
    );
    const all = await client.query<{ calls: string; total: number; plan: number }>(
      `SELECT sum(calls) AS calls, sum(total_exec_time) AS total, sum(total_plan_time) AS plan FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    // (The statistics collector reports table counters with a delay of up to a second.)
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const tables = await client.query<{ name: string; ins: string; upd: string; hot: string; del: string }>(
      `SELECT schemaname || '.' || relname AS name, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_hot_upd AS hot, n_tup_del AS del
         FROM pg_stat_user_tables WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 ORDER BY relname`,
    );
    statementRows.push(`\n${label}: calls per task, µs executing and planning per task, statement (all: ${(Number(all.rows[0]!.calls) / count).toFixed(1)} calls, ${((all.rows[0]!.total * 1000) / count).toFixed(0)} µs executing, ${((all.rows[0]!.plan * 1000) / count).toFixed(0)} µs planning)`);
    for (const row of rows) {
      const text = row.query.replace(/\s+/g, ' ').slice(0, 110);
      statementRows.push(`  ${(Number(row.calls) / count).toFixed(2).padStart(6)} ${((row.total * 1000) / count).toFixed(0).padStart(5)} ${((row.plan * 1000) / count).toFixed(0).padStart(4)}  ${text}`);
    }
    statementRows.push(`${label}: rows per task inserted / updated (HOT) / deleted, by table`);
    for (const t of tables.rows) {
      const per = (n: string): string => (Number(n) / count).toFixed(2);
      statementRows.push(`  ${t.name}: ${per(t.ins)} / ${per(t.upd)} (${per(t.hot)}) / ${per(t.del)}`);
    }
  };
  return { read, close };
}

function cpuRow(workload: string, on: string, split: ReturnType<NonNullable<ReturnType<typeof startCpuSplit>>>): string {
  const us = (n: number): string => n.toFixed(0);
  return `| ${workload} | ${on} | ${us(split.self)} | ${us(split.children)} | ${us(split.postgres)} | ${us(split.self + split.children + split.postgres)} |`;
}

/** Times the store's commits (see BENCH_COMMITS); returns a summary for after the run. */
function timeCommits(store: { commit: (...args: never[]) => Promise<unknown> }): (seconds: number) => string {
  const durations: number[] = [];
  const commit = store.commit.bind(store) as (...args: unknown[]) => Promise<unknown>;
  (store as { commit: unknown }).commit = async (...args: unknown[]) => {
    const start = performance.now();
    try {
      return await commit(...args);
    } finally {
      durations.push(performance.now() - start);
    }
  };
  return (seconds) => {
    const sorted = [...durations].sort((a, b) => a - b);
    const busy = sorted.reduce((sum, ms) => sum + ms, 0) / 1000;
    return `${sorted.length} | ${(sorted[sorted.length >> 1] ?? 0).toFixed(0)} ms | ${((100 * busy) / seconds).toFixed(0)} %`;
  };
}

/**
 * One run of the bench flow; resolves to tasks/s (the map's instances over the run's time). `slots`
 * is each worker's `--concurrency`, `concurrency` the run's.
 */
async function measure(url: string, sleepMs: number, workers: number, slots = workerConcurrency, concurrency = runConcurrency): Promise<number> {
  const env = { ...process.env, BENCH_TASKS: String(tasks), BENCH_SLEEP_MS: String(sleepMs) };
  process.env['BENCH_TASKS'] = env.BENCH_TASKS;
  process.env['BENCH_SLEEP_MS'] = env.BENCH_SLEEP_MS;
  // (Imported after the environment is set; a fresh copy per workload.)
  const definition = (await import(`./fixtures/workerFlow.ts?tasks=${tasks}&sleep=${sleepMs}`)).default;
  const database = await freshDatabase(url);
  const store = await postgresStore({ connectionString: database });
  const children = workers > 0 ? await startWorkers(database, workers, env, slots) : [];
  let statements: Awaited<ReturnType<typeof watchStatements>> | undefined;
  try {
    const commits = process.env['BENCH_COMMITS'] === '1' ? timeCommits(store) : undefined;
    statements = measureStatements ? await watchStatements(database) : undefined;
    const cpu = measureCpu ? startCpuSplit(children.map((child) => child.pid!)) : undefined;
    const start = performance.now();
    const run = await runFlow(definition, { store, concurrency, executor: workers > 0 ? 'workers' : 'local', log: () => {} });
    const seconds = (performance.now() - start) / 1000;
    if (run.state !== 'success') throw new Error(`the bench run ended ${run.state}`);
    if (cpu !== undefined) {
      const on = workers === 0 ? 'local (in the driver)' : `${workers} worker${workers === 1 ? '' : 's'} × ${slots}`;
      cpuRows.push(cpuRow(sleepMs === 0 ? 'no-op' : `${sleepMs} ms-sleep`, on, cpu(tasks + 1)));
    }
    await statements?.read(`${sleepMs === 0 ? 'no-op' : `${sleepMs} ms-sleep`}, ${workers === 0 ? 'local' : `${workers} × ${slots}`}`, tasks + 1);
    if (commits !== undefined) commitRows.push(`| ${sleepMs === 0 ? 'no-op' : `${sleepMs} ms-sleep`} tasks | ${workers === 0 ? 'local' : `${workers} worker${workers === 1 ? '' : 's'} × ${slots}`} | ${commits(seconds)} |`);
    return (tasks + 1) / seconds;
  } finally {
    await statements?.close();
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.on('exit', resolve)))));
    await store.close();
  }
}

/** A started pg-boss on a database of its own with the queue 'bare' (no retries), for the peer rows. */
async function bareQueue(url: string): Promise<import('pg-boss').PgBoss> {
  const database = await freshDatabase(url);
  const { PgBoss } = await import('pg-boss');
  const boss = new PgBoss({ connectionString: database, max: 8, supervise: false, schedule: false, openTelemetry: { enabled: false }, registerInstance: false });
  boss.on('error', () => {});
  await boss.start();
  await boss.createQueue('bare', { retryLimit: 0 });
  return boss;
}

/**
 * The peer row: the same jobs as bare pg-boss (no lifecycle, no result records): $BENCH_TASKS jobs
 * inserted at once, then processed by `work()` in this process (batches of 64, the handler a no-op
 * or a sleep per job, all of a batch at once); resolves to jobs/s from the insert to the last
 * completion.
 */
async function bareBoss(url: string, sleepMs: number): Promise<number> {
  const boss = await bareQueue(url);
  let done = 0;
  let finished!: () => void;
  const all = new Promise<void>((resolve) => (finished = resolve));
  const start = performance.now();
  await boss.insert('bare', Array.from({ length: tasks }, (_, i) => ({ data: { i } })));
  await boss.work('bare', { batchSize: 64, pollingIntervalSeconds: 0.5 }, async (jobs) => {
    if (sleepMs > 0) await new Promise((resolve) => setTimeout(resolve, sleepMs));
    done += jobs.length;
    if (done >= tasks) setImmediate(finished);
  });
  await all;
  const seconds = (performance.now() - start) / 1000;
  await boss.stop({ graceful: false, close: true });
  return tasks / seconds;
}

/**
 * The fair peer row: the same jobs as bare pg-boss, consumed the way a taskmachine worker consumes
 * attempt jobs — up to $BENCH_WORKER_CONCURRENCY jobs in flight, `fetch` again as soon as a slot
 * frees (or at once after a full fetch), completions grouped: the jobs that ended while a
 * `complete` was in flight go in the next one. No lifecycle, no result records, no driver.
 */
async function bareBossFetchLoop(url: string, sleepMs: number): Promise<number> {
  const boss = await bareQueue(url);
  const cpu = measureCpu ? startCpuSplit([]) : undefined;
  const start = performance.now();
  await boss.insert('bare', Array.from({ length: tasks }, (_, i) => ({ data: { i } })));
  let inFlight = 0;
  let completed = 0;
  let ended: string[] = [];
  let completing: Promise<void> | undefined;
  let slotFreed: (() => void) | undefined;
  const completeEnded = (): void => {
    if (completing !== undefined || ended.length === 0) return;
    const ids = ended;
    ended = [];
    completing = boss.complete('bare', ids).then(() => {
      completed += ids.length;
      inFlight -= ids.length;
      completing = undefined;
      slotFreed?.();
      completeEnded();
    });
  };
  while (completed < tasks) {
    const free = workerConcurrency - inFlight;
    const jobs = free > 0 ? await boss.fetch('bare', { batchSize: free }) : [];
    inFlight += jobs.length;
    for (const job of jobs) {
      void (sleepMs > 0 ? new Promise((resolve) => setTimeout(resolve, sleepMs)) : Promise.resolve()).then(() => {
        ended.push(job.id);
        completeEnded();
      });
    }
    if (jobs.length > 0 && jobs.length === free) continue;
    // Nothing more to fetch now: wait until a completion frees slots (the queue may be empty).
    if (completed < tasks) await new Promise<void>((resolve) => (slotFreed = resolve));
    slotFreed = undefined;
  }
  const seconds = (performance.now() - start) / 1000;
  if (cpu !== undefined) cpuRows.push(cpuRow(sleepMs === 0 ? 'no-op' : `${sleepMs} ms-sleep`, `bare pg-boss jobs, fetch loop × ${workerConcurrency} (peer)`, cpu(tasks)));
  await boss.stop({ graceful: false, close: true });
  return tasks / seconds;
}

async function main(): Promise<void> {
  const external = process.env['TASKMACHINE_PG_URL'];
  const cluster =
    external === undefined
      ? await startPostgres({ durable: process.env['BENCH_PG_FSYNC'] !== 'off', settings: measureStatements ? { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track_planning': 'on' } : {} })
      : undefined;
  const url = external ?? cluster!.url;
  const rows: string[] = [];
  try {
    for (const [label, sleepMs] of [
      ['no-op tasks', 0],
      ['5 ms-sleep tasks', 5],
    ] as const) {
      if (only === 'workers') {
        const bare = await bareBossFetchLoop(url, sleepMs);
        const rate = await measure(url, sleepMs, 1);
        rows.push(`| ${label} | bare pg-boss jobs, a worker's fetch loop × ${workerConcurrency}, one process (peer) | ${bare.toFixed(0)} | |`);
        rows.push(`| ${label} | 1 worker × ${workerConcurrency} | ${rate.toFixed(0)} | ${(rate / bare).toFixed(2)}× peer |`);
        continue;
      }
      const local = await measure(url, sleepMs, 0);
      rows.push(`| ${label} | local (in the driver) | ${local.toFixed(0)} | 1.00 |`);
      const polled = await bareBoss(url, sleepMs);
      rows.push(`| ${label} | bare pg-boss jobs, its own \`work()\` poller, one process | ${polled.toFixed(0)} | ${(polled / local).toFixed(2)} |`);
      const bare = await bareBossFetchLoop(url, sleepMs);
      rows.push(`| ${label} | bare pg-boss jobs, a worker's fetch loop × ${workerConcurrency}, one process (peer) | ${bare.toFixed(0)} | ${(bare / local).toFixed(2)} |`);
      const bull = await bullmqPeer(tasks, sleepMs, workerConcurrency);
      rows.push(
        'rate' in bull
          ? `| ${label} | bare BullMQ jobs, one Worker × ${workerConcurrency}, private Redis (AOF, fsync every second) | ${bull.rate.toFixed(0)} | ${(bull.rate / local).toFixed(2)} |`
          : `| ${label} | bare BullMQ jobs | skipped: ${bull.skipped} | |`,
      );
      let one = 0;
      for (const workers of [1, 2, 4]) {
        const rate = await measure(url, sleepMs, workers);
        if (workers === 1) one = rate;
        const vsOne = workers === 1 ? '' : `, ${(rate / one).toFixed(2)}× one worker`;
        rows.push(`| ${label} | ${workers} worker${workers === 1 ? '' : 's'} × ${workerConcurrency} | ${rate.toFixed(0)} | ${(rate / local).toFixed(2)}${vsOne}, ${(rate / bare).toFixed(2)}× peer |`);
      }
      if (sleepMs === 0) {
        // What a user gets without tuning: worker --concurrency and the run's concurrency at their default, 16.
        const defaults = await measure(url, sleepMs, 1, 16, 16);
        rows.push(`| ${label} | 1 worker × 16, run concurrency 16 (the defaults) | ${defaults.toFixed(0)} | ${(defaults / local).toFixed(2)}, ${(defaults / bare).toFixed(2)}× peer |`);
      } else {
        // Scale-out where the workers are the bound: few slots each (as for task bodies that take
        // a worker's CPU), so a second worker adds capacity the driver still has to spare.
        let few = 0;
        for (const workers of [1, 2, 4]) {
          const rate = await measure(url, sleepMs, workers, fewSlots);
          if (workers === 1) few = rate;
          rows.push(`| ${label} | ${workers} worker${workers === 1 ? '' : 's'} × ${fewSlots} (the workers are the bound) | ${rate.toFixed(0)} | ${(rate / local).toFixed(2)}${workers === 1 ? '' : `, ${(rate / few).toFixed(2)}× one worker`} |`);
        }
      }
    }
  } finally {
    await cluster?.stop();
  }
  console.log(`${tasks.toLocaleString('en')} tasks per run (a map), run concurrency ${runConcurrency}, PostgreSQL with default durability, Node ${process.versions.node}\n`);
  console.log('| workload | attempts run on | tasks/s | × local |');
  console.log('|---|---|---:|---:|');
  for (const row of rows) console.log(row);
  if (commitRows.length > 0) {
    console.log('\nThe driver\'s commits (BENCH_COMMITS=1):\n');
    console.log('| workload | attempts run on | commits | median | share of the run |');
    console.log('|---|---|---:|---:|---:|');
    for (const row of commitRows) console.log(row);
  }
  if (cpuRows.length > 0) {
    console.log('\nCPU µs per task (BENCH_CPU=1; the peer rows: its one process under "driver"):\n');
    console.log('| workload | attempts run on | driver | workers | PostgreSQL | total |');
    console.log('|---|---|---:|---:|---:|---:|');
    for (const row of cpuRows) console.log(row);
  }
  if (measureStatements) {
    console.log('\nWhere PostgreSQL spent its time (BENCH_STATEMENTS=1, pg_stat_statements):');
    for (const row of statementRows) console.log(row);
  }
}

await main();
