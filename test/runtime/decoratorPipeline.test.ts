// The decorator pipeline: what each hook's system context says (phase, attempt, maxAttempts,
// isCloned, whether publish is allowed), runFinished and onTaskFinished called for the decorators
// that have them (a decorator shared by tasks: once), their errors logged, and how the verdicts of
// onAttemptSettled combine (settleWithHooks) and wrap() is checked (wrapTaskFn).
import { describe, expect, it } from 'vitest';
import { defineDecorator, flow, runFlow, SkipTask } from '../../src/index.ts';
import { hooksFailed, settleWithHooks, wrapTaskFn } from '../../src/runtime/attempt/decoratorPipeline.ts';
import type { AttemptResult, SettledVerdict, SystemContext } from '../../src/decorators/types.ts';

type Seen = { hook: string; phase: string; attempt: number; maxAttempts: number; isCloned: boolean; publish: string };

function observer(seen: Seen[]) {
  const note = (hook: string, sys: SystemContext) => {
    let publish = 'allowed';
    try {
      sys.publish('observer', hook, 1);
    } catch (error) {
      publish = (error as Error).message;
    }
    seen.push({ hook, phase: sys.phase, attempt: sys.attempt, maxAttempts: sys.maxAttempts, isCloned: sys.isCloned, publish });
  };
  return defineDecorator({
    name: 'observer',
    defaults: {},
    hooks: {
      taskCreated: (sys) => note('taskCreated', sys),
      beforeAttempt: (sys) => note('beforeAttempt', sys),
      onAttemptSettled: (_result, sys) => note('onAttemptSettled', sys),
      onTaskFinished: (_ok, sys) => note('onTaskFinished', sys),
      runFinished: (_error, sys) => note('runFinished', sys),
    },
  });
}

const settledOnly = defineDecorator({ name: 'settledOnly', defaults: {}, hooks: { onAttemptSettled: () => undefined } });

describe('the system context of each hook', () => {
  it('dispatch phase (no publish) outside an attempt, task phase (publish to the attempt) in it; maxAttempts is retries + 1; isCloned false', async () => {
    const seen: Seen[] = [];
    const lines: string[] = [];
    const run = await runFlow(flow('phases', (f) => {
      f.task('t', () => 1, { retries: 2, decorators: [observer(seen)(), settledOnly()] });
    }), { log: (line) => lines.push(line) });
    expect(run.state).toBe('success');
    const none = (phase: string, hook: string) => `publish('observer', '${hook}') is only possible in stepInit (step scope) or during an attempt (attempt scope), not in the ${phase} phase`;
    expect(seen).toEqual([
      { hook: 'taskCreated', phase: 'dispatch', attempt: 1, maxAttempts: 3, isCloned: false, publish: none('dispatch', 'taskCreated') },
      { hook: 'beforeAttempt', phase: 'task', attempt: 1, maxAttempts: 3, isCloned: false, publish: 'allowed' },
      { hook: 'onAttemptSettled', phase: 'task', attempt: 1, maxAttempts: 3, isCloned: false, publish: 'allowed' },
      { hook: 'onTaskFinished', phase: 'dispatch', attempt: 1, maxAttempts: 3, isCloned: false, publish: none('dispatch', 'onTaskFinished') },
      { hook: 'runFinished', phase: 'dispatch', attempt: 0, maxAttempts: 3, isCloned: false, publish: none('dispatch', 'runFinished') },
    ]);
    // (settledOnly has no onTaskFinished or runFinished: nothing is called for it, nothing logged.)
    expect(lines.filter((line) => line.includes('hook failed'))).toEqual([]);
  });
});

describe('runFinished and onTaskFinished', () => {
  it('runFinished: once for a decorator shared by several tasks, with the run’s failure as an error', async () => {
    const calls: string[] = [];
    const shared = defineDecorator({
      name: 'shared',
      defaults: {},
      hooks: { runFinished: (error, sys) => void calls.push(`${sys.taskId}: ${error === undefined ? 'ok' : error.message}`) },
    })();
    const ok = await runFlow(flow('shared-ok', (f) => {
      f.task('a', () => 1, { decorators: [shared] });
      f.task('b', () => 1, { decorators: [shared, settledOnly()] });
    }), { runId: 'r1', log: () => {} });
    expect(ok.state).toBe('success');
    expect(calls).toEqual(['a: ok']);
    calls.length = 0;
    const failed = await runFlow(flow('shared-failed', (f) => {
      f.task('a', () => {
        throw new Error('boom');
      }, { decorators: [shared] });
      f.task('b', () => 1, { decorators: [shared] });
    }), { runId: 'r2', log: () => {} });
    expect(failed.state).toBe('failed');
    expect(calls).toEqual([`a: flow run 'r2' failed: ${failed.reason}`]);
    expect(failed.reason).toBeTruthy();
  });

  it('errors of onTaskFinished and runFinished are logged, naming the decorator', async () => {
    const lines: string[] = [];
    const broken = defineDecorator({
      name: 'broken',
      defaults: {},
      hooks: {
        onTaskFinished: () => {
          throw new Error('finished broke');
        },
        runFinished: () => {
          throw new Error('run broke');
        },
      },
    });
    const run = await runFlow(flow('broken', (f) => {
      f.task('t', () => 1, { decorators: [broken()] });
    }), { log: (line) => lines.push(line) });
    expect(run.state).toBe('success');
    expect(lines.filter((line) => line.startsWith('taskmachine: decorator'))).toEqual([
      "taskmachine: decorator 'broken' hook failed: finished broke",
      "taskmachine: decorator 'broken' hook failed: run broke",
    ]);
  });
});

