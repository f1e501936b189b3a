// Control requests stored the way `taskmachine set-state/clear/resume-task/send-event/cancel` store
// them for a run another process owns, applied here by the owning run (in this process, so the
// mutation suite sees it): the answer each gets (applied with what changed, or refused with the
// machine's reason) and the states that follow.
import { describe, expect, it } from 'vitest';
import { ctx, FailTask, flow, startFlow, TaskCheckpointed } from '../../src/index.ts';
import { memoryStore, type ControlRequestWrite, type Store, type StoredControlRequest } from '../../src/stores/index.ts';

const quiet = { log: () => {} };

/** Stores a request as the CLI does and awaits the owner's answer (the owner polls a few times a second). */
async function ask(store: Store, request: Omit<ControlRequestWrite, 'runId' | 'requestedAt'>): Promise<StoredControlRequest> {
  const stored = await store.requestControl({ runId: 'r', requestedAt: Date.now(), requestedBy: 'test', ...request });
  for (;;) {
    const answer = await store.getControl('r', stored.id);
    if (answer !== undefined && answer.status !== 'pending') return answer;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function repairFlow(runs: string[]) {
  return flow('repair', (f) => {
    const extract = f.task('extract', () => {
      throw new FailTask('source down');
    });
    const load = f.task('load', () => runs.push('load'), { after: [extract] });
    f.task('report', () => runs.push('report'), { after: [load] });
    // Keeps the run open until a person answers.
    f.task('approve', () => (ctx()!.event === undefined ? ctx()!.defer({ event: true }) : `approved by ${(ctx()!.event as { by: string }).by}`));
    f.task('wait', () => {
      const event = ctx()!.event as { page: number } | undefined;
      if (event === undefined) throw new TaskCheckpointed('waiting for the next page');
      return `page ${event.page}`;
    });
  });
}

/** A run whose one task runs until its signal aborts (started and running when this resolves); `seen` gets the failed task's errors. */
async function hangingRun(store: ReturnType<typeof memoryStore>) {
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const seen: unknown[] = [];
  const handle = startFlow(
    flow('hangs', (f) => {
      f.task('slow', () => {
        const { signal } = ctx()!;
        started();
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      });
    }),
    { ...quiet, store, runId: 'r' },
  );
  handle.subscribe((change) => change.state === 'failed' && seen.push(change.error));
  await running;
  return { handle, seen };
}

describe('control requests applied by the run that owns it', () => {
  it('set-state, clear with downstream, resume-task and send-event: each answered applied with what changed; an unknown key refused', async () => {
    const store = memoryStore();
    const runs: string[] = [];
    const handle = startFlow(repairFlow(runs), { ...quiet, store, runId: 'r' });
    const waiting = await handle.settled();
    expect(waiting.tasks['extract']!.state).toBe('failed');
    expect(waiting.tasks['load']!.state).toBe('upstream_failed');
    expect(waiting.tasks['approve']!.state).toBe('deferred');
    expect(waiting.tasks['wait']!.state).toBe('checkpointed');

    const unknown = await ask(store, { action: 'set-state', taskKey: 'lod', state: 'success' });
    expect(unknown).toMatchObject({ status: 'refused', message: expect.stringMatching(/'lod'/) });

    const set = await ask(store, { action: 'set-state', taskKey: 'extract', state: 'success' });
    expect(set).toMatchObject({ status: 'applied', message: 'extract: failed → success' });
    const repaired = await handle.settled();
    expect(repaired.tasks['report']!.state).toBe('success');
    expect(runs).toEqual(['load', 'report']);

    const cleared = await ask(store, { action: 'clear', taskKey: 'load', payload: { downstream: true } });
    expect(cleared).toMatchObject({ status: 'applied', message: 'cleared 2 task instances: load, report' });
    await handle.settled();
    expect(runs).toEqual(['load', 'report', 'load', 'report']);

    const resumed = await ask(store, { action: 'resume-task', taskKey: 'wait', payload: { page: 2 } });
    expect(resumed).toMatchObject({ status: 'applied', message: 'wait: checkpointed → scheduled' });
    expect((await handle.settled()).tasks['wait']).toMatchObject({ state: 'success', result: 'page 2' });

    // send-event to an instance that is not deferred is refused by the machine and changes nothing.
    const notDeferred = await ask(store, { action: 'send-event', taskKey: 'wait', payload: {} });
    expect(notDeferred.status).toBe('refused');
    expect(handle.taskInstance('wait')!.state).toBe('success');

    const sent = await ask(store, { action: 'send-event', taskKey: 'approve', payload: { by: 'ada' } });
    expect(sent).toMatchObject({ status: 'applied', message: 'approve: deferred → scheduled' });
    const run = await handle.done;
    expect(run.state).toBe('success');
    expect(run.tasks['approve']!.result).toBe('approved by ada');
    await handle.persisted();
    expect(await store.pendingControls('r')).toEqual([]);
  });

  it('cancel with a reason ends the running attempt with that reason; the answer names the run and its state', async () => {
    const store = memoryStore();
    const { handle, seen } = await hangingRun(store);
    const answer = await ask(store, { action: 'cancel', payload: 'maintenance window' });
    expect(answer).toMatchObject({ status: 'applied', message: "run 'r': failed (cancelled)" });
    const run = await handle.done;
    expect(run).toMatchObject({ state: 'failed', reason: 'cancelled' });
    expect(String(seen[0])).toContain('maintenance window');
  });

  it('cancel with a payload that is not text uses the default reason', async () => {
    const store = memoryStore();
    const { handle, seen } = await hangingRun(store);
    expect(await ask(store, { action: 'cancel', payload: { why: 'x' } })).toMatchObject({ status: 'applied' });
    await handle.done;
    expect(String(seen[0])).toContain('the run was cancelled');
  });
});
