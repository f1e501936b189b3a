// Attempt jobs carry references, not values: a map over a big list makes small jobs (each mapped
// instance no longer carries the whole list), the worker reads the run's input and the upstream
// results from the store once (a bounded cache shared by attempts) and hands tasks exactly what a
// local run hands them: equal values, deeply frozen, the item being the list's element.
import { afterEach, describe, expect, it } from 'vitest';
import { flow, runFlow } from '../../src/index.ts';
import { memoryStore } from '../../src/stores/index.ts';
import { startWorker, type WorkerHandle } from '../../src/workers/index.ts';
import { randomUUID } from 'node:crypto';
import { acquireBoss, bossSchema, releaseBoss, ATTEMPT_QUEUE } from '../../src/runtime/remote/attemptQueue.ts';
import { definitionHash } from '../../src/flow/flowShape.ts';
import { StoredValues } from '../../src/workers/storedValues.ts';
import { openStore, postgres, skipReason } from '../helpers/postgresTest.ts';

const workers: WorkerHandle[] = [];
afterEach(async () => {
  for (const worker of workers.splice(0)) await worker.stop({ graceMs: 0 });
});

type Row = { readonly i: number; readonly label: string };

const ROWS = 400;

const refs = flow('refs', (f) => {
  const list = f.task('list', ({ input }) =>
    Array.from({ length: (input as { n: number }).n }, (_, i): Row => ({ i, label: `row ${i} `.repeat(10) })),
  );
  const each = f.map('each', list, ({ item, upstream, input, mapIndex }) => {
    const row = item as Row;
    const rows = upstream['list'] as readonly Row[];
    return {
      i: row.i,
      mapIndex,
      itemIsElement: rows[mapIndex] === row,
      itemFrozen: Object.isFrozen(row),
      listLength: rows.length,
      inputN: (input as { n: number }).n,
      inputFrozen: Object.isFrozen(input),
    };
  });
  const nothing = f.task('nothing', () => undefined);
  f.task(
    'total',
    ({ upstream }) => {
      const results = upstream['each'] as ReadonlyArray<{ i: number }>;
      return {
        count: results.length,
        sum: results.reduce((sum, r) => sum + r.i, 0),
        nothing: upstream['nothing'],
        listFrozen: Object.isFrozen(upstream['list']),
        eachFrozen: Object.isFrozen(upstream['each']),
        elementFrozen: Object.isFrozen(results[0]),
        keys: Object.keys(upstream),
        nullPrototype: Object.getPrototypeOf(upstream) === null,
      };
    },
    { after: [each, nothing, list] },
  );
});

