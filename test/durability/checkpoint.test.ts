// Task checkpoints on the SQLite store: what a failed attempt saved is what the next attempt
// loads — also in a resumed run after the process died — with one store read per attempt.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ctx, flow, runFlow, startFlow } from '../../src/index.ts';
import { memoryStore, sqliteStore, type SqliteStore } from '../../src/stores/index.ts';
import { instrument, afterLeaseExpiry } from './fixtures/storeChecks.ts';

const quiet = { log: () => {} };
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-checkpoint-'));
const stores: SqliteStore[] = [];
afterAll(async () => {
  for (const store of stores) await store.close();
  rmSync(dir, { recursive: true, force: true });
});
function openStore(name: string): SqliteStore {
  const store = sqliteStore({ path: join(dir, `${name}.db`) });
  stores.push(store);
  return store;
}

interface Seen {
  attempt: number;
  first: unknown;
  second: unknown;
}

describe('task checkpoints across attempts (sqliteStore)', () => {
  it('attempt 1 saves and throws, attempt 2 loads that value; each attempt reads the store once', async () => {
    const inner = openStore('retries');
    const { store, calls } = instrument(inner);
    const seen: Seen[] = [];
    const run = await runFlow(
      flow('train', (f) => {
        f.task(
          'train',
          async () => {
            const c = ctx()!;
            // Two loads in one attempt: one store read.
            const first = await c.checkpoint.load();
            const second = await c.checkpoint.load();
            seen.push({ attempt: c.attempt, first, second });
            if (c.attempt === 1) {
              await c.checkpoint.save({ epoch: 3, at: new Date(0), seen: new Set(['a']) });
              throw new Error('the GPU fell over');
            }
            return first;
          },
          { retries: 1 },
        );
      }),
      { store, runId: 'r', ...quiet },
    );
    expect(run.tasks['train']).toMatchObject({ state: 'success', attempts: 2 });
    const saved = { epoch: 3, at: new Date(0), seen: new Set(['a']) };
    expect(seen).toEqual([
      { attempt: 1, first: undefined, second: undefined },
      { attempt: 2, first: saved, second: saved },
    ]);
    expect(run.tasks['train']!.result).toEqual(saved);
    expect(calls.loadCheckpoint).toBe(2);
    expect(calls.saveCheckpoint).toBe(1);
    expect((await inner.loadCheckpoint('r', 'train'))?.value).toEqual(saved);
    expect(calls.results.map((r) => r.attempt)).toEqual([2]);
  });

  it('a checkpoint saved by an attempt the process died in is loaded when the resumed run runs that attempt again', async () => {
    const inner = openStore('crash');
    const before = instrument(inner);
    const seen: Seen[] = [];
    let saved!: () => void;
    const checkpointed = new Promise<void>((resolve) => (saved = resolve));
    const definition = flow('train', (f) => {
      f.task(
        'train',
        async () => {
          const c = ctx()!;
          const first = await c.checkpoint.load();
          const second = await c.checkpoint.load();
          seen.push({ attempt: c.attempt, first, second });
          if (first === undefined) {
            await c.checkpoint.save({ epoch: 7 });
            saved();
            // Still working when the process dies.
            await new Promise((_, reject) => c.signal.addEventListener('abort', () => reject(c.signal.reason as Error)));
          }
          return first;
        },
        { retries: 1 },
      );
    });
    const handle = startFlow(definition, { store: before.store, runId: 'r', ...quiet });
    await checkpointed;
    await handle.persisted();
    before.crash();
    handle.cancel('the process died');

    const after = instrument(inner);
    const run = await runFlow(definition, { store: after.store, runId: 'r', resume: true, clock: afterLeaseExpiry, ...quiet });
    // The interrupted attempt runs again as attempt 1 (an interruption uses no retry).
    expect(run.tasks['train']).toMatchObject({ state: 'success', attempts: 1, result: { epoch: 7 } });
    expect(seen).toEqual([
      { attempt: 1, first: undefined, second: undefined },
      { attempt: 1, first: { epoch: 7 }, second: { epoch: 7 } },
    ]);
    expect(before.calls.loadCheckpoint).toBe(1);
    expect(after.calls.loadCheckpoint).toBe(1);
    expect(after.calls.saveCheckpoint).toBe(0);
  });

  // Regression (fixed in ca95542): with a store the first load() of an attempt was cached and a
  // save() did not touch the cache, while without a store load() read the in-memory value, so
  // load → save(5) → load gave `undefined, undefined` with a store and `undefined, 5` without one,
  // and save → load gave 5 either way. Now load() always reads the checkpoint as earlier attempts
  // left it, once per attempt.
  it('load() in one attempt sees the checkpoint as earlier attempts left it, with or without a store', async () => {
    const seen: Array<{ attempt: number; afterSave?: unknown; before?: unknown; after?: unknown }> = [];
    const definition = flow('same-attempt', (f) => {
      f.task(
        't',
        async () => {
          const c = ctx()!;
          if (c.attempt === 1) {
            // save before any load: load still gives what earlier attempts left (nothing).
            await c.checkpoint.save('from attempt 1');
            seen.push({ attempt: 1, afterSave: await c.checkpoint.load() });
            throw new Error('retry me');
          }
          const before = await c.checkpoint.load();
          await c.checkpoint.save('from attempt 2');
          seen.push({ attempt: 2, before, after: await c.checkpoint.load() });
          return 'done';
        },
        { retries: 1 },
      );
    });
    const expected = [
      { attempt: 1, afterSave: undefined },
      { attempt: 2, before: 'from attempt 1', after: 'from attempt 1' },
    ];
    expect((await runFlow(definition, quiet)).state).toBe('success');
    expect(seen).toEqual(expected);
    for (const store of [memoryStore(), openStore('same-attempt')]) {
      seen.length = 0;
      const { store: wrapped, calls } = instrument(store);
      expect((await runFlow(definition, { store: wrapped, ...quiet })).state).toBe('success');
      expect(seen).toEqual(expected);
      expect(calls.loadCheckpoint).toBe(2); // one read per attempt, the save-first attempt included
      expect(calls.saveCheckpoint).toBe(2);
    }
  });
});

describe('a checkpoint the store refuses', () => {
  it("fails the attempt as infrastructure (not the task's fault) and leaves the stored checkpoint as it was", async () => {
    const { StoreError } = await import('../../src/stores/index.ts');
    const store = openStore('refused');
    const save = store.saveCheckpoint.bind(store);
    let saves = 0;
    // The second save meets a store that is locked (as by another process past busyTimeoutMs).
    store.saveCheckpoint = (async (...args: Parameters<typeof save>) => {
      if (++saves === 2) throw new StoreError('The store file "refused.db" stayed locked by another connection for longer than busyTimeoutMs (5000 ms), so nothing was written.');
      return save(...args);
    }) as typeof store.saveCheckpoint;
    const loaded: unknown[] = [];
    const run = await runFlow(flow('refused', (f) => {
      f.task('steps', async () => {
        loaded.push(await ctx()!.checkpoint.load());
        await ctx()!.checkpoint.save(1);
        await ctx()!.checkpoint.save(2);
        return 'done';
      });
    }), { store, runId: 'r', ...quiet });
    expect(run.tasks['steps']).toMatchObject({ state: 'failed', failureKind: 'infrastructure' });
    expect(run.tasks['steps']!.error!.message).toContain('stayed locked by another connection');
    expect((await store.loadCheckpoint('r', 'steps'))?.value).toBe(1);
  });
});
