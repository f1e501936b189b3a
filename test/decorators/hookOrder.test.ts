import { describe, expect, it } from 'vitest';
import { defineDecorator, flow, runFlow, type Decorator } from '../../src/index.ts';

const quiet = { log: () => {} };

function recorder(name: string, events: string[], extra: { throwIn?: string } = {}) {
  return defineDecorator({
    name,
    defaults: {},
    hooks: {
      stepInit: () => void events.push(`${name}.stepInit`),
      taskCreated: (sys) => void events.push(`${name}.taskCreated(${sys.taskKey})`),
      beforeAttempt: (sys) => void events.push(`${name}.beforeAttempt#${sys.attempt}`),
      wrap: (fn) =>
        ((args: never) => {
          events.push(`${name}.wrap>`);
          const result = (fn as (a: never) => unknown)(args);
          return Promise.resolve(result).finally(() => events.push(`${name}.wrap<`));
        }) as never,
      onAttemptSettled: (result, sys) => {
        events.push(`${name}.onAttemptSettled#${sys.attempt}(${result.ok ? 'ok' : 'error'})`);
        if (extra.throwIn === 'onAttemptSettled') throw new Error(`${name} settled hook broke`);
      },
      onTaskFinished: (ok) => void events.push(`${name}.onTaskFinished(${ok})`),
      runFinished: (error) => void events.push(`${name}.runFinished(${error ? 'error' : 'ok'})`),
    },
  })();
}

