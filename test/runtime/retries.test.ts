import { describe, expect, it } from 'vitest';
import { createTestClock } from '../../src/clock.ts';
import { ctx, FailTask, flow, runFlow, startFlow, TaskTimeoutError, type TaskInstanceChange } from '../../src/index.ts';

const quiet = { log: () => {} };

describe('retries', () => {
  it('retries with exponential backoff capped by maxRetryDelay, then succeeds (fake clock)', async () => {
    const clock = createTestClock(1_000);
    const startedAt: number[] = [];
    const attempts: number[] = [];
    const flaky = flow('flaky', (f) => {
      f.task(
        'extract',
        () => {
          startedAt.push(clock.now());
          attempts.push(ctx()!.attempt);
          if (attempts.length < 4) throw new Error(`flake ${attempts.length}`);
          return 'rows';
        },
        { retries: 5, retryDelay: 100, retryBackoff: 2, maxRetryDelay: 250 },
      );
    });
    const handle = startFlow(flaky, { clock, ...quiet });
    const changes: string[] = [];
    handle.subscribe((c) => changes.push(`${c.previousState}>${c.state}`));
    await clock.flush();
    expect(attempts).toEqual([1]);
    expect(handle.taskInstance('extract')!.state).toBe('up_for_retry');
    await clock.advance(99);
    expect(attempts).toEqual([1]);
    await clock.advance(1);
    expect(attempts).toEqual([1, 2]);
    await clock.advance(200);
    expect(attempts).toEqual([1, 2, 3]);
    await clock.advance(249);
    expect(attempts).toEqual([1, 2, 3]);
    await clock.advance(1);
    const run = await handle.done;
    expect(attempts).toEqual([1, 2, 3, 4]);
    // Gaps: 100, 200 (100×2), 250 (400 capped).
    expect(startedAt.map((t, i) => (i === 0 ? 0 : t - startedAt[i - 1]!))).toEqual([0, 100, 200, 250]);
    expect(run.tasks['extract']).toMatchObject({ state: 'success', attempts: 4, maxAttempts: 6, result: 'rows' });
    expect(changes.slice(0, 6)).toEqual([
      'none>scheduled',
      'scheduled>queued',
      'queued>running',
      'running>up_for_retry',
      'up_for_retry>scheduled',
      'scheduled>queued',
    ]);
  });

  it('retries: N means N + 1 attempts, then failed with the last error', async () => {
    let calls = 0;
    const run = await runFlow(
      flow('always-fails', (f) => {
        f.task('t', () => {
          calls++;
          throw new Error(`attempt ${ctx()!.attempt} of ${ctx()!.maxAttempts}`);
        }, { retries: 2 });
      }),
      quiet,
    );
    expect(calls).toBe(3);
    expect(run.tasks['t']).toMatchObject({ state: 'failed', attempts: 3, failureKind: 'application' });
    expect(run.tasks['t']!.error!.message).toBe('attempt 3 of 3');
    expect(run.state).toBe('failed');
  });

  it('FailTask fails at once whatever retries remain', async () => {
    let calls = 0;
    const run = await runFlow(
      flow('fail-fast', (f) => {
        f.task('t', () => {
          calls++;
          throw new FailTask('credentials rejected');
        }, { retries: 5 });
      }),
      quiet,
    );
    expect(calls).toBe(1);
    expect(run.tasks['t']).toMatchObject({ state: 'failed', attempts: 1 });
  });

  it('a thrown non-Error becomes an Error that keeps the value as cause', async () => {
    const run = await runFlow(
      flow('throws-string', (f) => {
        f.task('t', () => {
          throw { code: 42 };
        });
      }),
      quiet,
    );
    const error = run.tasks['t']!.error!;
    expect(error).toBeInstanceOf(Error);
    expect(error.cause).toEqual({ code: 42 });
  });
});

describe('timeouts', () => {
  it('abort the attempt signal with TaskTimeoutError, retry, and discard the late result', async () => {
    const clock = createTestClock();
    const signals: AbortSignal[] = [];
    let release!: (value: string) => void;
    const late = new Promise<string>((resolve) => (release = resolve));
    const handle = startFlow(
      flow('slow', (f) => {
        f.task('t', async () => {
          signals.push(ctx()!.signal);
          if (ctx()!.attempt === 1) {
            await ctx()!.checkpoint.save('from attempt 1, before the timeout');
            const value = await late; // ignores the signal: a zombie
            await ctx()!.checkpoint.save('late save from attempt 1');
            return value;
          }
          return `attempt 2 saw checkpoint: ${String(await ctx()!.checkpoint.load())}`;
        }, { timeout: 50, retries: 1 });
      }),
      { clock, ...quiet },
    );
    const failures: TaskInstanceChange[] = [];
    handle.subscribe((c) => c.state === 'up_for_retry' && failures.push(c));
    await clock.advance(49);
    expect(signals[0]!.aborted).toBe(false);
    await clock.advance(1);
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[0]!.reason).toBeInstanceOf(TaskTimeoutError);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.error).toBeInstanceOf(TaskTimeoutError);
    expect(failures[0]!.taskInstance.failureKind).toBe('timeout');
    const run = await handle.done;
    release('late result of attempt 1');
    await clock.flush();
    expect(run.tasks['t']).toMatchObject({
      state: 'success',
      attempts: 2,
      result: 'attempt 2 saw checkpoint: from attempt 1, before the timeout',
    });
    expect(handle.snapshot().tasks['t']!.result).toBe(run.tasks['t']!.result);
  });
});

