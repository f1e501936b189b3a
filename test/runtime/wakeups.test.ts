// The run's timers (attempt deadlines, retry delays, a shutdown's grace period) on an injected
// test clock: each is cancelled once it is moot, so none is left behind when the run ends.
import { describe, expect, it } from 'vitest';
import { createTestClock } from '../../src/clock.ts';
import { ctx, flow, startFlow } from '../../src/index.ts';

const quiet = { log: () => {} };

describe('wake-ups and deadlines on the run clock', () => {
  it('an attempt that ends before its timeout cancels its deadline', async () => {
    const clock = createTestClock();
    let release!: () => void;
    const handle = startFlow(
      flow('deadline', (f) => {
        f.task('t', () => new Promise<number>((resolve) => (release = () => resolve(1))), { timeout: 1_000 });
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(500);
    release();
    const run = await handle.done;
    expect(run.state).toBe('success');
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(1_000);
    expect(handle.taskInstance('t')!.state).toBe('success');
  });

  it('an attempt still running at its timeout fails with a timeout at exactly that time', async () => {
    const clock = createTestClock();
    const handle = startFlow(
      flow('deadline', (f) => {
        f.task('t', () => new Promise<number>(() => {}), { timeout: 1_000 });
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    await clock.advance(999);
    expect(handle.taskInstance('t')!.state).toBe('running');
    await clock.advance(1);
    expect((await handle.done).state).toBe('failed');
    expect(handle.taskInstance('t')!.state).toBe('failed');
  });

  it('cancelling a run waiting for a retry delay cancels that timer; the retry never happens', async () => {
    const clock = createTestClock();
    let calls = 0;
    const handle = startFlow(
      flow('retrying', (f) => {
        f.task(
          't',
          () => {
            calls++;
            throw new Error('flake');
          },
          { retries: 3, retryDelay: 1_000 },
        );
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    expect(handle.taskInstance('t')!.state).toBe('up_for_retry');
    expect(clock.pendingTimers).toBe(1);
    handle.cancel();
    expect((await handle.done).state).toBe('failed');
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(5_000);
    expect(calls).toBe(1);
  });

  it('a shutdown whose attempts stop within the grace period cancels the grace timer', async () => {
    const clock = createTestClock();
    const handle = startFlow(
      flow('polite', (f) => {
        f.task('t', () => {
          const { signal } = ctx()!;
          return new Promise<number>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
        });
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    expect(handle.taskInstance('t')!.state).toBe('running');
    const record = await handle.shutdown({ graceMs: 60_000 });
    expect(record.state).toBe('running');
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('an instance’s start time', () => {
  it('is when its first attempt started, not a retry (run clock)', async () => {
    const clock = createTestClock(10_000);
    let calls = 0;
    const handle = startFlow(
      flow('retry-start', (f) => {
        f.task(
          't',
          () => {
            if (++calls === 1) throw new Error('flake');
            return 'ok';
          },
          { retries: 1, retryDelay: 1_000 },
        );
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    expect(handle.taskInstance('t')).toMatchObject({ state: 'up_for_retry', startedAt: 10_000 });
    await clock.advance(1_000);
    const run = await handle.done;
    expect(run.tasks['t']).toMatchObject({ state: 'success', attempts: 2, startedAt: 10_000 });
  });
});
