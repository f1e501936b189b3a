// Type tests: `tsc --noEmit` (the first half of `npm test`) checks every line here; a
// `@ts-expect-error` whose line compiles fails it, as does an `expectTypeOf` that does not hold.
// The flows are only defined (and one is run) so vitest also runs the file.
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  catchErrors,
  defineDecorator,
  flow,
  retry,
  type Decorator,
  type FlowBuilder,
  type NotCallable,
  type TaskContext,
  type TaskFn,
  type TaskOptions,
  type TaskRef,
  type TriggerRule,
} from '../../src/index.ts';

interface Row {
  id: number;
  tags: string[];
}
const rows = (): Row[] => [{ id: 1, tags: ['a'] }];

describe('task references', () => {
  it('carry their id, kind and (awaited) result type', () => {
    flow('refs', (f) => {
      const extract = f.task('extract', async () => rows());
      expectTypeOf(extract).toEqualTypeOf<TaskRef<Row[], 'extract', 'task', any>>();
      expectTypeOf(extract.id).toEqualTypeOf<'extract'>();
      const score = f.map('score', extract, ({ item }) => item.id * 2);
      expectTypeOf(score).toEqualTypeOf<TaskRef<number[], 'score', 'map', NotCallable>>();
      const fetchPage = f.subtask('fetchPage', ({ input }: { input: { url: string } }) => input.url.length);
      expectTypeOf(fetchPage).toEqualTypeOf<TaskRef<number, 'fetchPage', 'subtask', { url: string }>>();
      // Still assignable to the loose reference types older code annotates with.
      const loose: TaskRef<unknown> = extract;
      void loose;
    });
  });
});

describe('`after` types `upstream`', () => {
  it('one read-only key per upstream, typed by its result', () => {
    flow('after', (f) => {
      const a = f.task('a', () => 'text');
      const b = f.task('b', () => rows());
      f.task(
        'c',
        ({ upstream }) => {
          expectTypeOf(upstream).toEqualTypeOf<{ readonly a: string; readonly b: readonly { readonly id: number; readonly tags: readonly string[] }[] }>();
          // @ts-expect-error 'nope' is not an upstream of this task
          void upstream.nope;
          // @ts-expect-error upstream.a is a string
          void upstream.a.toFixed();
          // @ts-expect-error upstream values are frozen at run time, and read-only in the type
          upstream.b.push({ id: 2, tags: [] });
          // @ts-expect-error … deeply
          upstream.b[0]!.tags.push('x');
          // @ts-expect-error … and the upstream object itself
          upstream.a = 'other';
          return upstream.b.filter((row) => row.id > 0).length;
        },
        { after: [a, b] },
      );
      // A single reference (not a list) works too.
      f.task('d', ({ upstream }) => expectTypeOf(upstream.a).toEqualTypeOf<string>(), { after: a });
    });
  });

  it('a task without `after` has no upstream keys', () => {
    flow('none', (f) => {
      f.task('alone', ({ upstream }) => {
        expectTypeOf(upstream).toEqualTypeOf<{}>();
        // @ts-expect-error no upstreams
        void upstream.anything;
      });
    });
  });

  it('ids given as strings keep the old, untyped values (backwards compatible), and only those keys', () => {
    flow('strings', (f) => {
      f.task('a', () => 1);
      f.task(
        'b',
        ({ upstream }) => {
          expectTypeOf(upstream.a).toBeAny();
          // @ts-expect-error 'zzz' is not in `after`
          void upstream.zzz;
        },
        { after: ['a'] },
      );
      const ids: string[] = ['a'];
      f.task('c', ({ upstream }) => expectTypeOf(upstream).toEqualTypeOf<{ readonly [id: string]: any }>(), { after: ids });
    });
  });
});

