// A crash while a fan-out is partly scheduled: the resumed run must still have every mapped
// instance. Deterministic (in-process crash: the store is cut off, then the old run cancelled).
import { describe, expect, it } from 'vitest';
import { ctx, flow, startFlow, runFlow } from '../../src/index.ts';
import { memoryStore } from '../../src/stores/index.ts';
import { instrument, afterLeaseExpiry } from './fixtures/storeChecks.ts';

const quiet = { log: () => {} };

/** `firstStarted` given: square[0] runs until the process "dies" (the first process only). */
function fanOut(executed: string[], firstStarted?: () => void) {
  return flow('fan-out', (f) => {
    const list = f.task('list', () => Array.from({ length: 40 }, (_, i) => i));
    const square = f.map(
      'square',
      list,
      async ({ item }) => {
        const c = ctx()!;
        executed.push(`${c.taskKey}#${c.attempt}`);
        if (c.taskKey === 'square[0]' && firstStarted !== undefined) {
          firstStarted();
          // Runs until the process "dies".
          await new Promise((_, reject) => c.signal.addEventListener('abort', () => reject(c.signal.reason as Error)));
        }
        return (item as number) ** 2;
      },
      { retries: 1 },
    );
    f.task('sum', ({ upstream }) => (upstream.square as number[]).reduce((a, b) => a + b, 0), { after: [square] });
  });
}

describe('crash during a fan-out', () => {
  // Regression (fixed in ca95542): #expand created the mapped instances but wrote only those that
  // moved: with concurrency 1 the scheduling window admitted 33 of the 40, the other 7 stayed
  // `none` and were never stored. #restore rebuilt the map from the stored instances only, so the
  // resumed run had 33 mapped instances, `sum` added 33 squares, and the run reported success.
  it('the resumed run has every mapped instance, also those not yet scheduled when the process died', async () => {
    const inner = memoryStore();
    const first = instrument(inner);
    const executed: string[] = [];
    let started!: () => void;
    const firstStarted = new Promise<void>((resolve) => (started = resolve));
    const handle = startFlow(fanOut(executed, () => started()), { store: first.store, runId: 'fan', concurrency: 1, ...quiet });
    await firstStarted;
    await handle.persisted();
    // Every mapped instance is in the store, scheduled or not.
    expect((await inner.loadRun('fan'))!.instances.filter((i) => i.taskId === 'square')).toHaveLength(40);
    first.crash();
    handle.cancel('the process died');

    const run = await runFlow(fanOut(executed), { store: inner, runId: 'fan', resume: true, concurrency: 1, clock: afterLeaseExpiry, ...quiet });
    const squares = Object.keys(run.tasks).filter((key) => key.startsWith('square['));
    expect(squares).toHaveLength(40);
    expect(run.tasks['sum']!.result).toBe(Array.from({ length: 40 }, (_, i) => i * i).reduce((a, b) => a + b, 0));
    expect(run.state).toBe('success');
    // The interrupted attempt ran again, as attempt 1 (no retry used); every other instance ran once, in the resumed run.
    expect([...executed].sort()).toEqual(
      ['square[0]#1', 'square[0]#1', ...Array.from({ length: 39 }, (_, i) => `square[${i + 1}]#1`)].sort(),
    );
  });
});
