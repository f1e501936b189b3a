// Control requests applied by the run's owner (what `taskmachine set-state/cancel …` from another
// process store): each is answered exactly once, in the same batch as the changes it caused.
import { describe, expect, it } from 'vitest';
import { flow, startFlow } from '../../src/index.ts';
import { recordingStore } from '../helpers/recordingStore.ts';

function hangingFlow(started: () => void) {
  return flow('hangs', (f) => {
    f.task('slow', () => {
      started();
      return new Promise(() => {});
    });
  });
}

describe('control requests', () => {
  it('a cancel requested while a task runs ends the run; its answer is in the final batch, before the lease is let go', async () => {
    const { store, batches } = recordingStore();
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const handle = startFlow(hangingFlow(started), { store, runId: 'r', log: () => {} });
    await running;
    const request = await store.requestControl({ runId: 'r', action: 'cancel', payload: 'enough', requestedAt: Date.now() });
    const run = await handle.done;
    await handle.persisted();
    expect(run).toMatchObject({ state: 'failed', reason: 'cancelled' });
    expect(await store.getControl('r', request.id)).toMatchObject({ status: 'applied', message: expect.stringMatching(/run 'r'.*cancelled/) });
    // One batch carries the run's end, the failed task and the answer (a crash cannot split them).
    const answering = batches.filter((batch) => batch.controls?.some((c) => c.id === request.id));
    expect(answering).toHaveLength(1);
    expect(answering[0]!.run).toMatchObject({ state: 'failed', reason: 'cancelled' });
    expect(answering[0]!.instances?.map((i) => [i.record.key, i.record.state])).toEqual([['slow', 'failed']]);
    expect((await store.getLease('r'))!.releasedAt).toBeDefined();
    expect(await store.pendingControls('r')).toEqual([]);
  });

  it('a request the machine refuses is answered refused, with the reason, and changes nothing', async () => {
    const { store } = recordingStore();
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const handle = startFlow(hangingFlow(started), { store, runId: 'r', log: () => {} });
    await running;
    const refused = await store.requestControl({ runId: 'r', action: 'resume-task', taskKey: 'nope', requestedAt: Date.now() });
    const cancel = await store.requestControl({ runId: 'r', action: 'cancel', requestedAt: Date.now() });
    await handle.done;
    await handle.persisted();
    expect(await store.getControl('r', refused.id)).toMatchObject({ status: 'refused', message: expect.stringMatching(/nope/) });
    expect(await store.getControl('r', cancel.id)).toMatchObject({ status: 'applied' });
  });
});
