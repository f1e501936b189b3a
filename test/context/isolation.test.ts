import { describe, expect, it } from 'vitest';
import { createTestClock, type TestClock } from '../../src/clock.ts';
import { ctx, defineDecorator, flow, getCustomContext, startFlow, withCustomContext } from '../../src/index.ts';

const sleep = (clock: TestClock, ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));

describe('ctx() outside a task', () => {
  it('is undefined, getCustomContext() is {}, and withCustomContext just runs the function', () => {
    expect(ctx()).toBeUndefined();
    expect(getCustomContext()).toEqual({});
    expect(withCustomContext({ k: 'v' }, () => getCustomContext())).toEqual({});
  });
});

describe('concurrent task instances never see each other (the Metaflow singleton race)', () => {
  it('100 repetitions of two instances with interleaved awaits (30/10 ms vs 10/30 ms)', async () => {
    for (let repetition = 0; repetition < 100; repetition++) {
      const clock = createTestClock();
      const mismatches: string[] = [];
      const probe = defineDecorator({
        name: 'probe',
        defaults: {},
        hooks: {
          beforeAttempt: (sys) => sys.publish('probe', 'owner', sys.taskKey),
          wrap: (fn, sys) =>
            (async (args: never) => {
              const value = await (fn as (a: never) => Promise<unknown>)(args);
              // After the task's awaits, this attempt's system context still holds its own values.
              if (sys.getPublished('probe', 'owner') !== sys.taskKey) mismatches.push(`${sys.taskKey} saw ${String(sys.getPublished('probe', 'owner'))}`);
              return value;
            }) as never,
        },
      })();
      const definition = flow('race', (f) => {
        const list = f.task('list', () => [[30, 10], [10, 30]]);
        f.map(
          'worker',
          list,
          async ({ item, mapIndex }) => {
            const [first, second] = item as [number, number];
            const me = `worker[${mapIndex}]`;
            const check = (where: string) => {
              const c = ctx()!;
              if (c.taskKey !== me || c.mapIndex !== mapIndex || c.attempt !== 1) mismatches.push(`${me} ${where} saw ${c.taskKey}`);
            };
            check('start');
            await sleep(clock, first);
            check('after first await');
            await sleep(clock, second);
            check('after second await');
            return ctx()!.taskKey;
          },
          { decorators: [probe] },
        );
      });
      const handle = startFlow(definition, { clock, log: () => {} });
      await clock.runAll();
      const run = await handle.done;
      expect(mismatches).toEqual([]);
      expect(run.tasks['worker[0]']!.result).toBe('worker[0]');
      expect(run.tasks['worker[1]']!.result).toBe('worker[1]');
    }
  });

  it('attempt-scoped publish is invisible to other attempts and to other instances of the task', async () => {
    const seen: string[] = [];
    const scoped = defineDecorator({
      name: 'scoped',
      defaults: {},
      hooks: {
        beforeAttempt: (sys) => {
          seen.push(`${sys.taskKey}#${sys.attempt} sees ${String(sys.getPublished('x', 'k'))}`);
          sys.publish('x', 'k', `${sys.taskKey}#${sys.attempt}`);
        },
      },
    })();
    await new Promise<void>((resolve) => {
      const handle = startFlow(
        flow('scopes', (f) => {
          const list = f.task('list', () => [1, 2]);
          f.map('m', list, () => {
            if (ctx()!.attempt === 1) throw new Error('retry me');
          }, { retries: 1, decorators: [scoped] });
        }),
        { log: () => {} },
      );
      void handle.done.then(() => resolve());
    });
    expect(seen.sort()).toEqual(['m[0]#1 sees undefined', 'm[0]#2 sees undefined', 'm[1]#1 sees undefined', 'm[1]#2 sees undefined']);
  });
});

describe('custom context', () => {
  it('merges inner keys, restores outer values, and children capture it at the call', async () => {
    const clock = createTestClock();
    const seen: Array<[string, Record<string, string>]> = [];
    const definition = flow('custom', (f) => {
      const child = f.subtask('child', async ({ input }) => {
        await sleep(clock, 5); // starts and finishes after the calling scope has closed
        seen.push([String(input), { ...ctx()!.customContext }]);
      });
      f.task('parent', async () => {
        const pending: Promise<unknown>[] = [];
        withCustomContext({ k: 'v', team: 'inner' }, () => {
          pending.push(ctx()!.call(child, 'inside'));
          withCustomContext({ k: 'w' }, () => {
            seen.push(['nested', { ...getCustomContext() }]);
          });
          seen.push(['after nested', { ...getCustomContext() }]);
        });
        pending.push(ctx()!.call(child, 'outside'));
        await Promise.all(pending);
      });
    });
    const handle = startFlow(definition, { clock, customContext: { team: 'data' }, log: () => {} });
    await clock.runAll();
    await handle.done;
    expect(seen).toEqual([
      ['nested', { team: 'inner', k: 'w' }],
      ['after nested', { team: 'inner', k: 'v' }],
      ['inside', { team: 'inner', k: 'v' }],
      ['outside', { team: 'data' }],
    ]);
  });

  it('values must be strings', () => {
    expect(() => withCustomContext({ n: 1 } as never, () => 0)).toThrow("values must be strings; 'n' is number");
  });
});