describe.skipIf(postgres === undefined)(`attempt jobs carry references${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`, () => {
  it('a map over a big list makes small jobs, and the worker computes what a local run computes', async () => {
    const store = await openStore();
    const lines: string[] = [];
    workers.push(await startWorker({ store, flows: [refs], concurrency: 8, log: (line) => lines.push(line), adopt: false }));
    const input = { n: ROWS };
    const run = await runFlow(refs, { store, executor: 'workers', runId: 'refs1', input, log: (line) => lines.push(line) });
    expect(run.state, lines.join('\n')).toBe('success');
    const local = await runFlow(refs, { store: memoryStore(), runId: 'local1', input });
    expect(Object.keys(run.tasks).sort()).toEqual(Object.keys(local.tasks).sort());
    for (const [key, task] of Object.entries(local.tasks)) {
      expect(run.tasks[key]?.state, key).toBe(task.state);
      expect(run.tasks[key]?.result, key).toEqual(task.result);
    }
    expect(run.tasks['each[7]']?.result).toEqual({ i: 7, mapIndex: 7, itemIsElement: true, itemFrozen: true, listLength: ROWS, inputN: ROWS, inputFrozen: true });
    expect(run.tasks['total']?.result).toEqual({
      count: ROWS,
      sum: (ROWS * (ROWS - 1)) / 2,
      nothing: undefined,
      listFrozen: true,
      eachFrozen: false, // a new list per attempt, as a local run makes it
      elementFrozen: true,
      keys: ['each', 'nothing', 'list'],
      nullPrototype: true,
    });

    // The jobs: none carries the list (≈ 40 KB stored); a mapped instance's job is a few hundred bytes.
    const listChars = (await store.pool.query(`SELECT length(value) AS n FROM "${store.schema}".results WHERE run_id = 'refs1' AND key = 'list'`)).rows[0].n;
    expect(listChars).toBeGreaterThan(30_000);
    const jobs = await store.pool.query(
      `SELECT data->>'key' AS key, length(data::text) AS chars FROM "${bossSchema(store.schema)}".job WHERE name = $1 AND data->>'runId' = 'refs1'`,
      [ATTEMPT_QUEUE],
    );
    expect(jobs.rows.length).toBe(ROWS + 3);
    const largest = Math.max(...jobs.rows.map((row) => Number(row.chars)));
    expect(largest).toBeLessThan(2_000);
  });

  it("a restored upstream whose newest result is older than its attempt count is read by that result's attempt", async () => {
    // As after: success on attempt 1, cleared, attempt 2 failed, set to success by hand, then the
    // run restored: the upstream value is attempt 1's result (the newest record of the key).
    const pair = flow('pair', (f) => {
      const a = f.task('a', () => ({ v: 42 }));
      f.task('b', ({ upstream }) => upstream['a'], { after: [a] });
    });
    const store = await openStore();
    const first = await runFlow(pair, { store, runId: 'restored' });
    expect(first.state).toBe('success');
    const t = `"${store.schema}"`;
    await store.pool.query(`UPDATE ${t}.runs SET state = 'running', ended_at = NULL WHERE run_id = 'restored'`);
    await store.pool.query(`UPDATE ${t}.task_instances SET attempt = 2, max_attempts = 2 WHERE run_id = 'restored' AND key = 'a'`);
    await store.pool.query(`UPDATE ${t}.task_instances SET state = 'none', attempt = 0, ended_at = NULL, started_at = NULL WHERE run_id = 'restored' AND key = 'b'`);
    await store.pool.query(`DELETE FROM ${t}.results WHERE run_id = 'restored' AND key = 'b'`);
    const lines: string[] = [];
    workers.push(await startWorker({ store, flows: [pair], concurrency: 2, log: (line) => lines.push(line), adopt: false }));
    const resumed = await runFlow(pair, { store, runId: 'restored', resume: true, executor: 'workers', log: (line) => lines.push(line) });
    expect(resumed.state, lines.join('\n')).toBe('success');
    expect(resumed.tasks['b']?.result).toEqual({ v: 42 });
  });

  it('a worker refuses a job in the older format (values in the job), visibly', async () => {
    const store = await openStore();
    const lines: string[] = [];
    workers.push(await startWorker({ store, flows: [refs], concurrency: 2, log: (line) => lines.push(line), adopt: false }));
    const acquired = acquireBoss(store);
    const boss = await acquired;
    try {
      const data = { launchId: randomUUID(), runId: 'old', flowId: 'refs', flowHash: definitionHash(refs), key: 'list', taskId: 'list', attempt: 1, payload: '{"json":{}}' };
      await boss.insert(ATTEMPT_QUEUE, [{ data }]);
      const deadline = Date.now() + 20_000;
      while (!lines.some((line) => line.includes("refusing the attempts of run 'old'"))) {
        if (Date.now() > deadline) throw new Error(`no refusal seen: ${lines.join('\n')}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(lines.find((line) => line.includes("run 'old'"))).toMatch(/its job is in format 1 \(this worker runs format 2\)/);
    } finally {
      await releaseBoss(store, acquired);
    }
  });

  it('a worker reads each stored value once per run and session, shares reads in flight, and stays within its bound', async () => {
    const store = await openStore();
    const run = await runFlow(refs, { store, runId: 'stored', input: { n: 5 } });
    expect(run.state).toBe('success');
    const values = new StoredValues(store);
    const list = [{ id: 'list', key: 'list', attempt: 1 }] as const;
    const [a, b] = await Promise.all([values.upstream('stored', 's1', list), values.upstream('stored', 's1', list)]);
    expect(values.recordsRead).toBe(1);
    expect(a['list']).toBe(b['list']);
    expect(a['list']).toEqual(run.tasks['list']!.result);
    expect(Object.isFrozen(a['list'])).toBe(true);
    const each = [{ id: 'each', count: 5, attempts: 1 }] as const;
    const mapped = await values.upstream('stored', 's1', each);
    expect(mapped['each']).toEqual([0, 1, 2, 3, 4].map((i) => run.tasks[`each[${i}]`]!.result));
    expect(values.recordsRead).toBe(6);
    await values.upstream('stored', 's1', [...list, ...each]);
    expect(values.recordsRead).toBe(6);
    // Another session of the run (a driver that opened it again) reads afresh.
    await values.upstream('stored', 's2', list);
    expect(values.recordsRead).toBe(7);
    expect(await values.input('stored', 's1')).toEqual({ n: 5 });
    // Attempt 0 and a missing key are `undefined`; a record that is not stored is an error.
    const partial = await values.upstream('stored', 's1', [{ id: 'each', count: 3, attempts: [1, 0, 1] }, { id: 'nothing' }]);
    expect(partial['each']).toEqual([run.tasks['each[0]']!.result, undefined, run.tasks['each[2]']!.result]);
    expect(partial['nothing']).toBeUndefined();
    await expect(values.upstream('stored', 's1', [{ id: 'list', key: 'list', attempt: 2 }])).rejects.toThrow(/attempt 2 of 'list'.*not in the store/);

    const small = new StoredValues(store, { values: 2 });
    await small.upstream('stored', 's1', each);
    expect(small.size).toBe(2);
  });
});
