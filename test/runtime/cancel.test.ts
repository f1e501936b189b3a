import { describe, expect, it } from 'vitest';
import { defineDecorator, flow, startFlow } from '../../src/index.ts';
import { memoryStore } from '../../src/stores/index.ts';

describe('cancel()', () => {
  it('a decorated running attempt is settled through its decorators before the run ends: done and the store show no running instance', async () => {
    const store = memoryStore();
    const settled: string[] = [];
    // onAttemptSettled is async (it awaits, as an audit hook writing somewhere would): the
    // cancelled attempt's outcome is known only after it.
    const audit = defineDecorator({
      name: 'audit',
      defaults: {},
      hooks: {
        async onAttemptSettled(result, sys) {
          await Promise.resolve();
          settled.push(`${sys.taskKey} ok=${result.ok}`);
        },
      },
    });
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const definition = flow('cancelled', (f) => {
      f.task('slow', () => {
        started();
        return new Promise(() => {});
      }, { decorators: [audit()] });
    });
    const handle = startFlow(definition, { store, runId: 'r', log: () => {} });
    await running;
    handle.cancel('stop it');
    const run = await handle.done;
    expect(settled).toEqual(['slow ok=false']);
    expect(run).toMatchObject({ state: 'failed', reason: 'cancelled' });
    expect(run.tasks['slow']).toMatchObject({ state: 'failed', failureKind: 'infrastructure' });
    await handle.persisted();
    const stored = await store.loadRun('r');
    expect(stored!.run).toMatchObject({ state: 'failed', reason: 'cancelled' });
    expect(stored!.instances.map((i) => [i.key, i.state])).toEqual([['slow', 'failed']]);
  });
});
