// LISTEN/NOTIFY between drivers and workers (src/runtime/remote/notifications.ts), on the private
// PostgreSQL cluster: a notification arrives when its transaction commits (never for a rollback);
// the LISTEN connection is made again after it breaks and closed with the last subscription; a
// driver's commit of attempt jobs announces them to workers and a worker's commit of outcomes
// announces them to their run's driver — what lets both wait for each other without polling.
// Waits poll a condition with a deadline: notifications cross processes' connections.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flow, runFlow } from '../../src/index.ts';
import { startWorker, type WorkerHandle } from '../../src/workers/index.ts';
import { channelOf, listen, type Subscription } from '../../src/runtime/remote/notifications.ts';
import { readStored } from '../../src/runtime/remote/pollPlan.ts';
import { LaunchTable } from '../../src/runtime/remote/launchTable.ts';
import type { SqlSession } from '../../src/stores/postgresStore.ts';
import { openStore, postgres, skipReason } from '../helpers/postgresTest.ts';
import type { PostgresStore } from '../../src/stores/index.ts';

const subscriptions: Subscription[] = [];
const workers: WorkerHandle[] = [];
afterEach(async () => {
  for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
  for (const worker of workers.splice(0)) await worker.stop({ graceMs: 0 });
});

/** A NOTIFY per payload inside `db`'s transaction (delivered when it commits). */
async function notify(db: SqlSession, channel: string, payloads: readonly string[]): Promise<void> {
  await db.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [channel, payloads]);
}

