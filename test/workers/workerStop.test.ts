// Stopping a worker (a deploy) on the private PostgreSQL cluster: as a run's graceful shutdown
// does, it aborts its running attempts with reason 'preempt'. A task that answers with
// TaskCheckpointed is parked with its progress, which its next attempt (on another worker) gets; a
// task that just fails on the abort is handed back and runs again elsewhere as the same attempt,
// using no retry (default retries: 0) and not counted toward maxInterruptions.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ctx, flow, startFlow, TaskCheckpointed } from '../../src/index.ts';
import type { PostgresStore } from '../../src/stores/index.ts';
import { startWorker, type WorkerHandle } from '../../src/workers/index.ts';
import { openStore, postgres, skipReason } from '../helpers/postgresTest.ts';
import { until } from '../helpers/sideLog.ts';

const workers: WorkerHandle[] = [];
afterEach(async () => {
  for (const worker of workers.splice(0)) await worker.stop({ graceMs: 0 });
});

/** What the bodies saw, in order: `key attempt what`. */
const seen: string[] = [];

const deploy = flow('deploy', (f) => {
  f.task(
    'train',
    async () => {
      const { attempt, resumeData, signal } = ctx()!;
      const from = resumeData as { epoch: number } | undefined;
      if (from !== undefined) {
        seen.push(`train ${attempt} resumed from epoch ${from.epoch}`);
        return `trained from epoch ${from.epoch}`;
      }
      seen.push(`train ${attempt} started`);
      // Works until told to stop; on 'preempt' it keeps its progress.
      return new Promise((_, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason === 'preempt' ? new TaskCheckpointed({ epoch: 3 }) : signal.reason), { once: true });
      });
    },
    // (resumeAfter 0: the parked task runs on as soon as a worker is there, without a resume-task.)
    { resumeAfter: 0 },
  );
  f.task('copy', async () => {
    const { attempt, signal } = ctx()!;
    const first = !seen.some((line) => line.startsWith('copy '));
    seen.push(`copy ${attempt} started`);
    ctx()!.log(`copying (first run: ${first})`);
    // The first run waits (a minute) and fails when its signal is aborted; the second returns.
    if (first) await sleep(60_000, undefined, { signal });
    return 'copied';
  });
});

describe.skipIf(postgres === undefined)(`stopping a worker${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`, () => {
  it("aborts its attempts with 'preempt': a checkpoint is kept for the next worker, a failure on the abort is handed back", async () => {
    seen.length = 0;
    const store = await openStore();
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);
    const first = await startWorker({ store, flows: [deploy], concurrency: 4, log, adopt: false });
    const handle = startFlow(deploy, { store, executor: 'workers', runId: 'deploy', log });
    await until('both tasks run on the first worker', () => first.running() === 2, 30_000, 20);
    // A grace period long enough that the stop returns because both attempts ended on 'preempt',
    // not because it ran out (then both would be handed back, the checkpoint never taken).
    await first.stop({ graceMs: 20_000 });
    expect(lines.join('\n')).toContain("1 attempt ended on 'preempt' without a result; handed back to their drivers");
    expect(lines.join('\n')).not.toContain('did not end within the grace period');
    workers.push(await startWorker({ store, flows: [deploy], concurrency: 4, log, adopt: false }));
    const run = await handle.done;
    expect(run.state, lines.join('\n')).toBe('success');
    expect(seen.sort()).toEqual(['copy 1 started', 'copy 1 started', 'train 1 resumed from epoch 3', 'train 1 started']);
    expect(run.tasks['train']).toMatchObject({ state: 'success', result: 'trained from epoch 3' });
    const copy = await store.pool.query(`SELECT state, attempt::int, interruptions::int FROM "${store.schema}".task_instances WHERE run_id = 'deploy' AND key = 'copy'`);
    // Run again as the same attempt: no retry used (retries: 0), and a deploy is not counted.
    expect(copy.rows).toEqual([{ state: 'success', attempt: 1, interruptions: 0 }]);
    const transitions = await store.pool.query(`SELECT to_state FROM "${store.schema}".transitions WHERE run_id = 'deploy' AND key = 'train' ORDER BY seq`);
    expect(transitions.rows.map((row) => row.to_state)).toContain('checkpointed');
    // The handed-back attempt's ctx().log lines are kept (taskmachine logs shows them), as a
    // checkpointed or finished attempt's are.
    const logged = await store.pool.query(`SELECT line FROM "${store.schema}".task_logs WHERE run_id = 'deploy' AND key = 'copy' ORDER BY seq`);
    expect(logged.rows.map((row) => row.line)).toEqual(['copying (first run: true)', 'copying (first run: false)']);
  }, 60_000);

  it('waits for an attempt that the fetch under way claimed (set up while the stop came), then stores its result', async () => {
    const store = await openStore();
    const events: string[] = [];
    let worker!: WorkerHandle;
    let stopping: Promise<void> | undefined;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const late = flow('late', (f) => {
      const a = f.task('a', () => 41);
      f.task(
        'b',
        async ({ upstream }) => {
          events.push('b started');
          await released; // ignores its signal: ends when the test says so
          events.push('b ended');
          return upstream.a + 1;
        },
        { after: [a] },
      );
    });
    // The stop comes just as the fetch that claimed 'b' returns: 'b' is then being set up (its
    // upstream value read from the store), neither running nor storing yet.
    const stopsAtClaim = new Proxy(store, {
      get(target, property) {
        if (property === 'transaction') {
          return async (doing: string, work: Parameters<PostgresStore['transaction']>[1]) => {
            const result = (await target.transaction(doing, work)) as { taken?: Array<{ job: { data: { key: string } } }> };
            if (doing === 'fetch and claim attempts' && stopping === undefined && result.taken?.some((taken) => taken.job.data.key === 'b')) {
              stopping = worker.stop({ graceMs: 60_000 }).then(() => void events.push('stop resolved'));
            }
            return result;
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    worker = await startWorker({ store: stopsAtClaim, flows: [late], concurrency: 2, log: () => {}, adopt: false });
    const handle = startFlow(late, { store, executor: 'workers', runId: 'late', log: () => {} });
    await until("'b' started", () => events.includes('b started'), 30_000, 10);
    expect(events).toEqual(['b started']);
    release();
    await stopping;
    expect(events).toEqual(['b started', 'b ended', 'stop resolved']);
    // Its result was stored (a result, even after 'preempt', is kept).
    const launch = await store.pool.query(`SELECT status FROM "${store.schema}".attempt_launches WHERE run_id = 'late' AND key = 'b'`);
    expect(launch.rows).toEqual([{ status: 'done' }]);
    await handle.shutdown({ graceMs: 0 });
  }, 60_000);
});
