// What RunPersistence commits and when: one batch per flush with everything recorded since the
// last (nothing when nothing changed), instance writes compare-and-set on the version the previous
// write produced, flushes during a commit coalesced into the next batch, flushes inside inOneBatch
// held until its end, every batch fenced with the lease token, nothing more after the first failed
// commit, and nothing at all once the run let go (detach).
import { beforeEach, describe, expect, it } from 'vitest';
import { FLOW_RUN_MACHINE_VERSION } from '../../machines/index.ts';
import { createTestClock } from '../../src/clock.ts';
import { flow } from '../../src/index.ts';
import { flowShape } from '../../src/flow/flowShape.ts';
import { TaskInstance } from '../../src/runtime/instances/taskInstance.ts';
import { RunPersistence } from '../../src/runtime/subscribers/persistence.ts';
import { LeaseLostError, memoryStore, type CommitBatch, type Store, type StoredRun } from '../../src/stores/index.ts';
import { makeRun } from '../stores/fixtures/records.ts';

const definition = flow('etl', (f) => {
  f.task('a', () => 1);
  f.task('b', () => 2);
  f.task('c', () => 3);
});

interface Harness {
  store: Store;
  batches: CommitBatch[];
  persistence: RunPersistence;
  failures: Error[];
  clock: ReturnType<typeof createTestClock>;
  /** Holds the store's next commits until `release()`. */
  hold(): () => void;
  /** From now on every commit rejects with `error`. */
  failWith(error: Error): void;
  commitCalls: number;
}