describe('concurrency and cancellation', () => {
  it('never runs more attempts than the limit', async () => {
    let running = 0;
    let peak = 0;
    const run = await runFlow(
      flow('wide', (f) => {
        for (let i = 0; i < 50; i++) {
          f.task(`t${i}`, async () => {
            running++;
            peak = Math.max(peak, running);
            await new Promise((resolve) => setImmediate(resolve));
            running--;
          });
        }
      }),
      { concurrency: 3, ...quiet },
    );
    expect(run.state).toBe('success');
    expect(peak).toBe(3);
  });

  it('an aborted signal cancels the run: attempts aborted, nothing new starts, reason cancelled', async () => {
    const controller = new AbortController();
    const started: string[] = [];
    const seen: AbortSignal[] = [];
    const handle = startFlow(
      flow('cancel', (f) => {
        const a = f.task('a', async () => {
          started.push('a');
          seen.push(ctx()!.signal);
          await new Promise(() => {}); // never settles on its own
        }, { retries: 3 });
        f.task('b', () => started.push('b'), { after: [a] });
      }),
      { signal: controller.signal, ...quiet },
    );
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort(new Error('user pressed stop'));
    const run = await handle.done;
    expect(started).toEqual(['a']);
    expect(seen[0]!.aborted).toBe(true);
    expect(run.state).toBe('failed');
    expect(run.reason).toBe('cancelled');
    expect(run.tasks['a']).toMatchObject({ state: 'failed', attempts: 1, failureKind: 'infrastructure' });
    expect(run.tasks['a']!.error!.message).toBe('the run was cancelled: user pressed stop');
    expect(run.tasks['b']!.state).toBe('none');
  });

  it('a signal aborted before the start runs nothing', async () => {
    let ran = false;
    const run = await runFlow(
      flow('pre-aborted', (f) => {
        f.task('a', () => {
          ran = true;
        });
      }),
      { signal: AbortSignal.abort(), ...quiet },
    );
    // The first turn is a microtask; the abort listener is queued before it.
    expect(run.reason).toBe('cancelled');
    expect(ran).toBe(false);
  });

  it('task code that rejects after the run ended never causes an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      let fail!: (error: Error) => void;
      const handle = startFlow(
        flow('zombie', (f) => {
          f.task('a', () => new Promise((_, reject) => (fail = reject)), { timeout: 1 });
        }),
        quiet,
      );
      await handle.done;
      fail(new Error('too late'));
      await new Promise((resolve) => setTimeout(resolve, 0));
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('bad run options', () => {
  it('names the problem', () => {
    const f1 = flow('ok', (f) => void f.task('a', () => 1));
    expect(() => startFlow(f1, { concurrency: 0 })).toThrow('runFlow: concurrency must be a whole number ≥ 1, got 0');
    expect(() => startFlow(f1, { concurency: 2 } as never)).toThrow("runFlow: unknown option 'concurency'");
    expect(() => startFlow(f1, { customContext: { n: 1 } } as never)).toThrow("customContext values must be strings; 'n' is number");
    // A string where a number belongs is shown quoted (it read 'got 4', which looks right).
    expect(() => startFlow(f1, { concurrency: '4' } as never)).toThrow('runFlow: concurrency must be a whole number ≥ 1, got "4"');
    expect(() => startFlow(f1, { leaseTtl: { ms: 5 } } as never)).toThrow('got an object');
    // One listener or gate not in an array: said so (it was an internal '.entries is not a function').
    const listener = { onFlowRunSuccess: () => {} };
    expect(() => startFlow(f1, { listeners: listener } as never)).toThrow('runFlow: listeners must be an array, e.g. listeners: [openTelemetry()]; got an object');
    expect(() => startFlow(f1, { gates: 'warehouse' } as never)).toThrow('runFlow: gates must be an array, e.g. gates: [warehouseOpen]; got "warehouse"');
  });
});
