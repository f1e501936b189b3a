import { describe, expect, it } from 'vitest';
import { createTestClock } from '../../src/clock.ts';
import { ctx, defineDecorator, flow, startFlow } from '../../src/index.ts';

describe('decorators are actors subscribed to transitions', () => {
  it('a user-written actor decorator sees every transition of its task in order and can abort an attempt', async () => {
    const clock = createTestClock();
    const seen: string[] = [];
    // Aborts any attempt that is still running 100 ms after it started, with its own error.
    const watchdog = defineDecorator({
      name: 'watchdog',
      defaults: { ms: 100 },
      hooks: {
        onTransition(change, scope, params) {
          seen.push(`${change.taskInstance.key} ${change.previousState}→${change.state}`);
          if (change.state === 'running') {
            const { key, attempts } = change.taskInstance;
            scope.local.set(key, scope.clock.setTimeout(() => {
              scope.send({ type: 'ABORT_ATTEMPT', taskKey: key, attempt: attempts, error: new Error(`watchdog: attempt ${attempts} too slow`) });
            }, params.ms));
          } else if (change.previousState === 'running') {
            scope.clock.clearTimeout(scope.local.get(change.taskInstance.key));
          }
        },
      },
    });
    const signals: AbortSignal[] = [];
    const handle = startFlow(
      flow('watched', (f) => {
        f.task('slow', () => {
          signals.push(ctx()!.signal);
          return ctx()!.attempt === 1 ? new Promise(() => {}) : 'second attempt is quick';
        }, { retries: 1, decorators: [watchdog()] });
        f.task('plain', () => 'no decorator, no actor traffic');
      }),
      { clock, log: () => {} },
    );
    await clock.runAll();
    const run = await handle.done;
    expect(signals[0]!.aborted).toBe(true);
    expect((signals[0]!.reason as Error).message).toBe('watchdog: attempt 1 too slow');
    expect(run.tasks['slow']).toMatchObject({ state: 'success', attempts: 2, result: 'second attempt is quick' });
    expect(seen).toEqual([
      'slow none→scheduled',
      'slow scheduled→queued',
      'slow queued→running',
      'slow running→up_for_retry',
      'slow up_for_retry→scheduled',
      'slow scheduled→queued',
      'slow queued→running',
      'slow running→success',
    ]);
  });
});

describe('isCloned', () => {
  it('a resumed run tells decorators which results it reused', async () => {
    const { memoryStore } = await import('../../src/stores/index.ts');
    const store = memoryStore();
    const finished: string[] = [];
    const audit = defineDecorator({
      name: 'audit',
      defaults: {},
      hooks: { onTaskFinished: (ok, sys) => void finished.push(`${sys.taskKey} ok=${ok} cloned=${sys.isCloned}`) },
    })();
    let parked = true;
    const definition = flow('audited', (f) => {
      const a = f.task('a', () => 1, { decorators: [audit] });
      f.task('b', () => (parked ? ctx()!.defer({ event: true }) : 2), { after: [a], decorators: [audit] });
    });
    const first = startFlow(definition, { store, runId: 'r', log: () => {} });
    await first.settled();
    // The first process stops (lets go of the run); a second one resumes it.
    await first.shutdown();
    parked = false;
    const second = startFlow(definition, { store, runId: 'r', resume: true, log: () => {} });
    await second.ready();
    await second.settled();
    second.sendEvent('b', 'go');
    await second.done;
    expect(finished).toEqual(['a ok=true cloned=false', 'a ok=true cloned=true', 'b ok=true cloned=false']);
  });
});
