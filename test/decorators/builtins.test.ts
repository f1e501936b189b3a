import { describe, expect, it, vi } from 'vitest';
import { createTestClock } from '../../src/clock.ts';
import {
  catchErrors,
  ctx,
  defineDecorator,
  environment,
  flow,
  resources,
  retry,
  runFlow,
  startFlow,
  TaskTimeoutError,
  timeout,
  type TaskInstanceChange,
} from '../../src/index.ts';

const quiet = { log: () => {} };

describe('catchErrors + retry + timeout on one task', () => {
  it('every attempt times out: 3 invocations, the task succeeds carrying the timeout, downstream runs', async () => {
    const clock = createTestClock();
    const signals: AbortSignal[] = [];
    const handle = startFlow(
      flow('combo', (f) => {
        const load = f.task(
          'load',
          () => {
            signals.push(ctx()!.signal);
            return new Promise(() => {}); // hangs: only the timeout ends it
          },
          { decorators: [retry({ times: 2, delay: 10 }), timeout({ seconds: 1 }), catchErrors({ var: 'loadError', printException: false })] },
        );
        f.task('report', ({ upstream }) => (upstream.load.loadError ? `degraded: ${upstream.load.loadError.name}` : 'ok'), { after: [load] });
      }),
      { clock, ...quiet },
    );
    const states: string[] = [];
    handle.subscribe((c: TaskInstanceChange) => c.taskInstance.key === 'load' && states.push(c.state));
    await clock.runAll();
    const run = await handle.done;
    expect(signals).toHaveLength(3);
    expect(signals.every((s) => s.aborted && s.reason instanceof TaskTimeoutError)).toBe(true);
    expect(run.tasks['load']!.state).toBe('success');
    expect(run.tasks['load']!.attempts).toBe(3);
    const result = run.tasks['load']!.result as { value: unknown; loadError: Error };
    expect(result.value).toBeUndefined();
    expect(result.loadError).toBeInstanceOf(TaskTimeoutError);
    expect(run.tasks['report']!.result).toBe('degraded: TaskTimeoutError');
    expect(states).toEqual([
      'scheduled', 'queued', 'running', 'up_for_retry',
      'scheduled', 'queued', 'running', 'up_for_retry',
      'scheduled', 'queued', 'running', 'success',
    ]);
  });

  it("prints the caught error in the run's log (not on stderr), as a decorator's sys.log does", async () => {
    const lines: string[] = [];
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const noted = defineDecorator({ name: 'noted', defaults: {}, hooks: { beforeAttempt: (sys) => sys.log('attempt %d of %s', sys.attempt, sys.taskKey) } });
      const run = await runFlow(
        flow('caught', (f) => {
          f.task('load', () => {
            throw new Error('no rows');
          }, { decorators: [noted(), catchErrors()] });
        }),
        { log: (line) => lines.push(line) },
      );
      expect(run.tasks['load']!.state).toBe('success');
      expect(errors).not.toHaveBeenCalled();
      expect(lines).toContain('attempt 1 of load');
      expect(lines.find((line) => line.startsWith('catchErrors: load failed, continuing: Error: no rows'))).toBeDefined();
    } finally {
      errors.mockRestore();
    }
  });

  it('a task that succeeds on its second attempt: catchErrors sets var to null and keeps the value', async () => {
    let calls = 0;
    const run = await runFlow(
      flow('recovers', (f) => {
        f.task('t', () => {
          if (++calls === 1) throw new Error('flaky');
          return 42;
        }, { decorators: [retry({ times: 2 }), catchErrors()] });
      }),
      quiet,
    );
    expect(calls).toBe(2);
    expect(run.tasks['t']!.result).toEqual({ value: 42, error: null });
  });

  it('the retry budget is the max of task option and decorators; forbid wins', async () => {
    const counts: Record<string, number> = {};
    const failing = (key: string) => () => {
      counts[key] = (counts[key] ?? 0) + 1;
      throw new Error('always');
    };
    await runFlow(
      flow('budgets', (f) => {
        f.task('optionWins', failing('optionWins'), { retries: 3, decorators: [retry({ times: 1 })] });
        f.task('decoratorWins', failing('decoratorWins'), { retries: 1, decorators: [retry({ times: 2 })] });
        f.task('forbidden', failing('forbidden'), { retries: 4, decorators: [retry({ forbid: true })] });
      }),
      quiet,
    );
    expect(counts).toEqual({ optionWins: 4, decoratorWins: 3, forbidden: 1 });
  });
});