/** Decorators whose onAttemptSettled return (or throw) the given verdicts, in order. */
function verdicts(...list: Array<SettledVerdict | null | number | string | Error>) {
  return list.map((verdict, index) =>
    defineDecorator({
      name: `d${index}`,
      defaults: {},
      hooks: {
        onAttemptSettled: () => {
          if (verdict instanceof Error) throw verdict;
          return verdict as SettledVerdict;
        },
      },
    })(),
  );
}

const sys = { taskKey: 't[1]' } as SystemContext;
const failure = new Error('task failed');
const failed: AttemptResult = { ok: false, error: failure, willRetry: false, control: false };

describe('settleWithHooks', () => {
  it('ignores verdicts that are not objects, and a success verdict without value', async () => {
    const success: AttemptResult = { ok: true, value: 'v' };
    expect(await settleWithHooks(verdicts(undefined, null, 5, 'x', {}), success, sys, 'v')).toEqual({ ok: true, value: 'v' });
    expect(await settleWithHooks(verdicts(undefined, { value: 'w' }, {}), success, sys, 'v')).toEqual({ ok: true, value: 'w' });
    expect(await settleWithHooks(verdicts(null, 5, 'x', { value: 'ignored' }), failed, sys, failure)).toEqual({ ok: false, error: failure });
  });

  it('handled: true (nothing else) recovers a failure; the first handling verdict’s value wins', async () => {
    expect(await settleWithHooks(verdicts({ handled: 'yes' as never, value: 1 }), failed, sys, failure)).toEqual({ ok: false, error: failure });
    expect(await settleWithHooks(verdicts({ handled: true }), failed, sys, failure)).toEqual({ ok: true, value: undefined });
    expect(await settleWithHooks(verdicts({ handled: true, value: 1 }, { handled: true, value: 2 }), failed, sys, failure)).toEqual({ ok: true, value: 1 });
  });

  it('does not handle control flow (a skip stays a skip)', async () => {
    const skip = new SkipTask('not today');
    const control: AttemptResult = { ok: false, error: skip, willRetry: false, control: true };
    expect(await settleWithHooks(verdicts({ handled: true, value: 1 }), control, sys, skip)).toEqual({ ok: false, error: skip });
  });

  it('names every failed hook in the message, each cut to 500 characters', () => {
    const long = new Error(`decorator 'b' hook failed: ${'x'.repeat(600)}`);
    const message = hooksFailed([new Error("decorator 'a' hook failed: no token"), long], "before attempt 2 of 'load'");
    expect(message.startsWith("2 decorator hooks failed before attempt 2 of 'load': decorator 'a' hook failed: no token; decorator 'b' hook failed: xxx")).toBe(true);
    expect(message.endsWith('x…')).toBe(true);
    expect(message.length).toBeLessThan(600);
  });

  it('hook errors fail the attempt together: the task’s error first, then each hook’s, with its cause', async () => {
    const hookError = new Error('hook broke');
    const settled = await settleWithHooks(verdicts({ handled: true }, hookError), failed, sys, failure);
    expect(settled.ok).toBe(false);
    const error = (settled as { error: AggregateError }).error;
    expect(error).toBeInstanceOf(AggregateError);
    expect(error.message).toBe("a decorator hook failed in onAttemptSettled of 't[1]': decorator 'd1' hook failed: hook broke");
    expect(error.errors).toHaveLength(2);
    expect(error.errors[0]).toBe(failure);
    expect(error.errors[1].message).toBe("decorator 'd1' hook failed: hook broke");
    expect(error.errors[1].cause).toBe(hookError);
    const afterSuccess = await settleWithHooks(verdicts(hookError), { ok: true, value: 1 }, sys, 1);
    expect((afterSuccess as { error: AggregateError }).error.errors.map((e: Error) => e.message)).toEqual(["decorator 'd0' hook failed: hook broke"]);
  });
});

describe('wrapTaskFn', () => {
  it('refuses a wrap() that does not return a function, naming the decorator', () => {
    const bad = defineDecorator({ name: 'bad', defaults: {}, hooks: { wrap: () => 'nope' as never } })();
    expect(() => wrapTaskFn([bad], () => 1, sys)).toThrow(new TypeError("decorator 'bad': wrap() must return a function, got string"));
  });
});
