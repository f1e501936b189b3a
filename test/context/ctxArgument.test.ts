import { describe, expect, it } from 'vitest';
import { ctx as currentContext, defineDecorator, flow, runFlow, type TaskContext } from '../../src/index.ts';

describe('the `ctx` field of a task’s arguments', () => {
  it('is the attempt’s context — the object ctx() returns — for plain, mapped, called and decorated tasks, new per attempt', async () => {
    const seen: Array<{ key: string; attempt: number; same: boolean }> = [];
    const note = (context: TaskContext) => seen.push({ key: context.taskKey, attempt: context.attempt, same: currentContext() === context });
    const passThrough = defineDecorator({ name: 'passThrough', defaults: {}, hooks: { wrap: (fn) => async (args) => fn(args) } });
    const run = await runFlow(
      flow('ctx-argument', (f) => {
        const child = f.subtask('child', ({ ctx }) => note(ctx));
        const list = f.task(
          'list',
          async ({ ctx }) => {
            note(ctx);
            await ctx.call(child);
            if (ctx.attempt === 1) throw new Error('retry me');
            return [1, 2];
          },
          { retries: 1 },
        );
        f.map('each', list, ({ ctx, mapIndex }) => {
          note(ctx);
          return ctx.mapIndex === mapIndex;
        });
        f.task('decorated', ({ ctx }) => note(ctx), { decorators: [passThrough()] });
      }),
      { log: () => {} },
    );
    expect(run.state).toBe('success');
    expect([run.tasks['each[0]']?.result, run.tasks['each[1]']?.result]).toEqual([true, true]);
    expect(seen.filter(({ same }) => !same)).toEqual([]);
    expect(seen.map(({ key, attempt }) => `${key}#${attempt}`).sort()).toEqual(
      // (The retried attempt reuses the child that succeeded.)
      ['list#1', 'list/child#0#1', 'list#2', 'each[0]#1', 'each[1]#1', 'decorated#1'].sort(),
    );
  });
});
