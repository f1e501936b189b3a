// The contract every Store implementation must satisfy. Each implementation's test file calls
// defineStoreContract with a factory; a later PostgreSQL store runs the very same suite.
import { afterEach, describe, expect, it } from 'vitest';
import { RunOwnedError } from '../../src/errors.ts';
import { LeaseLostError, StoreConflictError, StoreError, StoreSerializationError, type CommitBatch, type LeaseOwner, type Store } from '../../src/stores/index.ts';
import { makeInstance, makeRun } from './fixtures/records.ts';
import { defineRowContract, type RawRowWriter } from './rowContract.ts';
import { defineShapeAndLogContract } from './shapeLogContract.ts';

export { makeInstance, makeRun };
export type { RawRow, RawRowWriter } from './rowContract.ts';

/** Everything a store holds about one run, for "nothing changed" comparisons. */
async function snapshotRun(store: Store, runId: string, checkpointKeys: readonly string[] = []) {
  return {
    loaded: await store.loadRun(runId),
    log: await store.readTransitionLog(runId),
    checkpoints: await Promise.all(checkpointKeys.map((key) => store.loadCheckpoint(runId, key))),
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

/**
 * Defines the store contract suite for one implementation. `makeStore` returns a fresh, empty
 * store for every test; the suite closes it afterwards. `rawRows` writes a column of a stored row
 * past the store (for the cases that need a row the store would never write); without it those
 * cases are skipped. `shapeTable` is the table the store keeps a run's shape in (what a
 * `StoreRowError` for a bad stored shape must name).
 */
export function defineStoreContract(name: string, makeStore: () => Store | Promise<Store>, rawRows?: RawRowWriter, shapeTable: 'runs' | 'run_shapes' = 'runs'): void {
  describe(`Store contract: ${name}`, () => {
    const opened: Store[] = [];
    const fresh = async (): Promise<Store> => {
      const store = await makeStore();
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
    });

    /** A store holding run r1 with instances a (v1) and b (v1). */
    async function seeded(): Promise<Store> {
      const store = await fresh();
      await store.commit({
        runId: 'r1',
        run: makeRun('r1'),
        instances: [{ record: makeInstance('a'), expectedVersion: 0 }, { record: makeInstance('b') }],
        transitions: [
          { key: 'a', from: 'none', to: 'scheduled', event: 'SCHEDULE', at: 1_000 },
          { key: 'b', from: 'none', to: 'scheduled', event: 'SCHEDULE', at: 1_000 },
        ],
      });
      return store;
    }

    describe('runs', () => {
      it('creates a run with the batch that carries it, reads it back, replaces it on the next upsert', async () => {
        const store = await fresh();
        expect(await store.getRun('r1')).toBeUndefined();
        const result = await store.commit({ runId: 'r1', run: makeRun('r1') });
        expect(result).toEqual({ versions: new Map(), lastSeq: 0 });
        expect(await store.getRun('r1')).toEqual(makeRun('r1'));
        const finished = makeRun('r1', { state: 'failed', reason: 'task_failure', updatedAt: 2_000, endedAt: 2_000 });
        await store.commit({ runId: 'r1', run: finished });
        expect(await store.getRun('r1')).toEqual(finished);
        expect(await store.loadRun('r1')).toEqual({ run: finished, instances: [], results: [] });
      });

      it('rejects a batch for a run that does not exist (and does not create one)', async () => {
        const store = await fresh();
        const error = await rejection(store.commit({ runId: 'ghost', instances: [{ record: makeInstance('a') }] }));
        expect(error).toBeInstanceOf(StoreError);
        expect((error as Error).message).toMatch(/run 'ghost' does not exist/);
        expect(await store.getRun('ghost')).toBeUndefined();
        expect(await store.listRuns()).toEqual([]);
      });

      it('rejects a batch whose run record names another run, or whose fields are invalid, writing nothing', async () => {
        const store = await seeded();
        const before = await snapshotRun(store, 'r1');
        await expect(store.commit({ runId: 'r1', run: makeRun('r2') })).rejects.toThrow(/differs from batch.runId/);
        await expect(
          store.commit({ runId: 'r1', instances: [{ record: makeInstance('c', { state: 'bogus' as never }) }] }),
        ).rejects.toThrow(/not a task-instance state/);
        await expect(
          store.commit({ runId: 'r1', instances: [{ record: makeInstance('c'), expectedVersion: -1 }] }),
        ).rejects.toThrow(/expectedVersion/);
        await expect(store.commit({ runId: 'r1', results: [{ key: 'a', attempt: 0, value: 1, at: 1 }] })).rejects.toThrow(
          /attempt must be an integer ≥ 1/,
        );
        expect(await snapshotRun(store, 'r1')).toEqual(before);
      });

      it('an empty batch for an existing run changes nothing', async () => {
        const store = await seeded();
        const before = await snapshotRun(store, 'r1');
        expect(await store.commit({ runId: 'r1' })).toEqual({ versions: new Map(), lastSeq: 2 });
        expect(await snapshotRun(store, 'r1')).toEqual(before);
      });

      it('round-trips labels through getRun, loadRun and listRuns; {} stays {}, undefined stays undefined', async () => {
        const store = await fresh();
        const labels = { flowFile: 'flows/etl.ts', flowExport: 'etl', 'with space': '', ünïcode: '✓' };
        await store.commit({ runId: 'labelled', run: makeRun('labelled', { labels }) });
        await store.commit({ runId: 'empty', run: makeRun('empty', { labels: {}, createdAt: 2_000 }) });
        await store.commit({ runId: 'none', run: makeRun('none', { labels: undefined, createdAt: 3_000 }) });

        expect(await store.getRun('labelled')).toStrictEqual(makeRun('labelled', { labels }));
        expect((await store.loadRun('labelled'))?.run).toStrictEqual(makeRun('labelled', { labels }));
        expect((await store.getRun('empty'))?.labels).toStrictEqual({});
        const none = (await store.getRun('none'))!;
        expect(none).toStrictEqual(makeRun('none', { createdAt: 3_000 }));
        expect('labels' in none && none.labels === undefined).toBe(true);

        const listed = await store.listRuns();
        expect(listed.map((r) => [r.runId, r.labels])).toStrictEqual([
          ['none', undefined],
          ['empty', {}],
          ['labelled', labels],
        ]);
        expect(listed.every((r) => 'labels' in r)).toBe(true);

        // the whole record is replaced: new labels replace the old ones, undefined removes them
        await store.commit({ runId: 'labelled', run: makeRun('labelled', { labels: { flowFile: 'other.ts' } }) });
        expect((await store.getRun('labelled'))?.labels).toStrictEqual({ flowFile: 'other.ts' });
        await store.commit({ runId: 'labelled', run: makeRun('labelled', { labels: undefined }) });
        expect((await store.getRun('labelled'))?.labels).toBeUndefined();
      });

      it('rejects labels that are not a plain object of strings, naming the key, writing nothing', async () => {
        const store = await seeded();
        const before = await snapshotRun(store, 'r1');
        const attempt = (labels: unknown) => store.commit({ runId: 'r1', run: makeRun('r1', { labels: labels as Record<string, string> }) });

        const error = await rejection(attempt({ flowFile: 'flows/etl.ts', retries: 3 }));
        expect(error).toBeInstanceOf(StoreError);
        expect((error as Error).message).toMatch(/run 'r1': labels\["retries"\] must be a string, got number.*Nothing was written/);
        await expect(attempt({ flowFile: undefined })).rejects.toThrow(/labels\["flowFile"\] must be a string, got undefined/);
        await expect(attempt({ when: new Date(0) })).rejects.toThrow(/labels\["when"\] must be a string, got object/);
        await expect(attempt(null)).rejects.toThrow(/labels must be a plain object of strings or undefined, got null/);
        await expect(attempt(['flows/etl.ts'])).rejects.toThrow(/labels must be .* got an array/);
        await expect(attempt(new Map([['flowFile', 'x']]))).rejects.toThrow(/labels must be .* got a Map/);
        await expect(attempt('flows/etl.ts')).rejects.toThrow(/labels must be .* got string/);
        await expect(attempt(JSON.parse('{"__proto__":"x"}'))).rejects.toBeInstanceOf(StoreSerializationError);
        // a new run is not created either
        await expect(store.commit({ runId: 'r2', run: makeRun('r2', { labels: { n: 1 } as never }) })).rejects.toThrow(/labels/);
        expect(await store.getRun('r2')).toBeUndefined();
        expect(await snapshotRun(store, 'r1')).toEqual(before);
      });
    });

    describe('task instances and compare-and-set', () => {
      it('stores every field of a task instance and numbers versions from 1', async () => {
        const store = await fresh();
        const record = makeInstance('load[3]', {
          mapIndex: 3,
          parentKey: 'fanout',
          callInput: { region: 'eu', since: new Date(5) },
          customContext: { tenant: 'acme', region: 'eu' },
          state: 'up_for_retry',
          attempt: 2,
          manuallySetFrom: 'failed',
          deferTimedOut: true,
          startedAt: 1_100,
          endedAt: 1_900,
          failureKind: 'timeout',
          error: new Error('too slow'),
          parked: true,
          awaitsEvent: true,
          timer: { deadline: 31_900, action: 'retry' },
          resumeData: { offset: 42 },
          eventPayload: ['approved'],
        });
        const { versions } = await store.commit({ runId: 'r1', run: makeRun('r1'), instances: [{ record }] });
        expect(versions).toEqual(new Map([['load[3]', 1]]));
        const loaded = await store.loadRun('r1');
        expect(loaded?.instances).toEqual([{ ...record, runId: 'r1', version: 1 }]);
      });

      it('round-trips callInput and customContext of child instances; undefined, null and {} stay distinct', async () => {
        const store = await fresh();
        const callInput = { ids: new Set([1n, 2n]), at: new Date(0), missing: undefined, nested: [null, undefined] };
        const records = [
          makeInstance('parent'),
          makeInstance('parent/child#1', { parentKey: 'parent', callInput, customContext: { tenant: 'acme' } }),
          makeInstance('parent/child#2', { parentKey: 'parent', callInput: null, customContext: {} }),
          makeInstance('parent/child#3', { parentKey: 'parent', callInput: undefined, customContext: { tenant: 'acme', region: '' } }),
          makeInstance('parent/child#4', { parentKey: 'parent', callInput: 'plain string', customContext: undefined }),
        ];
        await store.commit({ runId: 'r1', run: makeRun('r1'), instances: records.map((record) => ({ record })) });
        const loaded = (await store.loadRun('r1'))!;
        expect(loaded.instances).toStrictEqual(records.map((record) => ({ ...record, runId: 'r1', version: 1 })));
        const [parent, child1, child2, child3, child4] = loaded.instances;
        expect('callInput' in parent! && parent.callInput === undefined && parent.customContext === undefined).toBe(true);
        expect((child1!.callInput as typeof callInput).ids).toBeInstanceOf(Set);
        expect((child1!.callInput as typeof callInput).at).toBeInstanceOf(Date);
        expect('missing' in (child1!.callInput as object)).toBe(true);
        expect(child2!.callInput).toBeNull();
        expect(child2!.customContext).toStrictEqual({});
        expect(child3!.callInput).toBeUndefined();
        expect(child4!.customContext).toBeUndefined();

        // a later write replaces them like every other field
        await store.commit({
          runId: 'r1',
          instances: [{ record: makeInstance('parent/child#1', { parentKey: 'parent', state: 'queued' }), expectedVersion: 1 }],
        });
        const child1v2 = (await store.loadRun('r1'))!.instances[1]!;
        expect([child1v2.version, child1v2.callInput, child1v2.customContext]).toStrictEqual([2, undefined, undefined]);
      });

      it('rejects a customContext that is not a plain object of strings, naming the key, writing nothing', async () => {
        const store = await seeded();
        const before = await snapshotRun(store, 'r1');
        const attempt = (customContext: unknown) =>
          store.commit({
            runId: 'r1',
            instances: [{ record: makeInstance('a/c#1', { parentKey: 'a', customContext: customContext as Record<string, string> }) }],
          });
        const error = await rejection(attempt({ tenant: 'acme', shard: 7 }));
        expect(error).toBeInstanceOf(StoreError);
        expect((error as Error).message).toMatch(
          /task instance 'a\/c#1' of run 'r1': customContext\["shard"\] must be a string, got number.*Nothing was written/,
        );
        await expect(attempt(null)).rejects.toThrow(/customContext must be a plain object of strings or undefined, got null/);
        await expect(attempt([])).rejects.toThrow(/customContext must be .* got an array/);
        await expect(attempt(JSON.parse('{"constructor":"x"}'))).rejects.toBeInstanceOf(StoreSerializationError);
        await expect(
          store.commit({ runId: 'r1', instances: [{ record: makeInstance('a/c#1', { parentKey: 'a', callInput: { run: () => 1 } }) }] }),
        ).rejects.toMatchObject({ name: 'StoreSerializationError', path: '$.run' });
        expect(await snapshotRun(store, 'r1')).toEqual(before);
      });

      it('each write needs the current version and increments it; undefined expectedVersion means a new instance', async () => {
        const store = await seeded();
        const r = await store.commit({ runId: 'r1', instances: [{ record: makeInstance('a', { state: 'queued' }), expectedVersion: 1 }] });
        expect(r.versions.get('a')).toBe(2);
        const r2 = await store.commit({ runId: 'r1', instances: [{ record: makeInstance('a', { state: 'running' }), expectedVersion: 2 }] });
        expect(r2.versions.get('a')).toBe(3);
        const loaded = await store.loadRun('r1');
        expect(loaded?.instances.map((i) => [i.key, i.state, i.version])).toEqual([
          ['a', 'running', 3],
          ['b', 'scheduled', 1],
        ]);
      });

      it('a stale expectedVersion rejects with StoreConflictError naming run, key, expected and actual version', async () => {
        const store = await seeded();
        await store.commit({ runId: 'r1', instances: [{ record: makeInstance('a', { state: 'queued' }), expectedVersion: 1 }] });
        const error = await rejection(
          store.commit({ runId: 'r1', instances: [{ record: makeInstance('a', { state: 'skipped' }), expectedVersion: 1 }] }),
        );
        expect(error).toBeInstanceOf(StoreConflictError);
        expect(error).toBeInstanceOf(StoreError);
        expect(error).toMatchObject({ kind: 'version', runId: 'r1', key: 'a', expectedVersion: 1, actualVersion: 2 });
        expect((error as Error).message).toMatch(/'a' in run 'r1' is at version 2.*expected version 1.*Nothing of the batch was written/);
        expect((await store.loadRun('r1'))?.instances[0]).toMatchObject({ state: 'queued', version: 2 });
      });

      it('creating an instance that exists, or updating one that does not, is a conflict', async () => {
        const store = await seeded();
        await expect(store.commit({ runId: 'r1', instances: [{ record: makeInstance('a') }] })).rejects.toMatchObject({
          name: 'StoreConflictError',
          key: 'a',
          expectedVersion: 0,
          actualVersion: 1,
        });
        await expect(
          store.commit({ runId: 'r1', instances: [{ record: makeInstance('zzz'), expectedVersion: 4 }] }),
        ).rejects.toMatchObject({ name: 'StoreConflictError', key: 'zzz', expectedVersion: 4, actualVersion: 0 });
      });

      it('several writes of one key in a batch apply in order, each against the version the previous produced', async () => {
        const store = await seeded();
        const { versions } = await store.commit({
          runId: 'r1',
          instances: [
            { record: makeInstance('a', { state: 'queued' }), expectedVersion: 1 },
            { record: makeInstance('a', { state: 'running' }), expectedVersion: 2 },
          ],
        });
        expect(versions.get('a')).toBe(3);
        await expect(
          store.commit({
            runId: 'r1',
            instances: [
              { record: makeInstance('b', { state: 'queued' }), expectedVersion: 1 },
              { record: makeInstance('b', { state: 'running' }), expectedVersion: 1 },
            ],
          }),
        ).rejects.toMatchObject({ name: 'StoreConflictError', key: 'b', expectedVersion: 1, actualVersion: 2 });
        expect((await store.loadRun('r1'))?.instances.map((i) => [i.key, i.state, i.version])).toEqual([
          ['a', 'running', 3],
          ['b', 'scheduled', 1],
        ]);
      });

      it('deletes an instance with its results and checkpoint (compare-and-set), keeps its log entries', async () => {
        const store = await seeded();
        await store.commit({ runId: 'r1', results: [{ key: 'a', attempt: 1, value: 'A1', at: 1_500 }, { key: 'b', attempt: 1, value: 'B1', at: 1_500 }] });
        await store.saveCheckpoint({ runId: 'r1', key: 'a', value: 'cp-a', savedAt: 1_200 });
        await store.saveCheckpoint({ runId: 'r1', key: 'b', value: 'cp-b', savedAt: 1_200 });
        await expect(store.commit({ runId: 'r1', deleteInstances: [{ key: 'a', expectedVersion: 2 }] })).rejects.toMatchObject({
          name: 'StoreConflictError',
          key: 'a',
          expectedVersion: 2,
          actualVersion: 1,
        });
        const { versions } = await store.commit({ runId: 'r1', deleteInstances: [{ key: 'a', expectedVersion: 1 }] });
        expect(versions.has('a')).toBe(false);
        const loaded = await store.loadRun('r1');
        expect(loaded?.instances.map((i) => i.key)).toEqual(['b']);
        expect(loaded?.results.map((r) => r.key)).toEqual(['b']);
        expect(await store.loadCheckpoint('r1', 'a')).toBeUndefined();
        expect((await store.loadCheckpoint('r1', 'b'))?.value).toBe('cp-b');
        expect((await store.readTransitionLog('r1')).map((t) => t.key)).toEqual(['a', 'b']);
      });

      it('an instance deleted and re-created in one batch starts again at version 1, after the others', async () => {
        const store = await seeded();
        await store.commit({ runId: 'r1', results: [{ key: 'a', attempt: 1, value: 'old', at: 1_500 }] });
        const { versions } = await store.commit({
          runId: 'r1',
          deleteInstances: [{ key: 'a', expectedVersion: 1 }],
          instances: [{ record: makeInstance('a', { state: 'none', attempt: 0 }), expectedVersion: 0 }],
          results: [{ key: 'a', attempt: 1, value: 'new', at: 1_600 }],
        });
        expect(versions.get('a')).toBe(1);
        const loaded = await store.loadRun('r1');
        expect(loaded?.instances.map((i) => [i.key, i.version, i.state])).toEqual([
          ['b', 1, 'scheduled'],
          ['a', 1, 'none'],
        ]);
        expect(loaded?.results.map((r) => r.value)).toEqual(['new']);
      });

      it('returns instances in the order they were first written, whatever later writes do', async () => {
        const store = await fresh();
        await store.commit({ runId: 'r1', run: makeRun('r1'), instances: ['z', 'm', 'a'].map((k) => ({ record: makeInstance(k) })) });
        await store.commit({ runId: 'r1', instances: [{ record: makeInstance('m', { state: 'queued' }), expectedVersion: 1 }, { record: makeInstance('b') }] });
        expect((await store.loadRun('r1'))?.instances.map((i) => i.key)).toEqual(['z', 'm', 'a', 'b']);
      });
    });

    describe('batch atomicity', () => {
      it('a conflict in the middle of a batch writes nothing of it: run, instances, log, results', async () => {
        const store = await seeded();
        await store.saveCheckpoint({ runId: 'r1', key: 'a', value: 1, savedAt: 1 });
        const before = await snapshotRun(store, 'r1', ['a']);
        const batch: CommitBatch = {
          runId: 'r1',
          run: makeRun('r1', { state: 'success', updatedAt: 9_000, endedAt: 9_000 }),
          deleteInstances: [{ key: 'b', expectedVersion: 1 }],
          instances: [
            { record: makeInstance('c'), expectedVersion: 0 },
            { record: makeInstance('a', { state: 'queued' }), expectedVersion: 7 }, // stale
            { record: makeInstance('d'), expectedVersion: 0 },
          ],
          transitions: [{ key: 'c', from: 'none', to: 'scheduled', event: 'SCHEDULE', at: 9_000 }],
          results: [{ key: 'c', attempt: 1, value: 'C', at: 9_000 }],
        };
        await expect(store.commit(batch)).rejects.toBeInstanceOf(StoreConflictError);
        expect(await snapshotRun(store, 'r1', ['a'])).toEqual(before);
        expect((await store.listRuns())[0]?.taskCounts).toEqual({ scheduled: 2 });
      });

      it('a duplicate result record rejects the batch (kind "result") and writes nothing of it', async () => {
        const store = await seeded();
        await store.commit({ runId: 'r1', results: [{ key: 'a', attempt: 1, value: 'A', at: 1_500 }] });
        const before = await snapshotRun(store, 'r1');
        const error = await rejection(
          store.commit({
            runId: 'r1',
            instances: [{ record: makeInstance('a', { state: 'success' }), expectedVersion: 1 }],
            transitions: [{ key: 'a', from: 'running', to: 'success', event: 'SUCCEED', at: 2_000 }],
            results: [{ key: 'a', attempt: 1, value: 'A again', at: 2_000 }],
          }),
        );
        expect(error).toMatchObject({ name: 'StoreConflictError', kind: 'result', runId: 'r1', key: 'a', attempt: 1 });
        expect((error as Error).message).toMatch(/result of attempt 1 of task instance 'a' in run 'r1' is already recorded/);
        expect(await snapshotRun(store, 'r1')).toEqual(before);
        // the same attempt twice within one batch, too
        await expect(
          store.commit({ runId: 'r1', results: [{ key: 'b', attempt: 1, value: 1, at: 1 }, { key: 'b', attempt: 1, value: 2, at: 1 }] }),
        ).rejects.toMatchObject({ kind: 'result', key: 'b' });
        expect(await snapshotRun(store, 'r1')).toEqual(before);
      });

      it('a value that cannot be stored rejects the batch with StoreSerializationError and writes nothing', async () => {
        const store = await seeded();
        const before = await snapshotRun(store, 'r1');
        const error = await rejection(
          store.commit({
            runId: 'r1',
            run: makeRun('r1', { state: 'success' }),
            instances: [{ record: makeInstance('a', { state: 'success' }), expectedVersion: 1 }],
            results: [{ key: 'a', attempt: 1, value: { ok: true, callback: () => 1 }, at: 2_000 }],
          }),
        );
        expect(error).toBeInstanceOf(StoreSerializationError);
        expect(error).toMatchObject({ path: '$.callback' });
        expect((error as Error).message).toMatch(/Cannot store a function \(at \$\.callback\).*Nothing was written/);
        expect(await snapshotRun(store, 'r1')).toEqual(before);
      });

      it('a batch creating a run is atomic too: on a conflict the run does not exist afterwards', async () => {
        const store = await fresh();
        await expect(
          store.commit({ runId: 'new', run: makeRun('new'), instances: [{ record: makeInstance('a'), expectedVersion: 3 }] }),
        ).rejects.toBeInstanceOf(StoreConflictError);
        expect(await store.getRun('new')).toBeUndefined();
        expect(await store.listRuns()).toEqual([]);
      });
    });

    describe('transition log', () => {
      it('appends in batch order with seq 1, 2, 3, … per run, across batches', async () => {
        const store = await seeded();
        const r = await store.commit({
          runId: 'r1',
          transitions: [
            { key: 'a', from: 'scheduled', to: 'queued', event: 'QUEUE', at: 1_100 },
            { key: 'b', from: 'scheduled', to: 'queued', event: 'QUEUE', at: 1_100 },
            { key: 'a', from: 'queued', to: 'running', event: 'START', at: 1_200 },
          ],
        });
        expect(r.lastSeq).toBe(5);
        await store.commit({ runId: 'r2', run: makeRun('r2'), transitions: [{ key: 'x', from: 'none', to: 'skipped', event: 'SKIP', at: 5 }] });
        const log = await store.readTransitionLog('r1');
        expect(log.map((t) => `${t.seq}:${t.key}:${t.from}>${t.to}:${t.event}`)).toEqual([
          '1:a:none>scheduled:SCHEDULE',
          '2:b:none>scheduled:SCHEDULE',
          '3:a:scheduled>queued:QUEUE',
          '4:b:scheduled>queued:QUEUE',
          '5:a:queued>running:START',
        ]);
        expect(log[4]).toEqual({ runId: 'r1', key: 'a', seq: 5, from: 'queued', to: 'running', event: 'START', at: 1_200 });
        expect(await store.readTransitionLog('r2')).toEqual([
          { runId: 'r2', key: 'x', seq: 1, from: 'none', to: 'skipped', event: 'SKIP', at: 5 },
        ]);
      });

      it('a batch of many transitions (a store may write them in groups) keeps every field, in batch order, numbered on', async () => {
        const store = await seeded();
        // 70 = two groups of 32 and 6 left over in the SQLite store; any count must come back whole.
        const transitions = Array.from({ length: 70 }, (_, i) => ({
          key: `k${i}`,
          from: 'none' as const,
          to: i % 2 === 0 ? ('scheduled' as const) : ('skipped' as const),
          event: i % 2 === 0 ? ('SCHEDULE' as const) : ('SKIP' as const),
          at: 10_000 + i,
        }));
        expect((await store.commit({ runId: 'r1', transitions })).lastSeq).toBe(72);
        expect((await store.commit({ runId: 'r1', transitions: transitions.slice(0, 33) })).lastSeq).toBe(105);
        const log = await store.readTransitionLog('r1');
        expect(log.slice(2)).toEqual([...transitions, ...transitions.slice(0, 33)].map((t, i) => ({ runId: 'r1', seq: i + 3, ...t })));
      });

      it('reads the tail after a seq, and nothing for an unknown run', async () => {
        const store = await seeded();
        expect((await store.readTransitionLog('r1', { afterSeq: 1 })).map((t) => t.seq)).toEqual([2]);
        expect(await store.readTransitionLog('r1', { afterSeq: 2 })).toEqual([]);
        expect(await store.readTransitionLog('nope')).toEqual([]);
      });
    });

    describe('result records', () => {
      it('keeps one record per successful attempt, in the order recorded, with the values intact', async () => {
        const store = await seeded();
        await store.commit({ runId: 'r1', results: [{ key: 'a', attempt: 1, value: { rows: 1 }, at: 1_500 }] });
        await store.commit({
          runId: 'r1',
          results: [
            { key: 'b', attempt: 2, value: undefined, at: 1_600 },
            { key: 'a', attempt: 3, value: { rows: 3 }, at: 1_700 },
          ],
        });
        expect((await store.loadRun('r1'))?.results).toEqual([
          { runId: 'r1', key: 'a', attempt: 1, value: { rows: 1 }, at: 1_500 },
          { runId: 'r1', key: 'b', attempt: 2, value: undefined, at: 1_600 },
          { runId: 'r1', key: 'a', attempt: 3, value: { rows: 3 }, at: 1_700 },
        ]);
      });
    });

    describe('checkpoints', () => {
      it('saves at once, overwrites, and loads the last value; undefined when none was saved', async () => {
        const store = await seeded();
        expect(await store.loadCheckpoint('r1', 'a')).toBeUndefined();
        await store.saveCheckpoint({ runId: 'r1', key: 'a', value: { epoch: 1 }, savedAt: 1_100 });
        await store.saveCheckpoint({ runId: 'r1', key: 'a', value: { epoch: 2, at: new Date(7) }, savedAt: 1_200 });
        expect(await store.loadCheckpoint('r1', 'a')).toEqual({ runId: 'r1', key: 'a', value: { epoch: 2, at: new Date(7) }, savedAt: 1_200 });
        expect(await store.loadCheckpoint('r1', 'b')).toBeUndefined();
        expect(await store.loadCheckpoint('r2', 'a')).toBeUndefined();
      });

      it('tells a saved undefined/null from no checkpoint, and keeps bytes', async () => {
        const store = await seeded();
        await store.saveCheckpoint({ runId: 'r1', key: 'a', value: undefined, savedAt: 1 });
        await store.saveCheckpoint({ runId: 'r1', key: 'b', value: null, savedAt: 1 });
        expect(await store.loadCheckpoint('r1', 'a')).toEqual({ runId: 'r1', key: 'a', value: undefined, savedAt: 1 });
        expect((await store.loadCheckpoint('r1', 'b'))?.value).toBeNull();
        await store.saveCheckpoint({ runId: 'r1', key: 'b', value: Buffer.from('weights'), savedAt: 2 });
        const bytes = (await store.loadCheckpoint('r1', 'b'))?.value;
        expect(Buffer.isBuffer(bytes) && bytes.toString()).toBe('weights');
      });

      it('refuses a checkpoint for a run that does not exist', async () => {
        const store = await fresh();
        await expect(store.saveCheckpoint({ runId: 'ghost', key: 'a', value: 1, savedAt: 1 })).rejects.toThrow(
          /Cannot save the checkpoint of 'a': run 'ghost' does not exist/,
        );
      });
    });

    describe('deleteRun', () => {
      it('removes the run and everything of it, and nothing of other runs', async () => {
        const store = await seeded();
        await store.commit({ runId: 'r1', results: [{ key: 'a', attempt: 1, value: 'A', at: 2 }] });
        await store.saveCheckpoint({ runId: 'r1', key: 'a', value: 'cp', savedAt: 2 });
        await store.commit({
          runId: 'r2',
          run: makeRun('r2', { createdAt: 2_000 }),
          instances: [{ record: makeInstance('a') }],
          transitions: [{ key: 'a', from: 'none', to: 'scheduled', event: 'SCHEDULE', at: 2_000 }],
          results: [{ key: 'a', attempt: 1, value: 'other', at: 2_000 }],
        });
        await store.saveCheckpoint({ runId: 'r2', key: 'a', value: 'cp2', savedAt: 2 });
        const r2Before = await snapshotRun(store, 'r2', ['a']);

        expect(await store.deleteRun('r1')).toBe(true);
        expect(await store.getRun('r1')).toBeUndefined();
        expect(await store.loadRun('r1')).toBeUndefined();
        expect(await store.readTransitionLog('r1')).toEqual([]);
        expect(await store.loadCheckpoint('r1', 'a')).toBeUndefined();
        expect((await store.listRuns()).map((r) => r.runId)).toEqual(['r2']);
        expect(await snapshotRun(store, 'r2', ['a'])).toEqual(r2Before);
        expect(await store.deleteRun('r1')).toBe(false);
      });

      it('lets the run id be used again from scratch (onInputChange: reset)', async () => {
        const store = await seeded();
        await store.deleteRun('r1');
        const { versions, lastSeq } = await store.commit({
          runId: 'r1',
          run: makeRun('r1', { inputFingerprint: 'new' }),
          instances: [{ record: makeInstance('a'), expectedVersion: 0 }],
          transitions: [{ key: 'a', from: 'none', to: 'scheduled', event: 'SCHEDULE', at: 3 }],
          results: [{ key: 'a', attempt: 1, value: 'fresh', at: 3 }],
        });
        expect(versions.get('a')).toBe(1);
        expect(lastSeq).toBe(1);
        expect((await store.getRun('r1'))?.inputFingerprint).toBe('new');
      });
    });

    describe('serialization', () => {
      it('round-trips Date, Map, Set, BigInt, undefined and Errors in every stored value', async () => {
        const store = await fresh();
        const cause = Object.assign(new TypeError('socket closed'), { code: 'ECONNRESET' });
        const error = new Error('extract failed', { cause });
        const rich = {
          at: new Date('2026-11-22T03:00:00.000Z'),
          byId: new Map<unknown, unknown>([[1n, new Set(['x'])], ['k', { nested: new Date(0) }]]),
          big: 2n ** 70n,
          missing: undefined,
          list: [undefined, null, -0, Number.NaN],
        };
        await store.commit({
          runId: 'r1',
          run: makeRun('r1', { input: rich }),
          instances: [
            { record: makeInstance('a', { state: 'failed', error, failureKind: 'application', callInput: rich, resumeData: rich, eventPayload: rich }) },
          ],
          results: [{ key: 'a', attempt: 1, value: rich, at: 1 }],
        });
        await store.saveCheckpoint({ runId: 'r1', key: 'a', value: rich, savedAt: 1 });
        const loaded = (await store.loadRun('r1'))!;
        for (const value of [
          loaded.run.input,
          loaded.instances[0]!.callInput,
          loaded.instances[0]!.resumeData,
          loaded.instances[0]!.eventPayload,
          loaded.results[0]!.value,
          (await store.loadCheckpoint('r1', 'a'))!.value,
        ]) {
          expect(value).toEqual(rich);
          const v = value as typeof rich;
          expect(v.at).toBeInstanceOf(Date);
          expect(v.byId).toBeInstanceOf(Map);
          expect(v.byId.get(1n)).toBeInstanceOf(Set);
          expect(typeof v.big).toBe('bigint');
          expect('missing' in v).toBe(true);
          expect(Object.is(v.list[2], -0)).toBe(true);
        }
        const storedError = loaded.instances[0]!.error!;
        expect(storedError).toBeInstanceOf(Error);
        expect(storedError).toMatchObject({ name: 'Error', message: 'extract failed', stack: error.stack });
        expect(storedError.cause).toBeInstanceOf(TypeError);
        expect(storedError.cause).toMatchObject({ name: 'TypeError', message: 'socket closed', code: 'ECONNRESET', stack: cause.stack });
        expect(await store.getRun('r1')).toEqual(loaded.run);
        expect((await store.listRuns())[0]).not.toHaveProperty('input');
      });

      it('refuses to store a payload with a __proto__ key, and nothing is written', async () => {
        const store = await seeded();
        const before = await snapshotRun(store, 'r1');
        const crafted = JSON.parse('{"ok":1,"__proto__":{"polluted":true}}') as unknown;
        const error = await rejection(store.commit({ runId: 'r1', results: [{ key: 'a', attempt: 1, value: { data: crafted }, at: 1 }] }));
        expect(error).toBeInstanceOf(StoreSerializationError);
        expect((error as Error).message).toMatch(/key '__proto__' \(at \$\.data\.__proto__\)/);
        await expect(store.saveCheckpoint({ runId: 'r1', key: 'a', value: crafted, savedAt: 1 })).rejects.toBeInstanceOf(
          StoreSerializationError,
        );
        expect(await snapshotRun(store, 'r1')).toEqual(before);
        expect(await store.loadCheckpoint('r1', 'a')).toBeUndefined();
        expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      });

      it('never shares objects with callers: mutating what was written or read changes nothing stored', async () => {
        const store = await fresh();
        const input = { tags: ['a'], when: new Date(0) };
        const labels: Record<string, string> = { flowFile: 'etl.ts' };
        const callInput = { n: 1 };
        const customContext: Record<string, string> = { tenant: 'acme' };
        const record = makeInstance('a', { resumeData: { n: 1 }, callInput, customContext });
        const value = { rows: [1, 2] };
        await store.commit({
          runId: 'r1',
          run: makeRun('r1', { input, labels }),
          instances: [{ record }],
          results: [{ key: 'a', attempt: 1, value, at: 1 }],
        });
        const cp = { step: 1 };
        await store.saveCheckpoint({ runId: 'r1', key: 'a', value: cp, savedAt: 1 });
        input.tags.push('mutated');
        input.when.setTime(99);
        (record.resumeData as { n: number }).n = 2;
        labels['flowFile'] = 'mutated.ts';
        callInput.n = 2;
        customContext['tenant'] = 'mutated';
        value.rows.push(3);
        cp.step = 2;
        const first = (await store.loadRun('r1'))!;
        (first.run.input as { tags: string[] }).tags.push('mutated again');
        (first.instances[0]!.resumeData as { n: number }).n = 3;
        (first.run.labels as Record<string, string>)['flowFile'] = 'mutated again.ts';
        (first.instances[0]!.callInput as { n: number }).n = 3;
        (first.instances[0]!.customContext as Record<string, string>)['tenant'] = 'mutated again';
        ((await store.listRuns())[0]!.labels as Record<string, string>)['flowFile'] = 'mutated via list.ts';
        (first.results[0]!.value as { rows: number[] }).rows.push(4);
        ((await store.loadCheckpoint('r1', 'a'))!.value as { step: number }).step = 3;
        const second = (await store.loadRun('r1'))!;
        expect(second.run.input).toEqual({ tags: ['a'], when: new Date(0) });
        expect(second.instances[0]!.resumeData).toEqual({ n: 1 });
        expect(second.run.labels).toEqual({ flowFile: 'etl.ts' });
        expect((await store.getRun('r1'))?.labels).toEqual({ flowFile: 'etl.ts' });
        expect(second.instances[0]!.callInput).toEqual({ n: 1 });
        expect(second.instances[0]!.customContext).toEqual({ tenant: 'acme' });
        expect(second.results[0]!.value).toEqual({ rows: [1, 2] });
        expect((await store.loadCheckpoint('r1', 'a'))!.value).toEqual({ step: 1 });
      });
    });

    describe('listRuns', () => {
      it('lists runs newest first (same ms: the one created later first) with task counts per state', async () => {
        const store = await fresh();
        await store.commit({ runId: 'old', run: makeRun('old', { createdAt: 1_000 }) });
        await store.commit({
          runId: 'mid-1',
          run: makeRun('mid-1', { createdAt: 2_000 }),
          instances: [
            { record: makeInstance('a', { state: 'success' }) },
            { record: makeInstance('b', { state: 'success' }) },
            { record: makeInstance('c', { state: 'failed' }) },
          ],
        });
        await store.commit({ runId: 'new', run: makeRun('new', { createdAt: 3_000, flowId: 'ml', state: 'failed', reason: 'task_failure' }) });
        await store.commit({ runId: 'mid-2', run: makeRun('mid-2', { createdAt: 2_000 }) });
        // updating an old run does not move it
        await store.commit({ runId: 'old', run: makeRun('old', { createdAt: 1_000, updatedAt: 9_999, state: 'success' }) });

        const all = await store.listRuns();
        expect(all.map((r) => r.runId)).toEqual(['new', 'mid-2', 'mid-1', 'old']);
        expect(all[2]).toEqual({ ...makeRun('mid-1', { createdAt: 2_000 }), input: undefined, taskCounts: { success: 2, failed: 1 } });
        expect(all[2]).not.toHaveProperty('input');
        expect(all[0]?.taskCounts).toEqual({});
        expect(all[3]).toMatchObject({ state: 'success', updatedAt: 9_999 });

        expect((await store.listRuns({ limit: 2 })).map((r) => r.runId)).toEqual(['new', 'mid-2']);
        expect(await store.listRuns({ limit: 0 })).toEqual([]);
        expect((await store.listRuns({ flowId: 'etl' })).map((r) => r.runId)).toEqual(['mid-2', 'mid-1', 'old']);
        expect((await store.listRuns({ state: 'failed' })).map((r) => r.runId)).toEqual(['new']);
        expect((await store.listRuns({ flowId: 'etl', state: 'success', limit: 5 })).map((r) => r.runId)).toEqual(['old']);
        expect((await store.listRuns({ flowId: 'nope' }))).toEqual([]);
      });

      it('rejects a limit that is not a non-negative number', async () => {
        const store = await fresh();
        await expect(store.listRuns({ limit: -1 })).rejects.toThrow(/limit must be a non-negative number/);
        await expect(store.listRuns({ limit: Number.NaN })).rejects.toBeInstanceOf(StoreError);
      });
    });

    describe('leases and fencing', () => {
      const ownerA: LeaseOwner = { ownerId: 'owner-a', host: 'host-1', pid: 101 };
      const ownerB: LeaseOwner = { ownerId: 'owner-b', host: 'host-2', pid: 202 };

      it('grants the first lease with token 1 (the run need not exist yet) and reads it back', async () => {
        const store = await fresh();
        const { lease, tookOverFrom } = await store.acquireLease({ runId: 'r1', owner: ownerA, ttlMs: 30_000, now: 1_000 });
        expect(lease).toEqual({ runId: 'r1', owner: ownerA, token: 1, acquiredAt: 1_000, heartbeatAt: 1_000, expiresAt: 31_000, releasedAt: undefined });
        expect(tookOverFrom).toBeUndefined();
        expect(await store.getLease('r1')).toEqual(lease);
        expect(await store.getLease('other')).toBeUndefined();
      });

      it('refuses a live lease of another owner with RunOwnedError naming it, and changes nothing', async () => {
        const store = await fresh();
        const { lease } = await store.acquireLease({ runId: 'r1', owner: ownerA, ttlMs: 30_000, now: 1_000 });
        const error = await rejection(store.acquireLease({ runId: 'r1', owner: ownerB, ttlMs: 30_000, now: 20_000 }));
        expect(error).toBeInstanceOf(RunOwnedError);
        expect(error).toMatchObject({ runId: 'r1', owner: ownerA, heartbeatAt: 1_000, expiresAt: 31_000 });
        expect((error as Error).message).toMatch(/pid 101 on host-1 .* last seen 19 s ago; its lease expires in 11 s/);
        expect(await store.getLease('r1')).toEqual(lease);
      });

      it('the same owner acquiring again keeps its token; renewals extend the expiry', async () => {
        const store = await fresh();
        await store.acquireLease({ runId: 'r1', owner: ownerA, ttlMs: 30_000, now: 1_000 });
        const again = (await store.acquireLease({ runId: 'r1', owner: ownerA, ttlMs: 30_000, now: 5_000 })).lease;
        expect(again).toMatchObject({ token: 1, acquiredAt: 1_000, heartbeatAt: 5_000, expiresAt: 35_000 });
        const renewed = await store.renewLease(again, 9_000, 30_000);
        expect(renewed).toMatchObject({ token: 1, heartbeatAt: 9_000, expiresAt: 39_000 });
        expect(await store.getLease('r1')).toEqual(renewed);
      });

      it('an expired lease is taken over with the next token; the old owner can renew and write nothing any more', async () => {
        const store = await seeded();
        const a = (await store.acquireLease({ runId: 'r1', owner: ownerA, ttlMs: 30_000, now: 1_000 })).lease;
        await store.commit({ runId: 'r1', leaseToken: a.token, transitions: [{ key: 'a', from: 'scheduled', to: 'queued', event: 'QUEUE', at: 2_000 }] });
        const { lease: b, tookOverFrom } = await store.acquireLease({ runId: 'r1', owner: ownerB, ttlMs: 30_000, now: 31_000 });
        expect(b.token).toBe(2);
        expect(tookOverFrom).toEqual(a);
        expect(await rejection(store.renewLease(a, 31_500, 30_000))).toBeInstanceOf(LeaseLostError);
        const before = await snapshotRun(store, 'r1', ['a']);
        const lost = await rejection(
          store.commit({ runId: 'r1', leaseToken: a.token, instances: [{ record: makeInstance('a', { state: 'queued' }), expectedVersion: 1 }] }),
        );
        expect(lost).toBeInstanceOf(LeaseLostError);
        expect(lost).toMatchObject({ runId: 'r1', token: 1, currentToken: 2 });
        expect((lost as Error).message).toMatch(/held by pid 202 on host-2 with token 2/);
        expect(await rejection(store.saveCheckpoint({ runId: 'r1', key: 'a', value: 1, savedAt: 1, leaseToken: a.token }))).toBeInstanceOf(LeaseLostError);
        expect(await snapshotRun(store, 'r1', ['a'])).toEqual(before);
        // The new owner writes with its token.
        await store.commit({ runId: 'r1', leaseToken: b.token, instances: [{ record: makeInstance('a', { state: 'queued' }), expectedVersion: 1 }] });
        await store.saveCheckpoint({ runId: 'r1', key: 'a', value: { b: true }, savedAt: 2, leaseToken: b.token });
      });

      it('a live lease may be replaced only by naming its exact token (its holder is known to be gone)', async () => {
        const store = await fresh();
        const a = (await store.acquireLease({ runId: 'r1', owner: ownerA, ttlMs: 30_000, now: 1_000 })).lease;
        expect(await rejection(store.acquireLease({ runId: 'r1', owner: ownerB, ttlMs: 30_000, now: 2_000, replace: { token: 7 } }))).toBeInstanceOf(RunOwnedError);
        const { lease, tookOverFrom } = await store.acquireLease({ runId: 'r1', owner: ownerB, ttlMs: 30_000, now: 2_000, replace: { token: a.token } });
        expect(lease).toMatchObject({ owner: ownerB, token: 2 });
        expect(tookOverFrom).toEqual(a);
      });

      it('a released lease is free for anyone, keeps counting tokens, and fences out its old holder', async () => {
        const store = await seeded();
        const a = (await store.acquireLease({ runId: 'r1', owner: ownerA, ttlMs: 30_000, now: 1_000 })).lease;
        await store.releaseLease(a, 2_000);
        expect(await store.getLease('r1')).toEqual({ ...a, releasedAt: 2_000 });
        await store.releaseLease(a, 3_000); // again: nothing changes
        expect((await store.getLease('r1'))!.releasedAt).toBe(2_000);
        expect(await rejection(store.commit({ runId: 'r1', leaseToken: a.token, transitions: [] }))).toBeInstanceOf(LeaseLostError);
        const { lease: b, tookOverFrom } = await store.acquireLease({ runId: 'r1', owner: ownerB, ttlMs: 30_000, now: 2_500 });
        expect(b.token).toBe(2);
        expect(tookOverFrom).toBeUndefined();
        // Even after the run is deleted and made again, tokens never repeat.
        await store.deleteRun('r1');
        await store.releaseLease(b, 2_600);
        expect((await store.acquireLease({ runId: 'r1', owner: ownerA, ttlMs: 30_000, now: 2_700 })).lease.token).toBe(3);
      });

      it('a batch without a lease token is not fenced; listRuns shows each run\'s lease', async () => {
        const store = await seeded();
        const a = (await store.acquireLease({ runId: 'r1', owner: ownerA, ttlMs: 30_000, now: 1_000 })).lease;
        await store.commit({ runId: 'r1', transitions: [] });
        await store.commit({ runId: 'r2', run: makeRun('r2') });
        const runs = await store.listRuns();
        expect(runs.find((r) => r.runId === 'r1')!.lease).toEqual(a);
        expect(runs.find((r) => r.runId === 'r2')!.lease).toBeUndefined();
      });

      it('refuses malformed lease requests and tokens, writing nothing', async () => {
        const store = await seeded();
        await expect(store.acquireLease({ runId: '', owner: ownerA, ttlMs: 1, now: 1 })).rejects.toBeInstanceOf(StoreError);
        await expect(store.acquireLease({ runId: 'r1', owner: ownerA, ttlMs: 0, now: 1 })).rejects.toThrow(/ttlMs must be a positive number/);
        await expect(store.commit({ runId: 'r1', leaseToken: 0 })).rejects.toThrow(/leaseToken .* must be an integer ≥ 1/);
        expect(await store.getLease('r1')).toBeUndefined();
      });
    });

    describe('task instance queries', () => {
      /** Run q with 7 instances: extract, score[0..4] (success with results, but score[3] failed), report. */
      async function queried(): Promise<Store> {
        const store = await fresh();
        const keys = ['extract', 'score[0]', 'score[1]', 'score[2]', 'score[3]', 'score[4]', 'report'];
        await store.commit({
          runId: 'q',
          run: makeRun('q', { taskIds: ['extract', 'score', 'report'] }),
          instances: keys.map((key) => ({
            record: makeInstance(key, {
              state: key === 'report' ? 'scheduled' : key === 'score[3]' ? 'failed' : 'success',
              ...(key.startsWith('score[') ? { mapIndex: Number(key.slice(6, -1)) } : {}),
            }),
            expectedVersion: 0,
          })),
          results: keys.filter((key) => key !== 'report' && key !== 'score[3]').map((key) => ({ key, attempt: 1, value: { key }, at: 1_500 })),
        });
        return store;
      }

      it('pages through the instances in first-write order, with a cursor, and ends with next undefined', async () => {
        const store = await queried();
        const first = await store.queryTaskInstances('q', { limit: 3 });
        expect(first.instances.map((i) => i.key)).toEqual(['extract', 'score[0]', 'score[1]']);
        expect(first.next).toEqual(expect.any(String));
        const second = await store.queryTaskInstances('q', { limit: 3, cursor: first.next });
        expect(second.instances.map((i) => i.key)).toEqual(['score[2]', 'score[3]', 'score[4]']);
        const last = await store.queryTaskInstances('q', { limit: 3, cursor: second.next });
        expect(last.instances.map((i) => i.key)).toEqual(['report']);
        expect(last.next).toBeUndefined();
        expect(first.results).toBeUndefined();
        expect(first.instances[0]).toEqual((await store.loadRun('q'))!.instances[0]);
      });

      it('filters by state, task id and key prefix; withResults gives the succeeded ones their latest result', async () => {
        const store = await queried();
        expect((await store.queryTaskInstances('q', { states: ['failed', 'scheduled'] })).instances.map((i) => i.key)).toEqual(['score[3]', 'report']);
        expect((await store.queryTaskInstances('q', { taskId: 'score', states: ['success'] })).instances.map((i) => i.key)).toEqual(['score[0]', 'score[1]', 'score[2]', 'score[4]']);
        expect((await store.queryTaskInstances('q', { keyPrefix: 'score[' , limit: 2 })).instances.map((i) => i.key)).toEqual(['score[0]', 'score[1]']);
        // A prefix is literal text, not a pattern.
        expect((await store.queryTaskInstances('q', { keyPrefix: 'score[_' })).instances).toEqual([]);
        await store.commit({ runId: 'q', results: [{ key: 'score[0]', attempt: 2, value: { key: 'score[0]', again: true }, at: 1_600 }] });
        const page = await store.queryTaskInstances('q', { taskId: 'score', withResults: true });
        expect([...page.results!.entries()]).toEqual([
          ['score[0]', { key: 'score[0]', again: true }],
          ['score[1]', { key: 'score[1]' }],
          ['score[2]', { key: 'score[2]' }],
          ['score[4]', { key: 'score[4]' }],
        ]);
        expect(await store.queryTaskInstances('nope')).toEqual({ instances: [], next: undefined });
      });

      it('counts per state and per task without reading the instances; bad queries are refused', async () => {
        const store = await queried();
        expect(await store.countTaskInstances('q')).toEqual({
          total: 7,
          byState: { success: 5, failed: 1, scheduled: 1 },
          byTask: [
            { taskId: 'extract', total: 1, byState: { success: 1 } },
            { taskId: 'score', total: 5, byState: { success: 4, failed: 1 } },
            { taskId: 'report', total: 1, byState: { scheduled: 1 } },
          ],
        });
        expect(await store.countTaskInstances('nope')).toEqual({ total: 0, byState: {}, byTask: [] });
        await expect(store.queryTaskInstances('q', { limit: 0 })).rejects.toThrow(/limit must be a whole number from 1 to 10000/);
        await expect(store.queryTaskInstances('q', { states: ['done' as never] })).rejects.toThrow(/unknown task instance state "done"/);
        await expect(store.queryTaskInstances('q', { cursor: 'abc' })).rejects.toThrow(/the cursor 'abc' was not made by this store/);
      });
    });

    describe('control requests', () => {
      it('stores requests with increasing ids, lists the pending ones in order, and settles them with a batch', async () => {
        const store = await seeded();
        const first = await store.requestControl({ runId: 'r1', action: 'set-state', taskKey: 'a', state: 'success', requestedAt: 10, requestedBy: 'cli' });
        const second = await store.requestControl({ runId: 'r1', action: 'send-event', taskKey: 'b', payload: { at: new Date(5) }, requestedAt: 11 });
        const third = await store.requestControl({ runId: 'r1', action: 'cancel', payload: 'enough', requestedAt: 12 });
        expect(first).toEqual({
          id: first.id,
          runId: 'r1',
          action: 'set-state',
          taskKey: 'a',
          state: 'success',
          requestedAt: 10,
          requestedBy: 'cli',
          status: 'pending',
          message: undefined,
          settledAt: undefined,
        });
        expect(second.id).toBeGreaterThan(first.id);
        expect(third.id).toBeGreaterThan(second.id);
        expect((await store.pendingControls('r1')).map((r) => r.id)).toEqual([first.id, second.id, third.id]);
        expect((await store.getControl('r1', second.id))!.payload).toEqual({ at: new Date(5) });

        await store.commit({
          runId: 'r1',
          transitions: [{ key: 'a', from: 'scheduled', to: 'success', event: 'SET_STATE', at: 20 }],
          controls: [
            { id: first.id, status: 'applied', message: 'a: scheduled → success', at: 20 },
            { id: third.id, status: 'refused', message: 'not now', at: 20 },
          ],
        });
        expect((await store.pendingControls('r1')).map((r) => r.id)).toEqual([second.id]);
        expect(await store.getControl('r1', first.id)).toMatchObject({ status: 'applied', message: 'a: scheduled → success', settledAt: 20 });
        expect(await store.getControl('r1', third.id)).toMatchObject({ status: 'refused', message: 'not now', settledAt: 20 });
        expect(await store.getControl('r1', 999_999)).toBeUndefined();
      });

      it('a settlement of a request that is not pending rejects the whole batch, writing nothing', async () => {
        const store = await seeded();
        const request = await store.requestControl({ runId: 'r1', action: 'clear', taskKey: 'a', requestedAt: 10 });
        await store.commit({ runId: 'r1', controls: [{ id: request.id, status: 'applied', message: 'ok', at: 11 }] });
        const before = await snapshotRun(store, 'r1');
        const error = await rejection(
          store.commit({
            runId: 'r1',
            transitions: [{ key: 'a', from: 'scheduled', to: 'queued', event: 'QUEUE', at: 12 }],
            controls: [{ id: request.id, status: 'refused', message: 'again', at: 12 }],
          }),
        );
        expect(error).toBeInstanceOf(StoreError);
        expect((error as Error).message).toMatch(/not pending \(applied\)/);
        expect(await snapshotRun(store, 'r1')).toEqual(before);
        expect(await store.getControl('r1', request.id)).toMatchObject({ status: 'applied', message: 'ok' });
      });

      it('refuses requests for unknown runs and malformed requests; deleteRun removes a run\'s requests', async () => {
        const store = await seeded();
        await expect(store.requestControl({ runId: 'nope', action: 'clear', taskKey: 'a', requestedAt: 1 })).rejects.toThrow(/run 'nope' does not exist/);
        await expect(store.requestControl({ runId: 'r1', action: 'clear', requestedAt: 1 })).rejects.toThrow(/taskKey must be a non-empty string/);
        await expect(store.requestControl({ runId: 'r1', action: 'set-state', taskKey: 'a', requestedAt: 1 })).rejects.toThrow(/state must be success, failed or skipped/);
        await expect(store.requestControl({ runId: 'r1', action: 'clear', taskKey: 'a', payload: { f: () => 1 }, requestedAt: 1 })).rejects.toBeInstanceOf(StoreSerializationError);
        expect(await store.pendingControls('r1')).toEqual([]);
        const request = await store.requestControl({ runId: 'r1', action: 'clear', taskKey: 'a', requestedAt: 1 });
        await store.deleteRun('r1');
        expect(await store.getControl('r1', request.id)).toBeUndefined();
        expect(await store.pendingControls('r1')).toEqual([]);
      });
    });

    describe('interruption counts', () => {
      it('stores interruptions and maxInterruptions with every task instance', async () => {
        const store = await fresh();
        await store.commit({ runId: 'r1', run: makeRun('r1'), instances: [{ record: makeInstance('a', { interruptions: 2, maxInterruptions: 5 }) }] });
        expect((await store.loadRun('r1'))!.instances[0]).toMatchObject({ interruptions: 2, maxInterruptions: 5 });
        await expect(
          store.commit({ runId: 'r1', instances: [{ record: makeInstance('b', { interruptions: -1 }) }] }),
        ).rejects.toThrow(/interruptions must be a non-negative integer/);
      });
    });

    defineRowContract(fresh, rawRows);
    defineShapeAndLogContract(fresh, rawRows, shapeTable);

    describe('close', () => {
      it('rejects every call after close with a StoreError; closing twice is fine', async () => {
        const store = await seeded();
        await store.close();
        await store.close();
        for (const call of [
          () => store.commit({ runId: 'r1' }),
          () => store.getRun('r1'),
          () => store.listRuns(),
          () => store.loadRun('r1'),
          () => store.readTransitionLog('r1'),
          () => store.saveCheckpoint({ runId: 'r1', key: 'a', value: 1, savedAt: 1 }),
          () => store.loadCheckpoint('r1', 'a'),
          () => store.deleteRun('r1'),
          () => store.acquireLease({ runId: 'r1', owner: { ownerId: 'o', host: 'h', pid: 1 }, ttlMs: 1, now: 1 }),
          () => store.getLease('r1'),
          () => store.requestControl({ runId: 'r1', action: 'cancel', requestedAt: 1 }),
          () => store.pendingControls('r1'),
          () => store.getControl('r1', 1),
        ]) {
          const error = await rejection(call());
          expect(error).toBeInstanceOf(StoreError);
          expect((error as Error).message).toMatch(/is closed/);
        }
      });
    });
  });
}