async function harness(run: StoredRun = makeRun('r', { machineVersion: FLOW_RUN_MACHINE_VERSION, taskIds: ['a', 'b', 'c'] })): Promise<Harness> {
  const store = memoryStore();
  await store.commit({ runId: 'r', run });
  const batches: CommitBatch[] = [];
  const commit = store.commit.bind(store);
  let gate: Promise<void> | undefined;
  let failure: Error | undefined;
  const h: Harness = {
    store,
    batches,
    persistence: undefined as unknown as RunPersistence,
    failures: [],
    clock: createTestClock(100_000),
    hold() {
      let release!: () => void;
      gate = new Promise<void>((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
    failWith(error) {
      failure = error;
    },
    commitCalls: 0,
  };
  store.commit = (async (batch: CommitBatch, ...rest: unknown[]) => {
    h.commitCalls++;
    if (gate !== undefined) await gate;
    if (failure !== undefined) throw failure;
    const result = await (commit as (b: CommitBatch, ...r: unknown[]) => ReturnType<Store['commit']>)(batch, ...rest);
    batches.push(batch);
    return result;
  }) as Store['commit'];
  h.persistence = new RunPersistence(store, run, h.clock, (error) => void h.failures.push(error));
  return h;
}

/** An instance of task `id`, moved none → scheduled (recorded as a transition). */
function scheduled(h: Harness, id: string): TaskInstance {
  const instance = instanceOf(id);
  h.persistence.onTransition(instance, 'none', 'scheduled', { type: 'SCHEDULE' } as never);
  return instance;
}

/** An instance of task `id` in `state` at attempt 1 (not recorded anywhere). */
function instanceOf(id: string, state: TaskInstance['state'] = 'scheduled'): TaskInstance {
  const instance = new TaskInstance({ key: id, task: definition.task(id)! });
  instance.state = state;
  instance.context = { ...instance.context, attempt: 1 };
  return instance;
}

const keys = (batch: CommitBatch | undefined) => batch?.instances?.map((i) => i.record.key);

describe('what a batch holds', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });

  it('nothing recorded: no commit at all', async () => {
    await h.persistence.flush(1_000);
    await h.persistence.settled();
    expect(h.commitCalls).toBe(0);
  });

  it('each kind of change alone makes a batch: the run record, a touched instance, a removed one, a control answer, a log line', async () => {
    h.persistence.updateRun({ state: 'running', reason: null, startedAt: 500, endedAt: undefined }, 600);
    await h.persistence.flush(600);
    expect(h.batches.at(-1)).toEqual({ runId: 'r', run: { ...h.persistence.run } });
    expect(h.batches.at(-1)!.run).toMatchObject({ state: 'running', startedAt: 500, updatedAt: 600, machineVersion: FLOW_RUN_MACHINE_VERSION });

    const a = instanceOf('a');
    h.persistence.touch(a);
    await h.persistence.flush(700);
    expect(h.batches).toHaveLength(2);
    expect(Object.keys(h.batches[1]!).sort()).toEqual(['instances', 'runId']);
    expect(h.batches[1]!.instances).toEqual([{ record: expect.objectContaining({ key: 'a', state: 'scheduled', createdAt: 700, updatedAt: 700 }), expectedVersion: 0 }]);

    h.persistence.remove(a);
    await h.persistence.flush(800);
    expect(h.batches).toHaveLength(3);
    expect(h.batches[2]).toEqual({ runId: 'r', deleteInstances: [{ key: 'a', expectedVersion: 1 }] });

    h.persistence.settleControl({ id: 1, status: 'applied', error: undefined, settledAt: 900 } as never);
    const settled = h.batches.length;
    await h.persistence.flush(900).catch(() => {});
    expect(h.commitCalls).toBe(settled + 1);

    const fresh = await harness();
    fresh.persistence.log(a, 1, 'line one', 950);
    expect(fresh.persistence.logsPending).toBe(true);
    await fresh.persistence.flush(1_000);
    expect(fresh.persistence.logsPending).toBe(false);
    expect(fresh.batches).toHaveLength(1);
    expect(fresh.batches[0]!.logs).toEqual([{ key: 'a', taskId: 'a', attempt: 1, at: 950, line: 'line one' }]);
  });

  it('a transition writes the instance and the transition; a SUCCEED also its result record (the attempt, the value)', async () => {
    const a = scheduled(h, 'a');
    a.state = 'success';
    a.result = { rows: 3 };
    a.context = { ...a.context, attempt: 2, maxAttempts: 2 };
    h.persistence.onTransition(a, 'running', 'success', { type: 'SUCCEED' } as never);
    const b = scheduled(h, 'b');
    void b;
    await h.persistence.flush(2_000);
    expect(h.failures).toEqual([]);
    expect(h.batches).toHaveLength(1);
    const batch = h.batches[0]!;
    expect(keys(batch)).toEqual(['a', 'b']);
    expect(batch.transitions).toEqual([
      { key: 'a', from: 'none', to: 'scheduled', event: 'SCHEDULE', at: 100_000 },
      { key: 'a', from: 'running', to: 'success', event: 'SUCCEED', at: 100_000 },
      { key: 'b', from: 'none', to: 'scheduled', event: 'SCHEDULE', at: 100_000 },
    ]);
    expect(batch.results).toEqual([{ key: 'a', attempt: 2, value: { rows: 3 }, at: 100_000 }]);
    expect(batch.run).toBeUndefined();
  });

  it('each write expects the version the previous one produced and keeps the first write time as createdAt', async () => {
    const a = scheduled(h, 'a');
    await h.persistence.flush(1_000);
    expect(a.version).toBe(1);
    expect(a.storedAt).toBe(1_000);
    a.state = 'queued';
    h.persistence.onTransition(a, 'scheduled', 'queued', { type: 'QUEUE' } as never);
    await h.persistence.flush(2_000);
    expect(h.batches[1]!.instances).toEqual([{ record: expect.objectContaining({ key: 'a', state: 'queued', createdAt: 1_000, updatedAt: 2_000 }), expectedVersion: 1 }]);
    expect(a.version).toBe(2);
    expect((await h.store.loadRun('r'))!.instances[0]).toMatchObject({ key: 'a', state: 'queued', version: 2, createdAt: 1_000 });
  });

  it('removing an instance never stored deletes nothing and drops its pending write', async () => {
    const a = instanceOf('a');
    h.persistence.touch(a);
    h.persistence.remove(a);
    await h.persistence.flush(1_000);
    expect(h.commitCalls).toBe(0);
    const b = scheduled(h, 'b');
    await h.persistence.flush(1_100);
    h.persistence.touch(b);
    h.persistence.remove(b);
    await h.persistence.flush(1_200);
    expect(h.batches[1]).toEqual({ runId: 'r', deleteInstances: [{ key: 'b', expectedVersion: 1 }] });
    expect((await h.store.loadRun('r'))!.instances).toEqual([]);
  });

  it('labels, the task list and the shape go with the run record of the next batch; the shape only once', async () => {
    h.persistence.addLabels({ trace: 't-1' }, 300);
    h.persistence.recordTaskIds(['a', 'b', 'c', 'd']);
    const shape = flowShape(definition);
    h.persistence.recordShape(shape, 'hash-2');
    await h.persistence.flush(400);
    expect(h.batches[0]).toMatchObject({ shape, run: { labels: { trace: 't-1' }, taskIds: ['a', 'b', 'c', 'd'], flowHash: 'hash-2', updatedAt: 300 } });
    h.persistence.addLabels({ span: 's-1' }, 500);
    await h.persistence.flush(500);
    expect(h.batches[1]!.shape).toBeUndefined();
    expect(h.batches[1]!.run!.labels).toEqual({ trace: 't-1', span: 's-1' });
    for (const record of [() => h.persistence.recordTaskIds(['a']), () => h.persistence.recordShape(shape, 'hash-3')]) {
      const before = h.batches.length;
      record();
      await h.persistence.flush(600);
      expect(h.batches).toHaveLength(before + 1);
    }
  });

  it('log lines are bounded here (NUL replaced) unless a worker bounded them already', async () => {
    const a = new TaskInstance({ key: 'a', task: definition.task('a')! });
    h.persistence.log(a, 1, 'nul\u0000here', 10);
    h.persistence.log(a, 1, 'raw\u0000kept', 11, true);
    await h.persistence.flush(20);
    expect(h.batches[0]!.logs!.map((l) => l.line)).toEqual(['nul\uFFFDhere', 'raw\u0000kept']);
  });
});