describe('definition-time checks of the built-ins', () => {
  it('rejects a zero timeout, catchErrors on a mapped task, and bad resource values', () => {
    expect(() =>
      flow('bad', (f) => {
        const list = f.task('list', () => [1], { decorators: [timeout({})] });
        f.map('each', list, () => 1, { decorators: [catchErrors()] });
        f.task('big', () => 1, { decorators: [resources({ cpu: -1 })] });
        f.task('env', () => 1, { decorators: [environment({ vars: { PORT: 8080 as never } })] });
      }),
    ).toThrow(
      [
        "task 'list': decorator 'timeout': the timeout is zero: give seconds, minutes or hours",
        "task 'each': decorator 'catchErrors': cannot be used on a mapped task: catch errors in the task that consumes its results",
        "task 'big': decorator 'resources': cpu must be a number ≥ 0, got -1",
        "task 'env': decorator 'environment': vars.PORT must be a string, got number (convert it with String())",
      ].join('\n  - '),
    );
  });

  it('timeout sums seconds, minutes and hours', async () => {
    const clock = createTestClock();
    const handle = startFlow(
      flow('sum', (f) => void f.task('t', () => new Promise(() => {}), { decorators: [timeout({ seconds: 30, minutes: 1 })] })),
      { clock, ...quiet },
    );
    await clock.advance(89_999);
    expect(handle.taskInstance('t')!.state).toBe('running');
    await clock.advance(1);
    const run = await handle.done;
    expect(run.tasks['t']!.error!.message).toBe("task instance 't' timed out after 90000 ms");
    expect(run.tasks['t']!.failureKind).toBe('timeout');
  });
});

describe('resources and environment', () => {
  it('resources merge by max and are published in step scope; the local executor reports them', async () => {
    const lines: string[] = [];
    let seen: unknown;
    const peek = (await import('../../src/index.ts')).defineDecorator({
      name: 'peek',
      defaults: {},
      hooks: { beforeAttempt: (sys) => void (seen = sys.getPublished('resources', 'request')) },
    });
    await runFlow(
      flow('res', (f) => {
        f.task('train', () => 1, { decorators: [resources({ cpu: 4, memoryMb: 2048 }), resources({ cpu: 2, gpu: 1 }), peek()] });
      }),
      { log: (line) => lines.push(line) },
    );
    expect(seen).toEqual({ cpu: 4, memoryMb: 2048, gpu: 1, diskMb: 0 });
    expect(lines).toContain('[train] resources requested: cpu=4 memoryMb=2048 gpu=1 diskMb=0 (the local executor reports them; it does not enforce them)');
  });

  it('environment vars are visible as ctx().env in every attempt, merged in order', async () => {
    const envs: unknown[] = [];
    let plainEnv: unknown;
    await runFlow(
      flow('env', (f) => {
        f.task('t', () => {
          envs.push(ctx()!.env);
          if (ctx()!.attempt === 1) throw new Error('again');
        }, {
          retries: 1,
          decorators: [environment({ vars: { BUCKET: 's3://a', REGION: 'eu' } }), environment({ vars: { BUCKET: 's3://b' } })],
        });
        f.task('plain', () => void (plainEnv = ctx()!.env));
      }),
      quiet,
    );
    expect(envs).toEqual([{ BUCKET: 's3://b', REGION: 'eu' }, { BUCKET: 's3://b', REGION: 'eu' }]);
    expect(plainEnv).toEqual({});
  });
});