describe('decorator hook order', () => {
  it('two decorators, one successful attempt: the exact sequence (the last decorator wraps outermost)', async () => {
    const events: string[] = [];
    const p1 = recorder('P1', events);
    const p2 = recorder('P2', events);
    const definition = flow('order', (f) => {
      f.task('t', () => void events.push('fn'), { decorators: [p1, p2] });
    });
    expect(events).toEqual(['P1.stepInit', 'P2.stepInit']);
    events.length = 0;
    const run = await runFlow(definition, quiet);
    expect(run.state).toBe('success');
    expect(events).toEqual([
      'P1.taskCreated(t)',
      'P2.taskCreated(t)',
      'P1.beforeAttempt#1',
      'P2.beforeAttempt#1',
      'P2.wrap>',
      'P1.wrap>',
      'fn',
      'P1.wrap<',
      'P2.wrap<',
      'P1.onAttemptSettled#1(ok)',
      'P2.onAttemptSettled#1(ok)',
      'P1.onTaskFinished(true)',
      'P2.onTaskFinished(true)',
      'P1.runFinished(ok)',
      'P2.runFinished(ok)',
    ]);
  });

  it('a failing-then-succeeding task: per-attempt hooks twice, taskCreated and onTaskFinished once', async () => {
    const events: string[] = [];
    let calls = 0;
    const definition = flow('retrying', (f) => {
      f.task(
        't',
        () => {
          events.push(`fn#${++calls}`);
          if (calls === 1) throw new Error('first attempt fails');
        },
        { retries: 1, decorators: [recorder('P1', events), recorder('P2', events)] },
      );
    });
    events.length = 0;
    await runFlow(definition, quiet);
    expect(events.filter((e) => !e.includes('wrap'))).toEqual([
      'P1.taskCreated(t)',
      'P2.taskCreated(t)',
      'P1.beforeAttempt#1',
      'P2.beforeAttempt#1',
      'fn#1',
      'P1.onAttemptSettled#1(error)',
      'P2.onAttemptSettled#1(error)',
      'P1.beforeAttempt#2',
      'P2.beforeAttempt#2',
      'fn#2',
      'P1.onAttemptSettled#2(ok)',
      'P2.onAttemptSettled#2(ok)',
      'P1.onTaskFinished(true)',
      'P2.onTaskFinished(true)',
      'P1.runFinished(ok)',
      'P2.runFinished(ok)',
    ]);
  });

  it('onAttemptSettled runs exactly once per attempt even when another decorator throws; the errors fail the attempt', async () => {
    const events: string[] = [];
    const definition = flow('throwing-hook', (f) => {
      f.task('t', () => 'value', { decorators: [recorder('P1', events, { throwIn: 'onAttemptSettled' }), recorder('P2', events)] });
    });
    const run = await runFlow(definition, quiet);
    expect(events.filter((e) => e.includes('onAttemptSettled'))).toEqual(['P1.onAttemptSettled#1(ok)', 'P2.onAttemptSettled#1(ok)']);
    expect(events).toContain('P1.onTaskFinished(false)');
    const error = run.tasks['t']!.error!;
    expect(error).toBeInstanceOf(AggregateError);
    expect((error as AggregateError).errors.map((e: Error) => e.message)).toEqual([
      "decorator 'P1' hook failed: P1 settled hook broke",
    ]);
    expect(run.tasks['t']!.state).toBe('failed');
  });

  it('a throwing beforeAttempt does not stop the other decorators, and fails the attempt', async () => {
    const seen: string[] = [];
    const broken = defineDecorator({ name: 'broken', defaults: {}, hooks: { beforeAttempt: () => { throw new Error('no token'); } } })();
    const witness = defineDecorator({
      name: 'witness',
      defaults: {},
      hooks: {
        beforeAttempt: () => void seen.push('witness.beforeAttempt'),
        onAttemptSettled: (result) => void seen.push(`witness.settled(${result.ok})`),
      },
    })();
    let ran = false;
    const run = await runFlow(
      flow('before-throws', (f) => {
        f.task('t', () => (ran = true), { decorators: [broken, witness] });
      }),
      quiet,
    );
    expect(ran).toBe(false);
    expect(seen).toEqual(['witness.beforeAttempt', 'witness.settled(false)']);
    // The message says why (the record, status, listeners and spans show only the message).
    expect(run.tasks['t']!.error!.message).toBe("a decorator hook failed before attempt 1 of 't': decorator 'broken' hook failed: no token");
  });

  it('handled: true makes a failed attempt a success while every decorator still sees the error', async () => {
    const seen: string[] = [];
    const observer = defineDecorator({
      name: 'observer',
      defaults: {},
      hooks: { onAttemptSettled: (result) => void seen.push(result.ok ? 'ok' : `error:${result.error.message}`) },
    })();
    const rescuer = defineDecorator({
      name: 'rescuer',
      defaults: {},
      hooks: { onAttemptSettled: (result) => (result.ok ? undefined : { handled: true, value: 'fallback' }) },
    })();
    const finished: boolean[] = [];
    const finisher = defineDecorator({ name: 'finisher', defaults: {}, hooks: { onTaskFinished: (ok) => void finished.push(ok) } })();
    const run = await runFlow(
      flow('handled', (f) => {
        f.task('t', () => { throw new Error('boom'); }, { decorators: [rescuer, observer, finisher] });
      }),
      quiet,
    );
    expect(seen).toEqual(['error:boom']);
    expect(run.tasks['t']).toMatchObject({ state: 'success', result: 'fallback' });
    expect(finished).toEqual([true]);
  });

  it('without any handled verdict the task fails and onTaskFinished(false) is still called', async () => {
    const finished: boolean[] = [];
    const finisher = defineDecorator({ name: 'finisher', defaults: {}, hooks: { onTaskFinished: (ok) => void finished.push(ok) } })();
    const run = await runFlow(flow('unhandled', (f) => void f.task('t', () => { throw new Error('x'); }, { decorators: [finisher] })), quiet);
    expect(run.tasks['t']!.state).toBe('failed');
    expect(finished).toEqual([false]);
  });
});

describe('decorator definitions', () => {
  const sample = defineDecorator({ name: 'sample', defaults: { level: 1, label: 'x' }, hooks: {} });

  it('unknown keys and wrong types are definition errors naming decorator, task and key', () => {
    expect(() =>
      flow('bad', (f) => {
        f.task('a', () => 1, { decorators: [sample({ levle: 2 } as never)] });
        f.task('b', () => 1, { decorators: [sample({ level: 'high' } as never)] });
        f.task('c', () => 1, { decorators: [sample(), sample()] });
        f.task('d', () => 1, { decorators: [sample as unknown as Decorator] });
      }),
    ).toThrow(
      [
        "task 'a': decorator 'sample' has no parameter 'levle'; its parameters are: level, label",
        "task 'b': decorator 'sample': parameter 'level' must be a number, got \"high\"",
        "task 'c': decorator 'sample' is applied twice; it allows only one per task",
        "task 'd': decorators must be made by a decorator factory (e.g. retry({ times: 3 })), got a function — call it: sample()",
      ].join('\n  - '),
    );
  });
});
