// Type tests (checked by `tsc --noEmit` in `npm test`) with the runs they describe (run by vitest):
// run.result, typed run.tasks, ctx.call, decorators (`wrap` without a cast, typed params, catchErrors).
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  catchErrors,
  ctx as currentContext,
  defineDecorator,
  flow,
  retry,
  runFlow,
  startFlow,
  type Flow,
  type FlowBuilder,
  type FlowRunRecord,
  type RunFlowOptions,
  type Listener,
  type TaskInstanceRecord,
  type TaskRef,
  type WrappableTaskFn,
} from '../../src/index.ts';

/** Lines that must compile (or fail to, with `@ts-expect-error`) but must not run. */
const typeOnly = (_lines: () => unknown): void => {};

interface Row {
  id: number;
  ok: boolean;
}
type SeenRow = { readonly id: number; readonly ok: boolean };

// The flow, with the references `build` returns: `etl.refs`, and typed run records.
const etl = flow('etl', (f: FlowBuilder<{ day: string }>) => {
  const extract = f.task('extract', async ({ input }) => [1, 2, 3, 4].map((id) => ({ id, ok: input.day !== '' && id !== 3 })));
  const clean = f.task('clean', ({ upstream }) => upstream.extract.filter((row) => row.ok), { after: [extract] });
  const score = f.map('score', clean, async ({ item }) => {
    if (item.id === 4) throw new Error('model down');
    return item.id * 10;
  });
  const report = f.task('report', ({ upstream }) => upstream.score.map((s) => s ?? 0).join(','), { after: [score], trigger: 'all_done' });
  return { extract, clean, score, report };
});
const refs = etl.refs;