describe('after the run lets go (detach)', () => {
  it('what was recorded and not yet committed is dropped, and nothing recorded later is written', async () => {
    const h = await harness();
    const a = scheduled(h, 'a');
    await h.persistence.flush(1_000);
    const stored = h.batches.length;
    // Everything a batch can carry, then detach.
    h.persistence.updateRun({ state: 'running', reason: null, startedAt: 1, endedAt: undefined }, 1_100);
    a.state = 'success';
    h.persistence.onTransition(a, 'running', 'success', { type: 'SUCCEED' } as never);
    h.persistence.remove(scheduled(h, 'b'));
    h.persistence.remove(a);
    h.persistence.settleControl({ id: 1, status: 'applied', error: undefined, settledAt: 1 } as never);
    h.persistence.log(a, 1, 'line', 1);
    h.persistence.recordShape(flowShape(definition), 'h');
    h.persistence.detach();
    await h.persistence.flush(1_200);
    expect(h.commitCalls).toBe(stored);
    // Recorded after detaching: nothing either.
    const c = new TaskInstance({ key: 'c', task: definition.task('c')! });
    h.persistence.updateRun({ state: 'failed', reason: 'cancelled', startedAt: 1, endedAt: 2 }, 1_300);
    h.persistence.addLabels({ x: 'y' }, 1_300);
    h.persistence.recordTaskIds(['a']);
    h.persistence.recordShape(flowShape(definition), 'h2');
    h.persistence.touch(c);
    h.persistence.onTransition(c, 'none', 'scheduled', { type: 'SCHEDULE' } as never);
    h.persistence.remove(a);
    h.persistence.settleControl({ id: 2, status: 'applied', error: undefined, settledAt: 1 } as never);
    h.persistence.log(c, 1, 'line', 1);
    expect(h.persistence.logsPending).toBe(false);
    await h.persistence.flush(1_400);
    expect(h.commitCalls).toBe(stored);
    expect((await h.store.getRun('r'))!.state).toBe('running');
    expect((await h.store.loadRun('r'))!.instances.map((i) => [i.key, i.state])).toEqual([['a', 'scheduled']]);
  });
});

