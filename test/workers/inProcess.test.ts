// executor 'workers' with the driver and a worker in one process, on the private PostgreSQL
// cluster: every attempt runs through a pg-boss job and an attempt launch; results, retries,
// a map and a checkpoint behave as with executor 'local'; a worker with another definition of the
// flow refuses the run's attempts and says so; runFlow refuses executor 'workers' without postgres.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { storeEndedAttemptLogs } from '../../src/runtime/remote/attemptLogs.ts';
import { flow, runFlow, startFlow, ctx } from '../../src/index.ts';
import { memoryStore } from '../../src/stores/index.ts';
import { startWorker, type WorkerHandle } from '../../src/workers/index.ts';
import { openStore, postgres, skipReason } from '../helpers/postgresTest.ts';
import { databaseOfItsOwn } from '../helpers/cliChild.ts';
import { main } from '../../src/cli/main.ts';
import { createTestClock } from '../../src/testing/index.ts';
import { postgresStore } from '../../src/stores/index.ts';
import { ATTEMPT_QUEUE, bossSchema } from '../../src/runtime/remote/attemptQueue.ts';

/** The quoted schema of a store's pg-boss tables. */
const bossSchemaOf = (store: { schema: string }): string => `"${bossSchema(store.schema)}"`;

const workers: WorkerHandle[] = [];
afterEach(async () => {
  for (const worker of workers.splice(0)) await worker.stop({ graceMs: 0 });
});

const shapes = flow('shapes', (f) => {
  const list = f.task('list', () => [1, 2, 3, 4, 5]);
  const square = f.map('square', list, ({ item }) => (item as number) * (item as number));
  const total = f.task('total', ({ upstream }) => (upstream['square'] as number[]).reduce((a, b) => a + b, 0), { after: [square] });
  f.task(
    'saved',
    async () => {
      const seen = ((await ctx()!.checkpoint.load()) as number | undefined) ?? 0;
      await ctx()!.checkpoint.save(seen + 1);
      return `saved ${seen + 1} on attempt ${ctx()!.attempt}`;
    },
    { after: [total] },
  );
});