async function until(what: string, seen: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await seen())) {
    if (Date.now() > deadline) throw new Error(`${what}: not seen within 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Backends of this store's LISTEN connection (by its application name and its LISTENs). */
async function listenBackends(store: PostgresStore): Promise<number[]> {
  const rows = await store.pool.query(`SELECT pid FROM pg_stat_activity WHERE application_name = 'taskmachine-listen' AND query LIKE $1`, [
    `%${channelOf(store.schema, 'queued').slice(0, 24)}%`,
  ]);
  return rows.rows.map((row) => Number(row.pid));
}

describe.skipIf(postgres === undefined)(`notifications between drivers and workers${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`, () => {
  it('names a channel per store schema and kind, short enough for the longest schema', () => {
    const long = 'a'.repeat(63);
    expect(channelOf(long, 'queued').length).toBeLessThanOrEqual(63);
    expect(channelOf('taskmachine', 'queued')).not.toBe(channelOf('taskmachine', 'stored'));
    expect(channelOf('taskmachine', 'queued')).not.toBe(channelOf('taskmachine_staging', 'queued'));
  });

  it('delivers what a transaction notified when it commits, nothing when it rolls back', async () => {
    const store = await openStore();
    const channel = channelOf(store.schema, 'stored');
    const heard: string[] = [];
    const subscription = listen(store, channel, (payload) => heard.push(payload));
    subscriptions.push(subscription);
    await until('the LISTEN', () => subscription.connected());

    await store.transaction('notify and roll back', async (db) => {
      await notify(db, channel, ['rolled-back']);
      throw Object.assign(new Error('roll back'), { expected: true });
    }).catch((error: { expected?: boolean }) => {
      if (error.expected !== true) throw error;
    });
    await store.transaction('notify', async (db) => {
      await notify(db, channel, ['run-a', 'run-b', 'run-a']);
      expect(heard).toEqual([]); // not before the commit
    });
    await until('both runs', () => heard.length >= 2);
    // (PostgreSQL folds equal notifications of one transaction; the rolled-back one never came.)
    expect([...heard].sort()).toEqual(['run-a', 'run-b']);
  });

  it('makes the connection again after it breaks, and closes it with the last subscription', async () => {
    const store = await openStore();
    const channel = channelOf(store.schema, 'queued');
    let heard = 0;
    const first = listen(store, channel, () => heard++);
    const second = listen(store, channel, () => heard++);
    await until('the LISTEN', () => first.connected() && second.connected());
    const [backend] = await listenBackends(store);
    expect(backend).toBeDefined();

    await store.pool.query('SELECT pg_terminate_backend($1)', [backend]);
    await until('the broken connection noticed', () => !first.connected());
    await until('the LISTEN made again', () => first.connected());
    expect(await listenBackends(store)).not.toContain(backend);
    await store.transaction('notify', (db) => notify(db, channel, ['']));
    await until('both handlers', () => heard === 2);

    first.unsubscribe();
    expect(second.connected()).toBe(true);
    second.unsubscribe();
    expect(second.connected()).toBe(false);
    await until('the connection closed', async () => (await listenBackends(store)).length === 0);
  });

  it('a subscription that leaves while the connection is still being made does not stop later ones', async () => {
    const store = await openStore();
    const channel = channelOf(store.schema, 'stored');
    const first = listen(store, channel, () => {});
    // (One turn of the event loop: the connection is being made, not made yet.)
    await new Promise((resolve) => setImmediate(resolve));
    expect(first.connected()).toBe(false);
    first.unsubscribe();
    const later = listen(store, channel, () => {});
    subscriptions.push(later);
    await until('the LISTEN of the later subscription', () => later.connected());
  });

  it('a driver announces the jobs it commits, a worker the outcomes it stores (with the run id and the launches)', async () => {
    const store = await openStore();
    const queued: string[] = [];
    const stored: string[] = [];
    subscriptions.push(listen(store, channelOf(store.schema, 'queued'), (payload) => queued.push(payload)));
    subscriptions.push(listen(store, channelOf(store.schema, 'stored'), (payload) => stored.push(payload)));
    await until('the LISTENs', () => subscriptions.every((subscription) => subscription.connected()));
    const twoSteps = flow('two-steps', (f) => {
      const first = f.task('first', () => 1);
      f.task('second', ({ upstream }) => (upstream['first'] as number) + 1, { after: [first] });
    });
    workers.push(await startWorker({ store, flows: [twoSteps], log: () => {}, adopt: false }));
    const run = await runFlow(twoSteps, { store, executor: 'workers', runId: 'announced', log: () => {} });
    expect(run.state).toBe('success');
    await until('the notifications', () => queued.length >= 2 && stored.length >= 2);
    // One commit of jobs per task here (the second waits for the first), one of outcomes per task.
    expect(queued.length).toBe(2);
    // Each names the launch whose outcome it stored: the driver's poll reads just that row.
    const notes = stored.map(readStored);
    expect(notes.map((note) => note.runId)).toEqual(['announced', 'announced']);
    const launches = await store.pool.query(`SELECT launch_id FROM "${store.schema}".attempt_launches WHERE run_id = 'announced' ORDER BY seq`);
    expect(notes.map((note) => note.launchIds)).toEqual(launches.rows.map((row: { launch_id: string }) => [row.launch_id]));
  });

  it("a poll a worker's notification wakes reads just the launches it names, not every launch in flight", async () => {
    const store = await openStore();
    // One slot on the worker and 24 attempts in flight: outcomes come one at a time while most
    // launches wait, so a poll that read every launch in flight would read more than those waiting.
    const fan = flow('fan', (f) => {
      const items = f.task('items', () => Array.from({ length: 24 }, (_, i) => i));
      f.map('each', items, async ({ item }) => {
        await new Promise((resolve) => setTimeout(resolve, 15));
        return item;
      });
    });
    workers.push(await startWorker({ store, flows: [fan], concurrency: 1, log: () => {}, adopt: false }));
    const polls: Array<{ read: number; waiting: number }> = [];
    const poll = LaunchTable.prototype.poll;
    const spy = vi.spyOn(LaunchTable.prototype, 'poll').mockImplementation(async function (this: LaunchTable, db, runId, ids) {
      const waiting = await store.pool.query(`SELECT count(*)::int AS n FROM "${store.schema}".attempt_launches WHERE run_id = $1 AND status IN ('queued', 'running')`, [runId]);
      polls.push({ read: ids.length, waiting: waiting.rows[0].n });
      return poll.call(this, db, runId, ids);
    });
    try {
      const run = await runFlow(fan, { store, executor: 'workers', runId: 'fan', concurrency: 32, log: () => {} });
      expect(run.state).toBe('success');
      expect(Object.keys(run.tasks)).toHaveLength(25);
    } finally {
      spy.mockRestore();
    }
    // (Every launch in flight is at least every launch still queued or running.)
    expect(polls.filter((p) => p.read < p.waiting).length, JSON.stringify(polls)).toBeGreaterThan(0);
  });

  it('a driver that ends an attempt running on a worker tells that worker (with its id), which aborts the attempt’s signal', async () => {
    const store = await openStore();
    const aborted: string[] = [];
    subscriptions.push(listen(store, channelOf(store.schema, 'aborted'), (payload) => aborted.push(payload)));
    await until('the LISTEN', () => subscriptions.every((subscription) => subscription.connected()));
    const reasons: string[] = [];
    const slow = flow('slow', (f) => {
      // Ends only when its signal aborts; the task's timeout (the driver's) ends the attempt first.
      f.task('wait', ({ ctx }) => new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(void reasons.push(String((ctx.signal.reason as Error).message))))), { timeout: 200 });
    });
    const worker = await startWorker({ store, flows: [slow], log: () => {}, adopt: false });
    workers.push(worker);
    const run = await runFlow(slow, { store, executor: 'workers', runId: 'timed-out', log: () => {} });
    expect(run.state).toBe('failed');
    expect(run.tasks['wait']?.state).toBe('failed');
    await until('the worker told', () => aborted.length > 0);
    expect(aborted).toEqual([worker.id]);
    await until('the signal aborted on the worker', () => reasons.length > 0);
    expect(reasons).toEqual(['the driver ended this attempt (timeout, cancel or a manual change), or gave it up as lost']);
  });
});