describe('trigger rules decide which upstream values may be missing', () => {
  // What the runtime passes (dependencyTracker.resultOf): a task's result while it is `success`,
  // otherwise undefined; a mapped task's list with undefined where an instance did not succeed.
  it('all_success (the default): every value is there', () => {
    flow('strict', (f) => {
      const a = f.task('a', () => 1);
      const m = f.map('m', f.task('list', () => ['x', 'y']), ({ item }) => item.length);
      f.task('explicit', ({ upstream }) => expectTypeOf(upstream).toEqualTypeOf<{ readonly a: number; readonly m: readonly number[] }>(), {
        after: [a, m],
        trigger: 'all_success',
      });
      f.task('default', ({ upstream }) => expectTypeOf(upstream.a).toEqualTypeOf<number>(), { after: [a] });
    });
  });

  it('rules that run after failed or skipped upstreams make values optional, and lists hold holes', () => {
    flow('lenient', (f) => {
      const a = f.task('a', () => 1);
      const m = f.map('m', f.task('list', () => ['x']), ({ item }) => item.length);
      type Lenient = { readonly a: number | undefined; readonly m: readonly (number | undefined)[] };
      const after = [a, m] as const;
      f.task('t1', ({ upstream }) => expectTypeOf(upstream).toEqualTypeOf<Lenient>(), { after, trigger: 'all_done' });
      f.task('t2', ({ upstream }) => expectTypeOf(upstream).toEqualTypeOf<Lenient>(), { after, trigger: 'all_done_min_one_success' });
      f.task('t3', ({ upstream }) => expectTypeOf(upstream).toEqualTypeOf<Lenient>(), { after, trigger: 'all_done_setup_success' });
      f.task('t4', ({ upstream }) => expectTypeOf(upstream).toEqualTypeOf<Lenient>(), { after, trigger: 'one_success' });
      f.task('t5', ({ upstream }) => expectTypeOf(upstream).toEqualTypeOf<Lenient>(), { after, trigger: 'one_failed' });
      f.task('t6', ({ upstream }) => expectTypeOf(upstream).toEqualTypeOf<Lenient>(), { after, trigger: 'one_done' });
      f.task('t7', ({ upstream }) => expectTypeOf(upstream).toEqualTypeOf<Lenient>(), { after, trigger: 'none_failed' });
      f.task('t8', ({ upstream }) => expectTypeOf(upstream).toEqualTypeOf<Lenient>(), { after, trigger: 'none_failed_min_one_success' });
      f.task('t9', ({ upstream }) => expectTypeOf(upstream).toEqualTypeOf<Lenient>(), { after, trigger: 'none_skipped' });
      f.task('t10', ({ upstream }) => expectTypeOf(upstream).toEqualTypeOf<Lenient>(), { after, trigger: 'always' });
      f.task(
        'negative',
        ({ upstream }) => {
          // @ts-expect-error possibly undefined
          void upstream.a.toFixed();
          // @ts-expect-error an element may be a hole
          void upstream.m.map((n) => n.toFixed());
        },
        { after, trigger: 'all_done' },
      );
    });
    flow('all-done', (f) => {
      const score = f.map('score', f.task('list', () => rows()), ({ item }) => ({ id: item.id, score: 1 }));
      f.task(
        'report',
        ({ upstream }) => {
          expectTypeOf(upstream.score).toEqualTypeOf<readonly ({ readonly id: number; readonly score: number } | undefined)[]>();
          return upstream.score.filter((s) => s !== undefined).length;
        },
        { after: [score], trigger: 'all_done' },
      );
      f.task('one', ({ upstream }) => expectTypeOf(upstream.score[0]).toEqualTypeOf<{ readonly id: number; readonly score: number } | undefined>(), {
        after: [score],
        trigger: 'one_success',
      });
      f.task('none', ({ upstream }) => expectTypeOf(upstream.score).toEqualTypeOf<readonly ({ readonly id: number; readonly score: number } | undefined)[]>(), {
        after: [score],
        trigger: 'none_failed',
      });
    });
  });

  it('all_failed and all_skipped: no upstream succeeded, so no value is there', () => {
    flow('none-succeeded', (f) => {
      const a = f.task('a', () => 1);
      const m = f.map('m', f.task('list', () => [1]), ({ item }) => item);
      f.task('cleanup', ({ upstream }) => expectTypeOf(upstream).toEqualTypeOf<{ readonly a: undefined; readonly m: readonly undefined[] }>(), {
        after: [a, m],
        trigger: 'all_failed',
      });
      f.task('fallback', ({ upstream }) => expectTypeOf(upstream.a).toEqualTypeOf<undefined>(), { after: [a], trigger: 'all_skipped' });
    });
  });

  it('a rule only known as TriggerRule counts as lenient', () => {
    const rule = 'all_success' as TriggerRule;
    flow('wide', (f) => {
      const a = f.task('a', () => 1);
      f.task('b', ({ upstream }) => expectTypeOf(upstream.a).toEqualTypeOf<number | undefined>(), { after: [a], trigger: rule });
    });
  });

  it('a misspelled trigger rule is an error, for the compiler and for flow()', () => {
    expect(() =>
      flow('typo', (f) => {
        const a = f.task('a', () => 1);
        // @ts-expect-error 'all_sucess' is not a trigger rule
        f.task('b', () => 1, { after: [a], trigger: 'all_sucess' });
      }),
    ).toThrow(/all_success/);
  });
});