describe.skipIf(postgres === undefined)(`executor 'workers' in one process${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`, () => {
  it('runs every attempt on the worker, with the same results as a local run', async () => {
    const store = await openStore();
    const lines: string[] = [];
    workers.push(await startWorker({ store, flows: [shapes], concurrency: 4, log: (line) => lines.push(line), adopt: false }));
    const run = await runFlow(shapes, { store, executor: 'workers', runId: 'w1', log: (line) => lines.push(line) });
    expect(run.state, lines.join('\n')).toBe('success');
    const local = await runFlow(shapes, { store: memoryStore(), runId: 'l1' });
    for (const [key, task] of Object.entries(local.tasks)) {
      expect(run.tasks[key]?.state).toBe(task.state);
      expect(run.tasks[key]?.result).toEqual(task.result);
    }
    const launches = await store.pool.query(`SELECT key, status, worker FROM "${store.schema}".attempt_launches WHERE run_id = 'w1'`);
    expect(launches.rows).toHaveLength(Object.keys(run.tasks).length);
    expect(new Set(launches.rows.map((row) => row.status))).toEqual(new Set(['done']));
    const loaded = await store.loadRun('w1');
    expect(loaded!.results).toHaveLength(Object.keys(run.tasks).length);
  });

  it("stores the ctx().log lines of attempts on workers, prints them in the driver's log and gives them to its listeners", async () => {
    const store = await openStore();
    const chatty = flow('chatty', (f) => {
      const list = f.task('list', () => {
        ctx()!.log('listing', 2, 'items');
        ctx()!.log('y'.repeat(5_000));
        return ['a', 'b'];
      });
      f.map('each', list, ({ item }) => {
        ctx()!.log(`item ${String(item)}`);
        return item;
      });
    });
    const workerLines: string[] = [];
    workers.push(await startWorker({ store, flows: [chatty], concurrency: 4, log: (line) => workerLines.push(line), adopt: false }));
    const driverLines: string[] = [];
    const heard: string[] = [];
    const run = await runFlow(chatty, {
      store,
      executor: 'workers',
      runId: 'logs',
      log: (line) => driverLines.push(line),
      listeners: [{ onTaskInstanceLog: ({ taskKey, attempt, message }) => void heard.push(`${taskKey}#${attempt} ${message}`) }],
    });
    expect(run.state, driverLines.join('\n')).toBe('success');
    const stored = await store.readTaskLogs('logs');
    // A line longer than taskLogLimits.lineLength is cut once, on the worker (not again by the driver).
    const long = `${'y'.repeat(4_096)}… (904 more characters)`;
    expect(stored.map(({ key, taskId, attempt, line }) => `${key} ${taskId}#${attempt} ${line}`).sort()).toEqual([
      'each[0] each#1 item a',
      'each[1] each#1 item b',
      'list list#1 listing 2 items',
      `list list#1 ${long}`,
    ]);
    expect(stored.map((line) => line.seq)).toEqual([1, 2, 3, 4]);
    expect(heard.sort()).toEqual(['each[0]#1 item a', 'each[1]#1 item b', 'list#1 listing 2 items', `list#1 ${long}`]);
    expect(driverLines).toContain('[list#1] listing 2 items');
    // The worker prints them too (its own terminal), naming the run.
    expect(workerLines).toContain('[logs list#1] listing 2 items');
  });

  it('stores the ctx().log lines of an attempt its driver ended while it ran (the worker appends them, once)', async () => {
    const store = await openStore();
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => (started = resolve));
    const stubborn = flow('stubborn', (f) => {
      f.task('wait', async () => {
        ctx()!.log('waiting for the remote side');
        started();
        await new Promise((resolve) => ctx()!.signal.addEventListener('abort', resolve, { once: true }));
        ctx()!.log('gave up:', (ctx()!.signal.reason as Error).message);
      });
    });
    const workerLines: string[] = [];
    workers.push(await startWorker({ store, flows: [stubborn], log: (line) => workerLines.push(line), adopt: false }));
    const handle = startFlow(stubborn, { store, executor: 'workers', runId: 'ended', log: () => {} });
    await running;
    handle.cancel('enough');
    expect((await handle.done).state).toBe('failed');
    const told = /the outcome of attempt 1 of 'wait' \(run 'ended'\) was not stored: its driver ended the attempt or gave it up as lost; its 2 log line\(s\) were stored/;
    await vi.waitFor(() => expect(workerLines.some((line) => told.test(line)), workerLines.join('\n')).toBe(true), { timeout: 15_000, interval: 20 });
    const stored = await store.readTaskLogs('ended');
    expect(stored.map(({ seq, key, attempt, line }) => `${seq} ${key}#${attempt} ${line}`)).toEqual([
      '1 wait#1 waiting for the remote side',
      '2 wait#1 gave up: the driver ended this attempt (timeout, cancel or a manual change), or gave it up as lost',
    ]);
    // Once: a second try (a commit repeated after a lost reply) finds the launch's outcome kept.
    const launch = await store.pool.query(`SELECT launch_id, worker, status FROM "${store.schema}".attempt_launches WHERE run_id = 'ended'`);
    expect(launch.rows[0]?.status).toBe('aborted');
    const again = await storeEndedAttemptLogs(store, launch.rows[0]!.worker as string, { launchId: launch.rows[0]!.launch_id as string, runId: 'ended', key: 'wait', taskId: 'wait', attempt: 1 }, '{}', [{ at: 1, line: 'again' }]);
    expect(again).not.toContain('were stored');
    expect(await store.readTaskLogs('ended')).toHaveLength(2);
  });

  it('a worker with another definition of the flow refuses the attempts, with one log line', async () => {
    const store = await openStore();
    const other = flow('shapes', (f) => {
      f.task('list', () => [9]);
    });
    const lines: string[] = [];
    workers.push(await startWorker({ store, flows: [other], concurrency: 2, log: (line) => lines.push(line), adopt: false }));
    const driverLines: string[] = [];
    const handle = (await import('../../src/index.ts')).startFlow(shapes, { store, executor: 'workers', runId: 'stale', log: (line) => driverLines.push(line) });
    const deadline = Date.now() + 30_000;
    while (!driverLines.some((line) => line.includes('waits for a worker'))) {
      if (Date.now() > deadline) throw new Error(`no refusal seen; worker said: ${lines.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const refusals = lines.filter((line) => line.includes("refusing the attempts of run 'stale'"));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatch(/definition sha256:[0-9a-f]{12}, the run's is sha256:[0-9a-f]{12}/);
    expect(driverLines.find((line) => line.includes('waits for a worker'))).toContain("attempt 1 of 'list' waits for a worker");
    await handle.shutdown({ graceMs: 0 });
  });

  // A mixed deployment (a worker without the flow, or with an older definition, beside workers with
  // the right one): the refusing worker must not keep taking the run's jobs from the others. Before,
  // each refused job went back with a 2 s delay and the idle refuser fetched it (and the run's
  // other jobs) again and again, stalling the run for seconds at a time.
  it("a worker that refused a run's attempts hands them back at once and leaves the run's jobs to the workers that can run them", async () => {
    const store = await openStore();
    const many = flow('many', (f) => {
      const list = f.task('list', () => Array.from({ length: 30 }, (_, i) => i));
      f.map('each', list, ({ item }) => (item as number) + 1);
    });
    const elsewhere = flow('elsewhere', (f) => {
      f.task('x', () => 1);
    });
    workers.push(await startWorker({ store, flows: [elsewhere], concurrency: 1, log: () => {}, adopt: false }));
    const handle = startFlow(many, { store, executor: 'workers', runId: 'mixed', log: () => {} });
    // The refuser alone: it takes the run's one job ('list') and hands it back.
    const refused = async () =>
      (await store.pool.query(`SELECT launch_id FROM "${store.schema}".attempt_launches WHERE run_id = 'mixed' AND refusal IS NOT NULL`)).rows;
    const deadline = Date.now() + 30_000;
    while ((await refused()).length === 0) {
      if (Date.now() > deadline) throw new Error('the worker without the flow never refused the attempt');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const [{ launch_id: launchId }] = await refused();
    const handedBack = await store.pool.query(
      `SELECT start_after <= now() AS ready, group_id FROM ${bossSchemaOf(store)}.job WHERE name = $1 AND data->>'launchId' = $2 AND state = 'created'`,
      [ATTEMPT_QUEUE, launchId],
    );
    expect(handedBack.rows).toEqual([{ ready: true, group_id: expect.stringContaining('"mixed"') }]);
    // Now a worker with the flow: it runs everything; the refuser takes none of the 30 mapped jobs.
    workers.push(await startWorker({ store, flows: [many], concurrency: 4, log: () => {}, adopt: false }));
    const run = await handle.settled();
    expect(run.state).toBe('success');
    const jobs = await store.pool.query(`SELECT count(*)::int AS n FROM ${bossSchemaOf(store)}.job WHERE name = $1 AND data->>'runId' = 'mixed'`, [ATTEMPT_QUEUE]);
    const launches = await store.pool.query(`SELECT count(*)::int AS n FROM "${store.schema}".attempt_launches WHERE run_id = 'mixed'`);
    expect(launches.rows[0].n).toBe(31);
    // One job per launch, and the one handed back.
    expect(jobs.rows[0].n).toBe(32);
  });

  // The most common mistake with executor 'workers': no worker runs (or none loaded the flow).
  // The run's clock is a test clock, so "10 s without a worker" needs no waiting.
  it('says when no worker takes the attempts: one driver log line, and status names the fix', async () => {
    const { url } = await databaseOfItsOwn(postgres!.url, 'u');
    // The CLI's status reads the default schema: this test's own database keeps it apart.
    const store = await postgresStore({ connectionString: url, retryDelayMs: 0, reconnectForMs: 0 });
    const clock = createTestClock(Date.now() - 60_000);
    const driverLines: string[] = [];
    const handle = startFlow(shapes, { store, executor: 'workers', runId: 'alone', clock, log: (line) => driverLines.push(line) });
    try {
      const until = async (what: string, seen: () => boolean): Promise<void> => {
        const deadline = Date.now() + 30_000;
        while (!seen()) {
          if (Date.now() > deadline) throw new Error(`${what} not seen; the driver said: ${driverLines.join('\n')}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      const launched = async () => (await store.pool.query(`SELECT count(*)::int AS n FROM "${store.schema}".attempt_launches WHERE run_id = 'alone'`)).rows[0].n as number;
      let count = 0;
      await until('the first launch', () => (void launched().then((n) => (count = n)), count > 0));
      await clock.advance(9_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(driverLines.filter((line) => line.includes('no worker has taken an attempt'))).toEqual([]);
      await clock.advance(1_000);
      await until('the notice', () => driverLines.some((line) => line.includes('no worker has taken an attempt')));
      await clock.advance(30_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const notices = driverLines.filter((line) => line.includes('no worker has taken an attempt'));
      expect(notices).toEqual([
        "taskmachine: no worker has taken an attempt of run 'alone' for 10 s (1 waiting: 'list'): is one running with this flow? Start one with 'taskmachine worker <the flow file> --store <this store>' — a worker runs attempts of the flows it loaded (flow 'shapes' here).",
      ]);

      let stdout = '';
      const code = await main(['status', 'alone', '--store', url], { stdout: (text) => (stdout += text), stderr: (text) => (stdout += text), cwd: process.cwd() });
      expect(code, stdout).toBe(0);
      expect(stdout).toMatch(/Not progressing: 1 attempt \(list#1\) has waited \d+ s and no worker took it\.\n {2}Is a worker running with this flow\? Start one with:\n {4}taskmachine worker <the flow file> --store /);
      expect(stdout).not.toContain(new URL(postgres!.url).password || '\u0000');

      // A worker comes: it takes the attempts, and status no longer says so.
      workers.push(await startWorker({ store, flows: [shapes], concurrency: 4, log: () => {}, adopt: false }));
      expect((await handle.done).state, driverLines.join('\n')).toBe('success');
      stdout = '';
      expect(await main(['status', 'alone', '--store', url], { stdout: (text) => (stdout += text), stderr: (text) => (stdout += text), cwd: process.cwd() })).toBe(0);
      expect(stdout).not.toContain('Not progressing');
    } finally {
      await handle.shutdown({ graceMs: 0 });
      await store.close();
    }
  });

  // Workers busy with another run's attempts are not "no worker": no notice, however long it waits.
  it('says nothing when the workers are busy with another run', async () => {
    const store = await openStore();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const slow = flow('slow', (f) => {
      f.task('hold', () => released);
    });
    // One slot, taken by run A's attempt for as long as the test wants.
    workers.push(await startWorker({ store, flows: [slow, shapes], concurrency: 1, log: () => {}, adopt: false }));
    const first = startFlow(slow, { store, executor: 'workers', runId: 'busy-a', log: () => {} });
    const holding = async (): Promise<boolean> =>
      (await store.pool.query(`SELECT 1 FROM "${store.schema}".attempt_launches WHERE run_id = 'busy-a' AND status = 'running'`)).rows.length > 0;
    const deadline = Date.now() + 30_000;
    while (!(await holding())) {
      if (Date.now() > deadline) throw new Error('run A never ran');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const clock = createTestClock(Date.now());
    const driverLines: string[] = [];
    const second = startFlow(shapes, { store, executor: 'workers', runId: 'busy-b', clock, log: (line) => driverLines.push(line) });
    while ((await store.pool.query(`SELECT 1 FROM "${store.schema}".attempt_launches WHERE run_id = 'busy-b'`)).rows.length === 0) {
      if (Date.now() > deadline) throw new Error('run B launched nothing');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await clock.advance(60_000);
    // Several polls (every 20 ms) and a busy check (at most once a second of the run's clock) happen meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await clock.advance(5_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(driverLines.filter((line) => line.includes('no worker has taken'))).toEqual([]);
    release();
    expect((await first.done).state).toBe('success');
    expect((await second.done).state, driverLines.join('\n')).toBe('success');
  });

  it("frees a worker's slot when its attempt ends, while the outcome is still being stored", async () => {
    const store = await openStore();
    const started: string[] = [];
    const release = new Map<string, () => void>();
    const gated = (key: string) => () =>
      new Promise<string>((resolve) => {
        started.push(key);
        release.set(key, () => resolve(key));
      });
    const three = flow('three', (f) => {
      f.task('a', gated('a'));
      f.task('b', gated('b'));
      f.task('c', gated('c'));
    });
    const until = async (what: string, seen: () => boolean): Promise<void> => {
      const deadline = Date.now() + 15_000;
      while (!seen()) {
        if (Date.now() > deadline) throw new Error(`${what} not seen (started: ${started.join(', ')})`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    // Two slots (the default 16 would run all three at once), three tasks.
    workers.push(await startWorker({ store, flows: [three], concurrency: 2, log: () => {}, adopt: false }));
    const done = runFlow(three, { store, executor: 'workers', runId: 'slots', log: () => {} });
    await until('two attempts', () => started.length === 2);
    const [first, second] = started as [string, string];
    // The first attempt's outcome cannot be stored while this transaction holds its launch row.
    const holder = await store.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM "${store.schema}".attempt_launches WHERE run_id = 'slots' AND key = $1 FOR UPDATE`, [first]);
      release.get(first)!();
      // Its slot is free anyway: the third attempt starts while the second still runs.
      await until('the third attempt', () => started.length === 3);
      expect(started[2]).not.toBe(second);
    } finally {
      await holder.query('COMMIT');
      holder.release();
    }
    release.get(second)!();
    await until('the third attempt', () => release.has(started[2]!));
    release.get(started[2]!)!();
    const run = await done;
    expect(run.state).toBe('success');
    expect(Object.values(run.tasks).map((task) => task.result).sort()).toEqual(['a', 'b', 'c']);
  });

  it("refuses executor 'workers' without the PostgreSQL store, naming the fix", async () => {
    await expect(runFlow(shapes, { store: memoryStore(), executor: "workers" })).rejects.toThrow(/executor 'workers' needs the PostgreSQL store/);
  });
});