describe('commits in turn', () => {
  it('flushes during a commit coalesce into one next batch (made when the commit ends); an idle flush commits at once with its own time', async () => {
    const h = await harness();
    const release = h.hold();
    const a = scheduled(h, 'a');
    const first = h.persistence.flush(1_000);
    scheduled(h, 'b');
    const second = h.persistence.flush(1_001);
    scheduled(h, 'c');
    const third = h.persistence.flush(1_002);
    expect(third).toBe(second);
    expect(h.persistence.settled()).toBe(second);
    release();
    await first;
    await third;
    expect(h.batches.map(keys)).toEqual([['a'], ['b', 'c']]);
    // The coalesced batch was made when the commit ended, at the run clock's time.
    expect(h.batches[1]!.instances![0]!.record.updatedAt).toBe(100_000);
    // Idle again: the next flush commits at once, with the time it was given.
    a.state = 'queued';
    h.persistence.onTransition(a, 'scheduled', 'queued', { type: 'QUEUE' } as never);
    await h.persistence.flush(3_000);
    expect(h.batches[2]!.instances![0]!.record).toMatchObject({ key: 'a', updatedAt: 3_000 });
  });

  it('every batch carries the lease token as of its commit; none without one', async () => {
    const h = await harness();
    scheduled(h, 'a');
    await h.persistence.flush(1_000);
    expect(h.batches[0]).not.toHaveProperty('leaseToken');
    expect(h.persistence.leaseToken).toBeUndefined();
    await h.store.acquireLease({ runId: 'r', owner: { ownerId: 'me', host: 'h', pid: 1 }, ttlMs: 30_000, now: 100_000 });
    h.persistence.fence(1);
    expect(h.persistence.leaseToken).toBe(1);
    scheduled(h, 'b');
    await h.persistence.flush(1_100);
    expect(h.batches[1]!.leaseToken).toBe(1);
  });

  it('a run whose lease was taken over writes nothing more: the store refuses its batch (LeaseLostError), onFailure hears it once', async () => {
    const h = await harness();
    await h.store.acquireLease({ runId: 'r', owner: { ownerId: 'me', host: 'h', pid: 1 }, ttlMs: 30_000, now: 100_000 });
    h.persistence.fence(1);
    await h.store.acquireLease({ runId: 'r', owner: { ownerId: 'other', host: 'h', pid: 2 }, ttlMs: 30_000, now: 200_000 });
    scheduled(h, 'a');
    await h.persistence.flush(1_000);
    expect(h.failures).toHaveLength(1);
    expect(h.failures[0]).toBeInstanceOf(LeaseLostError);
    expect(h.persistence.failure).toBe(h.failures[0]);
    expect((await h.store.loadRun('r'))!.instances).toEqual([]);
  });

  it('after a failed commit nothing more is handed to the store, and the failure is reported once', async () => {
    const h = await harness();
    const asked: CommitBatch[] = [];
    h.persistence.within = (batch) => void asked.push(batch);
    h.failWith(new Error('disk I/O error'));
    scheduled(h, 'a');
    const failed = h.persistence.flush(1_000);
    scheduled(h, 'b');
    // (Coalesced while the failing commit is in flight: made after it, then dropped.)
    const coalesced = h.persistence.flush(1_001);
    await failed;
    await coalesced;
    expect(h.commitCalls).toBe(1);
    expect(h.failures.map((e) => e.message)).toEqual(['disk I/O error']);
    expect(h.persistence.failure!.message).toBe('disk I/O error');
    // Not even made: work that would go with it (within) is not asked for.
    expect(asked.map(keys)).toEqual([['a']]);
    scheduled(h, 'c');
    await h.persistence.flush(2_000);
    expect(asked.map(keys)).toEqual([['a']]);
    h.persistence.waitFor(Promise.reject(new Error('lease lost')));
    await h.persistence.settled();
    expect(h.commitCalls).toBe(1);
    expect(h.failures).toHaveLength(1);
  });

  it('waitFor holds later commits until it settles; a rejection is the store failure (nothing written, onFailure once)', async () => {
    const h = await harness();
    let ready!: () => void;
    h.persistence.waitFor(new Promise<void>((resolve) => (ready = resolve)));
    scheduled(h, 'a');
    const flushed = h.persistence.flush(1_000);
    await h.clock.advance(0);
    expect(h.commitCalls).toBe(0);
    ready();
    await flushed;
    expect(h.batches.map(keys)).toEqual([['a']]);

    const other = await harness();
    other.persistence.waitFor(Promise.reject(new Error('the lease is held by another process')));
    scheduled(other, 'a');
    await other.persistence.flush(1_000);
    expect(other.commitCalls).toBe(0);
    expect(other.failures.map((e) => e.message)).toEqual(['the lease is held by another process']);
    expect(other.persistence.failure).toBe(other.failures[0]);
  });

  it('inOneBatch: the flushes inside (nested ones too) make one batch at its end, and their promises resolve when it is committed', async () => {
    const h = await harness();
    let inner: Promise<void> | undefined;
    let a!: TaskInstance;
    h.persistence.inOneBatch(() => {
      a = scheduled(h, 'a');
      inner = h.persistence.flush(1_000);
      h.persistence.inOneBatch(() => {
        scheduled(h, 'b');
        void h.persistence.flush(1_001);
      }, () => 1_001);
      expect(h.commitCalls).toBe(0);
      scheduled(h, 'c');
      void h.persistence.flush(1_002);
    }, () => 5_000);
    expect(h.persistence.settled()).not.toBe(inner);
    await inner;
    expect(h.batches.map(keys)).toEqual([['a', 'b', 'c']]);
    expect(h.batches[0]!.instances![0]!.record.updatedAt).toBe(5_000);
    // Without a flush inside, what it recorded is committed at its end all the same.
    h.persistence.inOneBatch(() => {
      a.state = 'queued';
      h.persistence.onTransition(a, 'scheduled', 'queued', { type: 'QUEUE' } as never);
    }, () => 6_000);
    await h.persistence.settled();
    expect(h.batches.map(keys)).toEqual([['a', 'b', 'c'], ['a']]);
  });

  it('work that must commit with a batch (within) goes into the same store commit, then committedWithin is told', async () => {
    const h = await harness();
    const calls: string[] = [];
    const commit = h.store.commit.bind(h.store);
    h.store.commit = (async (batch: CommitBatch, within?: (db: unknown) => Promise<void>) => {
      calls.push(within === undefined ? 'commit' : 'commit+within');
      if (within !== undefined) await within('session');
      return commit(batch);
    }) as Store['commit'];
    h.persistence.committedWithin = () => void calls.push('committedWithin');
    h.persistence.within = (batch) => (batch.instances?.some((i) => i.record.key !== 'b') ? async (db) => void calls.push(`jobs in ${String(db)}`) : undefined);
    scheduled(h, 'a');
    await h.persistence.flush(1_000);
    scheduled(h, 'b');
    await h.persistence.flush(1_100);
    expect(calls).toEqual(['commit+within', 'jobs in session', 'committedWithin', 'commit']);
    // Nobody to tell: the commit is as good.
    h.persistence.committedWithin = undefined;
    scheduled(h, 'c');
    await h.persistence.flush(1_200);
    expect(h.failures).toEqual([]);
    expect(h.batches.map(keys)).toEqual([['a'], ['b'], ['c']]);
  });
});
