// While a run drives work (an attempt runs, a gate prepares, a decorator hook settles, the run's
// end runs its `runFinished` hooks) it holds one referenced timer, so that a task whose promise
// never settles keeps its process alive; a run that only waits (its own timers, on the run's
// clock) or that ended or let go holds none. The test watches the interval timers made meanwhile
// (spying on `setInterval` / `clearInterval`): the hold is one that is referenced and not cleared.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestClock } from '../../src/clock.ts';
import { defineDecorator, defineGate, flow, startFlow } from '../../src/index.ts';

const quiet = { log: () => {} };

let made: Array<ReturnType<typeof setInterval>> = [];
const cleared = new Set<unknown>();
beforeEach(() => {
  made = [];
  cleared.clear();
  const realSet = globalThis.setInterval;
  const realClear = globalThis.clearInterval;
  vi.spyOn(globalThis, 'setInterval').mockImplementation(((fn: () => void, ms?: number) => {
    const timer = realSet(fn, ms);
    made.push(timer);
    return timer;
  }) as typeof setInterval);
  vi.spyOn(globalThis, 'clearInterval').mockImplementation(((timer?: ReturnType<typeof setInterval>) => {
    cleared.add(timer);
    realClear(timer);
  }) as typeof clearInterval);
});
afterEach(() => {
  vi.restoreAllMocks();
  for (const timer of made) clearInterval(timer);
});

/** Interval timers made since the test began that keep the event loop alive now. */
const liveTimers = () => made.filter((timer) => !cleared.has(timer) && timer.hasRef()).length;

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('a run keeps its process alive only while it drives work', () => {
  it('holds one referenced timer while an attempt runs, none once the run ended', async () => {
    const clock = createTestClock();
    const body = deferred();
    const handle = startFlow(
      flow('hold', (f) => {
        f.task('t', () => body.promise);
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    expect(handle.taskInstance('t')!.state).toBe('running');
    expect(liveTimers()).toBe(1);
    body.resolve();
    expect((await handle.done).state).toBe('success');
    expect(liveTimers()).toBe(0);
  });

  it('holds nothing while it only waits for a retry delay on its clock, and holds again for the next attempt', async () => {
    const clock = createTestClock();
    const second = deferred();
    let calls = 0;
    const handle = startFlow(
      flow('retrying', (f) => {
        f.task(
          't',
          () => {
            calls++;
            if (calls === 1) throw new Error('flake');
            return second.promise;
          },
          { retries: 1, retryDelay: 1_000 },
        );
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    expect(handle.taskInstance('t')!.state).toBe('up_for_retry');
    expect(liveTimers()).toBe(0);
    await clock.advance(1_000);
    expect(handle.taskInstance('t')!.state).toBe('running');
    expect(liveTimers()).toBe(1);
    second.resolve();
    expect((await handle.done).state).toBe('success');
    expect(liveTimers()).toBe(0);
  });

  it('a cancelled run ends at once and holds nothing for an attempt that ignores its signal', async () => {
    const clock = createTestClock();
    const body = deferred();
    const handle = startFlow(
      flow('stubborn', (f) => {
        f.task('t', () => body.promise);
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    expect(liveTimers()).toBe(1);
    handle.cancel();
    expect((await handle.done).state).toBe('failed');
    expect(liveTimers()).toBe(0);
    body.resolve();
  });

  it('holds through a shutdown’s grace period, and lets go of an attempt still running after it', async () => {
    const clock = createTestClock();
    const body = deferred();
    const handle = startFlow(
      flow('stubborn', (f) => {
        f.task('t', () => body.promise);
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    const stopped = handle.shutdown({ graceMs: 5_000 });
    await clock.flush();
    expect(liveTimers()).toBe(1);
    await clock.advance(5_000);
    expect((await stopped).state).toBe('running');
    // The attempt never settles: it is no reason to keep an embedding program alive.
    expect(liveTimers()).toBe(0);
    body.resolve();
  });

  it('holds while a gate prepares an instance, with no attempt running', async () => {
    const clock = createTestClock();
    const prepared = deferred();
    const gate = defineGate({ name: 'slow', prepare: () => prepared.promise });
    const handle = startFlow(
      flow('gated', (f) => {
        f.task('t', () => 1);
      }),
      { clock, gates: [gate], ...quiet },
    );
    await clock.flush();
    expect(handle.taskInstance('t')!.state).toBe('queued');
    expect(liveTimers()).toBe(1);
    prepared.resolve();
    expect((await handle.done).state).toBe('success');
    expect(liveTimers()).toBe(0);
  });

  it('holds while a decorator hook settles a finished attempt', async () => {
    const clock = createTestClock();
    const settled = deferred();
    const slowSettle = defineDecorator({ name: 'slowSettle', defaults: {}, hooks: { onAttemptSettled: () => settled.promise } })();
    const handle = startFlow(
      flow('settling', (f) => {
        f.task('t', () => 1, { decorators: [slowSettle] });
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    expect(handle.snapshot().state).toBe('running');
    expect(liveTimers()).toBe(1);
    settled.resolve();
    expect((await handle.done).state).toBe('success');
    expect(liveTimers()).toBe(0);
  });

  it('holds the run’s end while a runFinished hook waits, and lets go once it settles', async () => {
    const clock = createTestClock();
    const finishing = deferred();
    let hookCalled = false;
    const slowEnd = defineDecorator({
      name: 'slowEnd',
      defaults: {},
      hooks: {
        runFinished: () => {
          hookCalled = true;
          return finishing.promise;
        },
      },
    })();
    const handle = startFlow(
      flow('ending', (f) => {
        f.task('t', () => 1, { decorators: [slowEnd] });
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    expect(hookCalled).toBe(true);
    expect(liveTimers()).toBe(1);
    finishing.resolve();
    expect((await handle.done).state).toBe('success');
    expect(liveTimers()).toBe(0);
  });

  it('keeps holding through a shutdown’s grace while one attempt still runs after another ended', async () => {
    const clock = createTestClock();
    const a = deferred();
    const b = deferred();
    const handle = startFlow(
      flow('two-stubborn', (f) => {
        f.task('a', () => a.promise);
        f.task('b', () => b.promise);
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    const stopped = handle.shutdown({ graceMs: 5_000 });
    await clock.flush();
    a.resolve();
    await clock.flush();
    // `a` ended within the grace; `b` still runs: the process must not be let go of yet.
    expect(handle.taskInstance('b')!.state).toBe('running');
    expect(liveTimers()).toBe(1);
    await clock.advance(5_000);
    expect((await stopped).state).toBe('running');
    expect(liveTimers()).toBe(0);
    b.resolve();
  });

  it('keeps holding while a cancelled run waits for a decorator hook settling an attempt', async () => {
    const clock = createTestClock();
    const settled = deferred();
    const body = deferred();
    const slowSettle = defineDecorator({ name: 'slowSettle', defaults: {}, hooks: { onAttemptSettled: () => settled.promise } })();
    const handle = startFlow(
      flow('cancel-settling', (f) => {
        f.task('a', () => 1, { decorators: [slowSettle] });
        f.task('b', () => body.promise);
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    handle.cancel();
    await clock.flush();
    // The hook still settles: the run is cancelling, not ended, and holds the process.
    expect(handle.snapshot().state).toBe('running');
    expect(liveTimers()).toBe(1);
    settled.resolve();
    expect(await handle.done).toMatchObject({ state: 'failed', reason: 'cancelled' });
    expect(liveTimers()).toBe(0);
    body.resolve();
  });
});
