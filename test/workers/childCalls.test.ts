// ctx().call in attempts on workers (executor 'workers', driver and worker in one process, on the
// private PostgreSQL cluster): the same flow gives the same states, results and child keys as a
// local run; a failing child rejects the call with ChildTaskFailedError; a worker of concurrency 1
// runs the child its only running attempt waits for; a retried parent reuses its succeeded child;
// a call waiting when its attempt is aborted (the run cancelled) rejects with the abort reason; a driver that adopts
// the run answers the requests its first driver left;
// a call to something that is no task of the flow is refused as locally; a request of an attempt
// its driver already ended is refused, and nothing runs for it.
import { afterEach, describe, expect, it } from 'vitest';
import { ChildTaskFailedError, ctx, flow, runFlow, startFlow, type Flow } from '../../src/index.ts';
import { memoryStore } from '../../src/stores/index.ts';
import { startWorker, type WorkerHandle } from '../../src/workers/index.ts';
import type { PostgresStore } from '../../src/stores/postgresStore.ts';
import { openStore, postgres, skipReason } from '../helpers/postgresTest.ts';

const workers: WorkerHandle[] = [];
afterEach(async () => {
  for (const worker of workers.splice(0)) await worker.stop({ graceMs: 0 });
});

const quiet = { log: () => {} };

async function onWorkers(f: Flow, runId: string, options: { concurrency?: number; store?: PostgresStore } = {}) {
  const store = options.store ?? (await openStore());
  const lines: string[] = [];
  workers.push(await startWorker({ store, flows: [f], concurrency: options.concurrency ?? 4, log: (line) => lines.push(line), adopt: false }));
  const run = await runFlow(f, { store, executor: 'workers', runId, log: (line) => lines.push(line) });
  return { run, store, lines };
}

/** Each instance's state, result and error message, by key. */
function outcomes(run: Awaited<ReturnType<typeof runFlow>>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(run.tasks).map(([key, task]) => [key, { state: task.state, result: task.result, error: task.error?.message, parentKey: task.parentKey }]),
  );
}

const pages = flow('pages', (f) => {
  const fetchPage = f.subtask('fetchPage', ({ input }: { input: { url: string } }) => `page ${input.url} (${ctx()!.taskKey})`);
  const square = f.subtask('square', ({ input }: { input: number }) => input * input);
  const crawl = f.task('crawl', async () => {
    const a = await ctx()!.call(fetchPage, { url: '/a' });
    const b = await ctx()!.call(fetchPage, { url: '/b' });
    return [a, b];
  });
  // Several calls at once, from each instance of a map.
  const list = f.task('list', () => [1, 2, 3]);
  f.map('squares', list, async ({ item }) => {
    const n = item as number;
    return Promise.all([ctx()!.call(square, n), ctx()!.call(square, n + 10)]);
  });
  f.task('after', ({ upstream }) => (upstream['crawl'] as string[]).length, { after: [crawl] });
});