describe('f.map', () => {
  it('types item from the list, mapIndex as a number, and upstream with its list', () => {
    flow('map', (f) => {
      const clean = f.task('clean', () => rows());
      const config = f.task('config', () => ({ factor: 2 }));
      f.map(
        'score',
        clean,
        ({ item, mapIndex, upstream }) => {
          expectTypeOf(item).toEqualTypeOf<{ readonly id: number; readonly tags: readonly string[] }>();
          expectTypeOf(mapIndex).toEqualTypeOf<number>();
          // The list it maps over is always there (its instances run only after it succeeded); the
          // `after` upstreams follow the trigger rule.
          expectTypeOf(upstream.clean).toEqualTypeOf<readonly { readonly id: number; readonly tags: readonly string[] }[]>();
          expectTypeOf(upstream.config).toEqualTypeOf<{ readonly factor: number } | undefined>();
          // @ts-expect-error not an upstream
          void upstream.nope;
          return item.id;
        },
        { after: [config], trigger: 'all_done' },
      );
      const tuples = f.task('tuples', () => [[1, 'a']] as Array<[number, string]>);
      f.map('first', tuples, ({ item }) => expectTypeOf(item).toEqualTypeOf<readonly [number, string]>());
      // A mapped task over a mapped task: the items are the first one's results.
      const doubled = f.map('doubled', f.map('ids', clean, ({ item }) => item.id), ({ item }) => item * 2);
      f.task('sum', ({ upstream }) => upstream.doubled.reduce((s, n) => s + n, 0), { after: [doubled] });
    });
  });

  it('a source whose result is not a list is an error; an id given as a string maps `any`', () => {
    flow('map-errors', (f) => {
      const one = f.task('one', () => 42);
      // @ts-expect-error number is not a list
      f.map('bad', one, () => 0);
      f.task('list', () => [1]);
      f.map('by-id', 'list', ({ item }) => expectTypeOf(item).toBeAny());
    });
  });
});

describe('the context in the task’s arguments', () => {
  it('is a TaskContext, no `ctx()!` needed', () => {
    flow('ctx', (f: FlowBuilder<{ day: string }>) => {
      f.task('a', ({ ctx, input }) => {
        expectTypeOf(ctx).toEqualTypeOf<TaskContext>();
        expectTypeOf(input).toEqualTypeOf<{ day: string }>();
        return `${ctx.taskKey} attempt ${ctx.attempt} for ${input.day}`;
      });
      f.map('m', f.task('l', () => [1]), ({ ctx }) => ctx.mapIndex);
      f.subtask('s', ({ ctx }) => ctx.attempt);
    });
  });
});

describe('code written against the untyped API still compiles', () => {
  it('functions typed TaskFn, explicit TaskOptions, Decorator lists, a generic wrap', () => {
    const load: TaskFn = ({ upstream }) => upstream.anything;
    const options: TaskOptions = { retries: 1, after: ['a'] };
    const decorators: readonly Decorator<any>[] = [catchErrors(), retry({ times: 2 })];
    const passThrough = defineDecorator({
      name: 'passThrough',
      defaults: {},
      hooks: { wrap: (fn) => ((args) => fn(args)) as typeof fn },
    });
    flow('old-style', (f) => {
      const a = f.task('a', () => 1);
      f.task('b', load, { after: [a] });
      f.task('c', load, options);
      f.task('d', () => 2, { decorators: [...decorators, passThrough()] });
      f.map('e', 'a', load);
    });
  });
});
