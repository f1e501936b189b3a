// The runtime on a PostgreSQL store, end to end: the contract suite checks the store method by
// method; this checks that a run driven by runFlow holds and releases its lease, commits fenced
// turns, and answers a control request another process stores — all through postgresStore.
// (A 'cancel' request is left out: on main it leaves the request pending with any store — the run
// lets go of its lease before the settlement commits, which is then refused with LeaseLostError.)
import { describe, expect, it, vi } from 'vitest';
import { flow, runFlow, startFlow } from '../../src/index.ts';
import { openStore, postgres, skipReason } from '../helpers/postgresTest.ts';

const quiet = { log: () => {} };

describe.skipIf(postgres === undefined)(`the runtime on postgresStore${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`, () => {
  it('a run holds a lease while it runs and releases it at the end; every turn is committed', async () => {
    const store = await openStore();
    const etl = flow<{ day: string }>('etl', (f) => {
      const extract = f.task('extract', ({ input }) => `rows of ${input.day}`);
      f.task('load', ({ upstream }) => `${upstream.extract as string} loaded`, { after: [extract] });
    });
    const run = await runFlow(etl, { store, runId: 'nightly', input: { day: '2026-11-23' }, ...quiet });
    expect(run.state).toBe('success');
    const loaded = (await store.loadRun('nightly'))!;
    expect(loaded.run.state).toBe('success');
    expect(loaded.instances.map((i) => [i.key, i.state, i.interruptions])).toEqual([
      ['extract', 'success', 0],
      ['load', 'success', 0],
    ]);
    expect(loaded.results.map((r) => r.value)).toEqual(['rows of 2026-11-23', 'rows of 2026-11-23 loaded']);
    const lease = await store.getLease('nightly');
    expect(lease).toMatchObject({ token: 1 });
    expect(lease!.releasedAt).toBeTypeOf('number');
    expect((await store.listRuns())[0]!.lease).toEqual(lease);
  });

  it('the owner applies a control request another process stored and settles it in its commit', async () => {
    const store = await openStore();
    const other = await openStore({ schema: store.schema }); // another process on the same schema
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const waiting = flow('waiting', (f) => {
      const slow = f.task('slow', async () => {
        await gate;
        return 'done';
      });
      f.task('later', () => 'ran', { after: [slow] });
    });
    const handle = startFlow(waiting, { store, runId: 'live', ...quiet });
    await vi.waitFor(async () => expect((await other.loadRun('live'))?.instances[0]?.state).toBe('running'), { timeout: 10_000, interval: 20 });
    expect((await other.getLease('live'))?.releasedAt).toBeUndefined();
    const request = await other.requestControl({ runId: 'live', action: 'set-state', taskKey: 'later', state: 'skipped', requestedAt: Date.now(), requestedBy: 'test' });
    await vi.waitFor(async () => expect((await other.getControl('live', request.id))?.status).toBe('applied'), { timeout: 10_000, interval: 50 });
    expect((await other.getControl('live', request.id))?.message).toMatch(/later: .* → skipped/);
    expect((await other.loadRun('live'))!.instances.find((i) => i.key === 'later')?.state).toBe('skipped');
    release();
    const record = await handle.settled();
    expect(record.state).toBe('success');
    expect(await other.pendingControls('live')).toEqual([]);
    expect((await other.getLease('live'))!.releasedAt).toBeTypeOf('number');
  });
});