describe.skipIf(postgres === undefined)(`ctx().call in attempts on workers${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`, () => {
  it('gives the same states, results and child keys as a local run (single and concurrent calls)', async () => {
    const { run, store, lines } = await onWorkers(pages, 'calls');
    expect(run.state, lines.join('\n')).toBe('success');
    const local = await runFlow(pages, { store: memoryStore(), runId: 'calls', ...quiet });
    expect(local.state).toBe('success');
    expect(outcomes(run)).toEqual(outcomes(local));
    expect(run.tasks['crawl']!.result).toEqual(['page /a (crawl/fetchPage#0)', 'page /b (crawl/fetchPage#1)']);
    expect(run.tasks['squares[2]']!.result).toEqual([9, 169]);
    const stored = await store.loadRun('calls');
    const keys = stored!.instances.map((instance) => instance.key).filter((key) => key.includes('/')).sort();
    expect(keys).toEqual([
      'crawl/fetchPage#0',
      'crawl/fetchPage#1',
      'squares[0]/square#0',
      'squares[0]/square#1',
      'squares[1]/square#0',
      'squares[1]/square#1',
      'squares[2]/square#0',
      'squares[2]/square#1',
    ]);
    // The children ran on the worker too, and every request was answered.
    const launches = await store.pool.query(`SELECT key FROM "${store.schema}".attempt_launches WHERE run_id = 'calls'`);
    expect(launches.rows.map((row) => row.key)).toEqual(expect.arrayContaining(keys));
    const calls = await store.pool.query(`SELECT status FROM "${store.schema}".attempt_calls WHERE run_id = 'calls'`);
    expect(calls.rows.map((row) => row.status)).toEqual(keys.map(() => 'answered'));
  });

  it('a failing child rejects the call with ChildTaskFailedError (caught: the parent succeeds; uncaught: it fails), as locally', async () => {
    const failing = flow('failing', (f) => {
      const broken = f.subtask('broken', () => {
        throw new Error('disk full');
      });
      f.task('catches', async () => {
        try {
          await ctx()!.call(broken);
          return 'not reached';
        } catch (error) {
          return {
            isChildTaskFailed: error instanceof ChildTaskFailedError,
            name: (error as Error).name,
            message: (error as Error).message,
            taskKey: (error as ChildTaskFailedError).taskKey,
            state: (error as ChildTaskFailedError).state,
            cause: ((error as Error).cause as Error | undefined)?.message,
          };
        }
      });
      f.task('throws', async () => ctx()!.call(broken));
    });
    const { run, lines } = await onWorkers(failing, 'failing');
    const local = await runFlow(failing, { store: memoryStore(), runId: 'failing', ...quiet });
    expect(run.state, lines.join('\n')).toBe('failed');
    expect(outcomes(run)).toEqual(outcomes(local));
    expect(run.tasks['catches']!.result).toEqual({
      isChildTaskFailed: true,
      name: 'ChildTaskFailedError',
      message: "child task instance 'catches/broken#0' ended failed",
      taskKey: 'catches/broken#0',
      state: 'failed',
      cause: 'disk full',
    });
    expect(run.tasks['throws']).toMatchObject({ state: 'failed', error: { message: "child task instance 'throws/broken#0' ended failed" } });
  });

  it('a worker of concurrency 1 runs the child its only running attempt waits for (no deadlock)', async () => {
    const nested = flow('nested', (f) => {
      const leaf = f.subtask('leaf', ({ input }: { input: number }) => input + 1);
      const middle = f.subtask('middle', async ({ input }: { input: number }) => (await ctx()!.call(leaf, input)) * 10);
      f.task('top', async () => [await ctx()!.call(middle, 1), await ctx()!.call(middle, 2)]);
    });
    const { run, lines } = await onWorkers(nested, 'nested', { concurrency: 1 });
    expect(run.state, lines.join('\n')).toBe('success');
    expect(run.tasks['top']!.result).toEqual([20, 30]);
    expect(run.tasks['top/middle#1/leaf#0']!.result).toBe(3);
  });

  it('a retried parent reuses the child that already succeeded: the child body runs once', async () => {
    let childRuns = 0;
    let parentRuns = 0;
    const reuse = flow('reuse', (f) => {
      const expensive = f.subtask('expensive', () => ++childRuns);
      f.task(
        'parent',
        async () => {
          parentRuns++;
          const value = await ctx()!.call(expensive);
          if (ctx()!.attempt === 1) throw new Error('the parent fails after its child succeeded');
          return value;
        },
        // One retry: the second attempt makes the same call, which the succeeded child answers.
        { retries: 1 },
      );
    });
    const { run, lines } = await onWorkers(reuse, 'reuse');
    expect(run.state, lines.join('\n')).toBe('success');
    expect(parentRuns).toBe(2);
    expect(childRuns).toBe(1);
    expect(run.tasks['parent']).toMatchObject({ state: 'success', result: 1, attempts: 2 });
    expect(run.tasks['parent/expensive#0']).toMatchObject({ state: 'success', attempts: 1 });
  });

  it('a call to something that is not a task of the flow is refused with the same message as locally', async () => {
    const other = flow('other', (f) => ({ elsewhere: f.subtask('elsewhere', () => 1) }));
    const strays = flow('strays', (f) => {
      f.task('parent', async () => {
        const messages: string[] = [];
        for (const ref of [other.refs.elsewhere, { id: 'nope', kind: 'subtask', flowId: 'strays' }, 'parent']) {
          try {
            await ctx()!.call(ref as never);
          } catch (error) {
            messages.push(`${(error as Error).name}: ${(error as Error).message}`);
          }
        }
        return messages;
      });
    });
    const { run, lines } = await onWorkers(strays, 'strays');
    const local = await runFlow(strays, { store: memoryStore(), runId: 'strays', ...quiet });
    expect(run.state, lines.join('\n')).toBe('success');
    expect(run.tasks['parent']!.result).toEqual(local.tasks['parent']!.result);
    expect(run.tasks['parent']!.result).toHaveLength(3);
    expect((run.tasks['parent']!.result as string[])[1]).toBe(
      "TypeError: ctx().call: task 'nope' is not a task of flow 'strays'; pass a reference returned by f.task/f.subtask of this flow",
    );
  });

  it("a call waiting when its attempt's signal aborts (the run is cancelled) rejects with the abort reason, before the child ends", async () => {
    let rejected: { message: string; childDone: boolean } | undefined;
    let childDone = false;
    let settle: () => void = () => {};
    const settled = new Promise<void>((resolve) => (settle = resolve));
    let childStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => (childStarted = resolve));
    let releaseChild: () => void = () => {};
    const childReleased = new Promise<void>((resolve) => (releaseChild = resolve));
    const slow = flow('slow', (f) => {
      const child = f.subtask('child', async () => {
        childStarted();
        await childReleased;
        childDone = true;
        return 'late';
      });
      f.task('parent', async () => {
        try {
          await ctx()!.call(child);
        } catch (error) {
          rejected = { message: (error as Error).message, childDone };
        } finally {
          settle();
        }
      });
    });
    const store = await openStore();
    const lines: string[] = [];
    workers.push(await startWorker({ store, flows: [slow], concurrency: 4, log: (line) => lines.push(line), adopt: false }));
    const handle = startFlow(slow, { store, executor: 'workers', runId: 'slow', log: (line) => lines.push(line) });
    // The call is under way (its child runs) when the driver ends the parent's attempt.
    await started;
    handle.cancel('enough');
    await settled;
    releaseChild();
    const run = await handle.done;
    expect(run, lines.join('\n')).toMatchObject({ state: 'failed', reason: expect.stringContaining('cancelled') });
    expect(rejected).toEqual({ message: 'the driver ended this attempt (timeout, cancel or a manual change), or gave it up as lost', childDone: false });
  });

  it('a driver that adopts the run answers the requests its first driver left unanswered; the child runs once', async () => {
    let childRuns = 0;
    let childStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => (childStarted = resolve));
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const handover = flow('handover', (f) => {
      const child = f.subtask('child', async ({ input }: { input: number }) => {
        childRuns++;
        childStarted();
        await released;
        return input * 2;
      });
      f.task('parent', async () => (await ctx()!.call(child, 21)) + 1);
    });
    const store = await openStore();
    const lines: string[] = [];
    workers.push(await startWorker({ store, flows: [handover], concurrency: 2, log: (line) => lines.push(line) }));
    const first = startFlow(handover, { store, executor: 'workers', runId: 'handover', log: (line) => lines.push(line) });
    await started;
    // The first driver goes away while the parent waits for its call: the worker adopts the run.
    await first.shutdown({ graceMs: 0 });
    const request = await store.pool.query(`SELECT status FROM "${store.schema}".attempt_calls WHERE run_id = 'handover'`);
    expect(request.rows).toEqual([{ status: 'requested' }]);
    release();
    let loaded = await store.loadRun('handover');
    for (let waited = 0; loaded?.run.state !== 'success' && waited < 20_000; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      loaded = await store.loadRun('handover');
    }
    expect(loaded?.run.state, lines.join('\n')).toBe('success');
    expect(lines.some((line) => line.includes("drives run 'handover'"))).toBe(true);
    const results = Object.fromEntries(loaded!.results.map((result) => [result.key, result.value]));
    expect(results).toEqual({ parent: 43, 'parent/child#0': 42 });
    expect(childRuns).toBe(1);
  });

  it('a request from an attempt its driver already ended (the run was cancelled) is refused, and nothing runs for it', async () => {
    let childRuns = 0;
    let refusal: unknown;
    let settle: () => void = () => {};
    const settled = new Promise<void>((resolve) => (settle = resolve));
    let parentStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => (parentStarted = resolve));
    const late = flow('late', (f) => {
      const child = f.subtask('child', () => ++childRuns);
      f.task('parent', async () => {
        // Ignores its signal, but calls only once it aborted: the driver certainly ended the
        // attempt (the worker learns of it from the launch), the worker still runs it.
        const signal = ctx()!.signal;
        parentStarted();
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        try {
          await ctx()!.call(child);
        } catch (error) {
          refusal = error;
        } finally {
          settle();
        }
      });
    });
    const store = await openStore();
    const lines: string[] = [];
    workers.push(await startWorker({ store, flows: [late], concurrency: 4, log: (line) => lines.push(line), adopt: false }));
    const handle = startFlow(late, { store, executor: 'workers', runId: 'late', log: (line) => lines.push(line) });
    await started;
    handle.cancel('enough');
    const run = await handle.done;
    expect(run, lines.join('\n')).toMatchObject({ state: 'failed', reason: expect.stringContaining('cancelled') });
    await settled;
    expect((refusal as Error).message).toBe(
      "ctx().call('child'): the calling attempt of 'parent' has already ended: its driver ended it (a timeout, a cancel, a manual change) or gave it up as lost; nothing was called",
    );
    const calls = await store.pool.query(`SELECT * FROM "${store.schema}".attempt_calls`);
    expect(calls.rows).toEqual([]);
    const stored = await store.loadRun('late');
    expect(stored!.instances.map((instance) => instance.key)).toEqual(['parent']);
    expect(childRuns).toBe(0);
  });
});