describe('run.result(ref) and run.tasks', () => {
  it('flow.refs is what build returned', () => {
    expectTypeOf(refs.extract).toEqualTypeOf<TaskRef<Row[], 'extract', 'task', { day: string }>>();
    expect(Object.keys(refs)).toEqual(['extract', 'clean', 'score', 'report']);
    expect(refs.score).toBe(etl.task('score'));
    expectTypeOf(flow('untyped', () => {}).refs).toEqualTypeOf<void>();
  });

  it('run.result is typed from the reference and gives what a downstream task would get', async () => {
    const run = await runFlow(etl, { input: { day: '2026-11-22' }, log: () => {} });
    const extracted = run.result(refs.extract);
    expectTypeOf(extracted).toEqualTypeOf<readonly SeenRow[] | undefined>();
    expect(extracted).toEqual([
      { id: 1, ok: true },
      { id: 2, ok: true },
      { id: 3, ok: false },
      { id: 4, ok: true },
    ]);
    const scores = run.result(refs.score);
    expectTypeOf(scores).toEqualTypeOf<readonly (number | undefined)[]>();
    expect(scores).toEqual([10, 20, undefined]); // score[2] (id 4) failed
    expect(run.tasks['report']!.result).toBe('10,20,0');
  });

  it('run.tasks has typed records for the returned tasks’ keys, mapped keys included', async () => {
    const run = await runFlow(etl, { input: { day: '2026-11-22' }, log: () => {} });
    expectTypeOf(run).toEqualTypeOf<FlowRunRecord<TaskRef<Row[], 'extract', 'task', { day: string }> | TaskRef<Row[], 'clean', 'task', { day: string }> | TaskRef<number[], 'score', 'map', { day: string }> | TaskRef<string, 'report', 'task', { day: string }>>>();
    expectTypeOf(run.tasks.extract).toEqualTypeOf<TaskInstanceRecord<readonly SeenRow[]>>();
    expectTypeOf(run.tasks['score[1]']).toEqualTypeOf<TaskInstanceRecord<number> | undefined>();
    expectTypeOf(run.tasks['report'].result).toEqualTypeOf<string | undefined>();
    // Other keys stay plain records.
    expectTypeOf(run.tasks['anything']).toEqualTypeOf<TaskInstanceRecord | undefined>();
    expect(run.tasks['score[1]']?.result).toBe(20);
    typeOnly(() => {
      // @ts-expect-error a score is a number
      void run.tasks['score[0]']?.result?.toUpperCase();
    });
  });

  it('the handle offers the flow’s task keys and types its records', async () => {
    const handle = startFlow(etl, { input: { day: '2026-11-22' }, log: () => {} });
    expectTypeOf(handle.sendEvent).parameter(0).extract<'report' | `score[${number}]`>().toEqualTypeOf<'report' | `score[${number}]`>();
    // Any string is still accepted (keys of instances made by ctx.call, keys read from the CLI).
    expectTypeOf(handle.clear).toBeCallableWith('caller/child#0');
    const run = await handle.done;
    expectTypeOf(run.result(refs.extract)).toEqualTypeOf<readonly SeenRow[] | undefined>();
    expectTypeOf(handle.taskInstance('extract')?.result).toEqualTypeOf<readonly SeenRow[] | undefined>();
    expectTypeOf(handle.taskInstance('score[2]')?.result).toEqualTypeOf<number | undefined>();
    expectTypeOf(handle.taskInstance('report/render#0')?.result).toEqualTypeOf<unknown>();
    expect(handle.taskInstance('score[1]')?.result).toBe(20);
  });

  it('listeners written for the flow see its typed run records; generic listeners still fit', async () => {
    let extracted: readonly SeenRow[] | undefined;
    const generic: Listener = { onFlowRunSuccess: ({ flowRun }) => void flowRun.runId };
    await runFlow(etl, {
      input: { day: '2026-11-22' },
      log: () => {},
      listeners: [
        generic,
        {
          onFlowRunSuccess: ({ flowRun }) => {
            expectTypeOf(flowRun.tasks.extract.result).toEqualTypeOf<readonly SeenRow[] | undefined>();
            extracted = flowRun.tasks.extract.result;
          },
        },
      ],
    });
    expect(extracted).toHaveLength(4);
  });

  it('run.result refuses subtasks (one instance per call) and tasks of other flows', async () => {
    let child!: TaskRef<number, 'child', 'subtask', undefined>;
    const other = flow('other', (f) => {
      child = f.subtask('child', ({ input }: { input: undefined }) => (input === undefined ? 1 : 2));
      f.task('caller', ({ ctx }) => ctx.call(child));
    });
    const run = await runFlow(other, { log: () => {} });
    // @ts-expect-error a subtask has no single result
    expect(() => run.result(child)).toThrow(/'child' is a subtask/);
    expect(() => run.result(refs.extract)).toThrow(/belongs to flow 'etl', not to this run's flow 'other'/);
  });
});

describe('ctx.call', () => {
  it('is typed by the called task’s input and result', async () => {
    const result = await runFlow(
      flow('calls', (f) => {
        const render = f.subtask('render', ({ input }: { input: readonly number[] }) => `total ${input.reduce((a, b) => a + b, 0)}`);
        const lookup = f.subtask('lookup', ({ input }: { input: { id: number } | undefined }) => ({ id: input?.id ?? 0, tags: ['x'] }));
        const prices = f.task('prices', () => [1, 2, 3]);
        return f.task(
          'report',
          async ({ ctx, upstream }) => {
            const text = await ctx.call(render, upstream.prices);
            expectTypeOf(text).toEqualTypeOf<string>();
            typeOnly(() => {
              // @ts-expect-error render needs a list of numbers
              void ctx.call(render, 'not a list');
              // @ts-expect-error … and cannot be called without one
              void ctx.call(render);
            });
            typeOnly(() => {
              // @ts-expect-error a task with upstreams cannot be called: a child gets no upstream values
              void ctx.call(etl.refs.clean, { day: 'x' });
              // @ts-expect-error nor can a mapped task (a child gets no item)
              void ctx.call(etl.refs.score, { day: 'x' });
              // A DAG task without upstreams is called with the flow's input.
              expectTypeOf(ctx.call(etl.refs.extract, { day: 'x' })).toEqualTypeOf<Promise<readonly SeenRow[]>>();
            });
            const found = await ctx.call(lookup); // its input accepts undefined, so it may be left out
            expectTypeOf(found).toEqualTypeOf<{ readonly id: number; readonly tags: readonly string[] }>();
            // ctx() in deeper code is the same context.
            expect(currentContext()).toBe(ctx);
            return `${text}, ${found.id}`;
          },
          { after: [prices] },
        );
      }),
      { log: () => {} },
    );
    expect(result.tasks.report.result).toBe('total 6, 0');
  });
});

describe('decorators', () => {
  const observed: Array<[string, number]> = [];
  // A metrics decorator: its `wrap` returns an async wrapper of the task function, no cast.
  const metrics = defineDecorator({
    name: 'metrics',
    defaults: { metric: 'task_duration_ms' },
    hooks: {
      wrap: (fn, sys, params) => async (args) => {
        expectTypeOf(params).toEqualTypeOf<{ metric: string }>();
        expectTypeOf(args.ctx.attempt).toEqualTypeOf<number>();
        const started = performance.now();
        try {
          return await fn(args);
        } finally {
          observed.push([`${params.metric}{task=${sys.taskId}}`, performance.now() - started]);
        }
      },
    },
  });

  it('wrap compiles without a cast and runs around the task', async () => {
    const run = await runFlow(
      flow('metered', (f) => f.task('work', () => 21 * 2, { decorators: [metrics({ metric: 'work_ms' })] })),
      { log: () => {} },
    );
    expect(run.tasks['work']!.result).toBe(42);
    expect(observed.map(([name]) => name)).toEqual(['work_ms{task=work}']);
    // Params are typed from `defaults`.
    // @ts-expect-error metric is a string
    metrics({ metric: 1 });
    // @ts-expect-error no such parameter
    metrics({ unit: 'ms' });
    expectTypeOf<WrappableTaskFn>().parameter(0).toHaveProperty('ctx');
  });

  it('catchErrors types the result it makes; other decorators leave it as it is', () => {
    flow('caught', (f) => {
      const load = f.task('load', () => 42, { decorators: [retry({ times: 1 }), catchErrors({ var: 'loadError' })] });
      expectTypeOf(load).toEqualTypeOf<TaskRef<{ readonly value: number | undefined } & { readonly loadError: Error | null }, 'load', 'task', any>>();
      f.task(
        'report',
        ({ upstream }) => {
          expectTypeOf(upstream.load.loadError).toEqualTypeOf<Error | null>();
          // @ts-expect-error the field is loadError
          void upstream.load.error;
          return upstream.load.loadError ? 'degraded' : `ok ${upstream.load.value}`;
        },
        { after: [load] },
      );
      const plain = f.task('plain', () => 1, { decorators: [catchErrors()] });
      expectTypeOf(plain).toEqualTypeOf<TaskRef<{ readonly value: number | undefined } & { readonly error: Error | null }, 'plain', 'task', any>>();
    });
  });
});

describe('a typed input must be given', () => {
  const daily = flow('daily', (f: FlowBuilder<{ day: string }>) => {
    f.task('a', ({ input }) => input.day.toUpperCase());
  });
  const maybe = flow('maybe', (f: FlowBuilder<{ day: string } | undefined>) => {
    f.task('a', ({ input }) => input?.day ?? 'today');
  });
  const untyped = flow('untyped', (f) => {
    f.task('a', () => 1);
  });

  it('runFlow and startFlow refuse a run of a flow with a typed input without it, unless it resumes (the stored input)', async () => {
    typeOnly(() => [
      // @ts-expect-error input is required: the tasks read input.day
      runFlow(daily),
      // @ts-expect-error input is required: the tasks read input.day
      runFlow(daily, {}),
      // @ts-expect-error input is required: the tasks read input.day
      startFlow(daily, { concurrency: 2 }),
      // @ts-expect-error the input has the flow's type
      runFlow(daily, { input: { day: 1 } }),
      runFlow(daily, { input: { day: '2026-12-03' } }),
      startFlow(daily, { runId: 'r', resume: true }),
      runFlow(maybe),
      runFlow(untyped),
      startFlow(untyped, { concurrency: 1 }),
    ]);
    // Generic helpers and options typed ahead compile: the requirement travels with RunFlowOptions.
    const withInput = <T>(definition: Flow<T>, input: T) => runFlow(definition, { input });
    const withOptions = <T>(definition: Flow<T>, options: RunFlowOptions<T>) => runFlow(definition, options);
    const ahead: RunFlowOptions<{ day: string }> = { input: { day: 'tue' }, log: () => {} };
    // @ts-expect-error options typed ahead for a typed input need it too
    const missing: RunFlowOptions<{ day: string }> = { concurrency: 2 };
    typeOnly(() => [withInput(daily, { day: 'wed' }), withOptions(daily, ahead), missing]);
    expect((await withOptions(daily, ahead)).tasks['a']!.result).toBe('TUE');
    const run = await runFlow(daily, { input: { day: 'mon' }, log: () => {} });
    expect(run.tasks['a']!.result).toBe('MON');
  });
});

describe('listener hook arguments', () => {
  it('onTaskInstanceFailed gets error and failureDetails without a non-null assertion', () => {
    const listener: Listener = {
      onTaskInstanceFailed: ({ error, failureDetails }) => {
        expectTypeOf(error).toEqualTypeOf<Error>();
        expectTypeOf(failureDetails.willRetry).toEqualTypeOf<boolean>();
      },
    };
    expect(typeof listener.onTaskInstanceFailed).toBe('function');
  });
});
