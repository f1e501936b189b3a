// Notifications wake drivers and workers — not only announce: with every backstop poll that runs
// while notifications arrive pushed ten minutes away, a worker still takes each job the moment its
// driver commits it, the driver still applies each outcome the moment a worker stores it, and a
// worker still aborts an attempt its driver ended. Were a wake-up lost, the run (or the attempt)
// would wait those ten minutes and the test would time out. (notifications.test.ts shows what is
// sent; the polls alone would pass it.)
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flow, runFlow } from '../../src/index.ts';
import { startWorker, type WorkerHandle } from '../../src/workers/index.ts';
import { channelOf, listen, type Subscription } from '../../src/runtime/remote/notifications.ts';
import { openStore, postgres, skipReason } from '../helpers/postgresTest.ts';

const TEN_MINUTES = vi.hoisted(() => 600_000);

vi.mock('../../src/runtime/remote/timing.ts', async (importOriginal) => {
  const { WORKER_TIMING } = await importOriginal<typeof import('../../src/runtime/remote/timing.ts')>();
  // Only the polls made while a LISTEN connection is up (and the heartbeat, which would otherwise
  // learn of an ended attempt within a second) move; the polls before the connection stay short.
  return { WORKER_TIMING: Object.freeze({ ...WORKER_TIMING, notifiedPollMs: TEN_MINUTES, notifiedIdlePollMs: TEN_MINUTES, heartbeatMs: TEN_MINUTES }) };
});

const subscriptions: Subscription[] = [];
const workers: WorkerHandle[] = [];
afterEach(async () => {
  for (const worker of workers.splice(0)) await worker.stop({ graceMs: 0 });
  for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
});

/**
 * The process's LISTEN connection on `store` is up and listens on every channel before the run
 * starts (the driver and worker share it): a job committed before the worker listened would wait
 * for a ten-minute poll here, which is the backstop's job, not what this file tests.
 */
async function listening(store: Awaited<ReturnType<typeof openStore>>): Promise<void> {
  for (const kind of ['queued', 'stored', 'aborted'] as const) subscriptions.push(listen(store, channelOf(store.schema, kind), () => {}));
  await vi.waitFor(() => expect(subscriptions.every((subscription) => subscription.connected())).toBe(true), { timeout: 15_000, interval: 10 });
}

describe.skipIf(postgres === undefined)(`notifications wake drivers and workers${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`, () => {
  it('a run of layers and a map finishes with every notified poll ten minutes away', async () => {
    const store = await openStore();
    await listening(store);
    const layers = flow('layers', (f) => {
      const first = f.task('first', () => [1, 2, 3]);
      const doubled = f.map('doubled', first, ({ item }) => (item as number) * 2);
      f.task('sum', ({ upstream }) => (upstream['doubled'] as number[]).reduce((a, b) => a + b, 0), { after: [doubled] });
    });
    // Started once the connection listens: its first idle wait is already a ten-minute one.
    workers.push(await startWorker({ store, flows: [layers], concurrency: 2, log: () => {}, adopt: false }));
    const run = await runFlow(layers, { store, executor: 'workers', runId: 'woken', log: () => {} });
    expect(run.state).toBe('success');
    expect(run.tasks['sum']?.result).toBe(12);
  }, 20_000);

  it('a worker aborts the signal of an attempt its driver timed out, told by notification', async () => {
    const store = await openStore();
    await listening(store);
    const reasons: string[] = [];
    const slow = flow('slow', (f) => {
      // Ends only when its signal aborts; the driver's timeout ends the attempt first.
      f.task('wait', ({ ctx }) => new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(void reasons.push(String((ctx.signal.reason as Error).message))))), { timeout: 100 });
    });
    workers.push(await startWorker({ store, flows: [slow], log: () => {}, adopt: false }));
    const run = await runFlow(slow, { store, executor: 'workers', runId: 'woken-abort', log: () => {} });
    expect(run.tasks['wait']?.state).toBe('failed');
    await vi.waitFor(() => expect(reasons).toEqual(['the driver ended this attempt (timeout, cancel or a manual change), or gave it up as lost']), { timeout: 15_000, interval: 10 });
  }, 20_000);
});
