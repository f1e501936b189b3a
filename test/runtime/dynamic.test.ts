import { describe, expect, it } from 'vitest';
import { ChildTaskFailedError, ctx, flow, runFlow, withCustomContext } from '../../src/index.ts';

const quiet = { log: () => {} };

describe('map (fan-out)', () => {
  it('creates one instance per item keyed id[i]; downstream gets the ordered list', async () => {
    const run = await runFlow(
      flow('fan', (f) => {
        const list = f.task('list', () => ['a', 'b', 'c']);
        const upper = f.map('upper', list, async ({ item, mapIndex }) => {
          // Finish in reverse order to show results stay in map-index order.
          await new Promise((resolve) => setTimeout(resolve, (3 - mapIndex!) * 2));
          return `${String(item).toUpperCase()}${mapIndex}:${ctx()!.taskKey}:${ctx()!.mapIndex}`;
        });
        f.task('join', ({ upstream }) => upstream.upper.join(','), { after: [upper] });
      }),
      quiet,
    );
    expect(Object.keys(run.tasks).sort()).toEqual(['join', 'list', 'upper[0]', 'upper[1]', 'upper[2]']);
    expect(run.tasks['upper[1]']).toMatchObject({ taskId: 'upper', mapIndex: 1, state: 'success' });
    expect(run.tasks['join']!.result).toBe('A0:upper[0]:0,B1:upper[1]:1,C2:upper[2]:2');
  });

  it('an empty list skips the mapped task, and downstream trigger rules see the skip', async () => {
    const run = await runFlow(
      flow('empty', (f) => {
        const list = f.task('list', () => []);
        const each = f.map('each', list, () => 'never');
        f.task('strict', () => 'ran', { after: [each] });
        f.task('lenient', ({ upstream }) => upstream.each, { after: [each], trigger: 'none_failed' });
      }),
      quiet,
    );
    expect(run.tasks['each']!.state).toBe('skipped');
    expect(run.tasks['strict']!.state).toBe('skipped');
    expect(run.tasks['lenient']).toMatchObject({ state: 'success', result: [] });
  });

  it('downstream of a mapped task counts each mapped instance', async () => {
    const run = await runFlow(
      flow('partial', (f) => {
        const list = f.task('list', () => [1, 2, 3]);
        const each = f.map('each', list, ({ item }) => {
          if (item === 2) throw new Error('bad item');
          return item;
        });
        f.task('any', () => 'ran', { after: [each], trigger: 'one_failed' });
        f.task('all', () => 'ran', { after: [each] });
      }),
      quiet,
    );
    expect(run.tasks['each[1]']!.state).toBe('failed');
    expect(run.tasks['any']!.state).toBe('success');
    expect(run.tasks['all']!.state).toBe('upstream_failed');
  });

  it('mapping over something that is not a list fails the mapped task with a clear error', async () => {
    const run = await runFlow(
      flow('not-a-list', (f) => {
        const one = f.task('one', () => 42);
        // @ts-expect-error a task whose result is not a list cannot be mapped over (the compiler says so too)
        f.map('each', one, () => 'never');
      }),
      quiet,
    );
    expect(run.tasks['each']!.state).toBe('failed');
    expect(run.tasks['each']!.error!.message).toBe("cannot map 'each' over 'one': its result is not a list (got number)");
  });
});

describe('ctx().call (child task instances)', () => {
  it('runs a subtask as a child instance with its own retries, keyed parent/id#n', async () => {
    let fetches = 0;
    const run = await runFlow(
      flow('crawl', (f) => {
        const fetchPage = f.subtask('fetchPage', ({ input }) => {
          fetches++;
          if (ctx()!.attempt === 1) throw new Error('flaky network');
          return `page ${input.url} (${ctx()!.taskKey}, attempt ${ctx()!.attempt})`;
        }, { retries: 1 });
        f.task('crawl', async () => {
          const a = await ctx()!.call(fetchPage, { url: '/a' });
          const b = await ctx()!.call(fetchPage, { url: '/b' });
          return [a, b];
        });
      }),
      { concurrency: 1, ...quiet },
    );
    expect(run.state).toBe('success');
    expect(fetches).toBe(4);
    expect(run.tasks['crawl']!.result).toEqual([
      'page /a (crawl/fetchPage#0, attempt 2)',
      'page /b (crawl/fetchPage#1, attempt 2)',
    ]);
    expect(run.tasks['crawl/fetchPage#0']).toMatchObject({ parentKey: 'crawl', state: 'success', attempts: 2 });
  });

  it('a retried parent reuses children that already succeeded (deterministic keys)', async () => {
    let childRuns = 0;
    let parentRuns = 0;
    const run = await runFlow(
      flow('reuse', (f) => {
        const expensive = f.subtask('expensive', () => ++childRuns);
        f.task('parent', async () => {
          parentRuns++;
          const value = await ctx()!.call(expensive);
          if (parentRuns === 1) throw new Error('parent fails after the child succeeded');
          return value;
        }, { retries: 1 });
      }),
      quiet,
    );
    expect(parentRuns).toBe(2);
    expect(childRuns).toBe(1);
    expect(run.tasks['parent']).toMatchObject({ state: 'success', result: 1 });
  });

  it('a failing child rejects the call with ChildTaskFailedError carrying the cause', async () => {
    let caught: unknown;
    await runFlow(
      flow('child-fails', (f) => {
        const broken = f.subtask('broken', () => {
          throw new Error('disk full');
        });
        f.task('parent', async () => {
          try {
            await ctx()!.call(broken);
          } catch (error) {
            caught = error;
          }
        });
      }),
      quiet,
    );
    expect(caught).toBeInstanceOf(ChildTaskFailedError);
    expect((caught as ChildTaskFailedError).taskKey).toBe('parent/broken#0');
    expect(((caught as Error).cause as Error).message).toBe('disk full');
  });

  it('a child captures the custom context at the call; siblings outside the scope do not see it', async () => {
    const seen: Record<string, unknown>[] = [];
    await runFlow(
      flow('custom', (f) => {
        const child = f.subtask('child', () => void seen.push({ ...ctx()!.customContext }));
        f.task('parent', async () => {
          const inside = withCustomContext({ region: 'eu' }, () => ctx()!.call(child));
          await inside;
          await ctx()!.call(child);
        });
      }),
      { customContext: { team: 'data' }, ...quiet },
    );
    expect(seen).toEqual([{ team: 'data', region: 'eu' }, { team: 'data' }]);
  });
});
