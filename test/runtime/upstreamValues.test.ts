import { describe, expect, it } from 'vitest';
import { flow, runFlow, startFlow } from '../../src/index.ts';

describe('a task’s `upstream` argument', () => {
  it('maps each upstream id to its result, in upstream order, as a null-prototype object', async () => {
    const seen: Array<Record<string, unknown>> = [];
    const run = await runFlow(
      flow('upstream-values', (f) => {
        const rows = f.task('rows', () => [1, 2, 3]);
        const config = f.task('config', () => ({ factor: 10 }));
        const scaled = f.map('scaled', rows, ({ item, upstream }) => {
          seen.push(upstream);
          return (item as number) * 2;
        });
        f.task('report', ({ upstream }) => {
          seen.push(upstream);
          return Object.keys(upstream);
        }, { after: [config, scaled] });
      }),
    );
    expect(run.state).toBe('success');
    const report = seen.at(-1)!;
    expect(Object.getPrototypeOf(report)).toBeNull();
    expect({ ...report }).toEqual({ config: { factor: 10 }, scaled: [2, 4, 6] });
    expect(run.tasks['report']!.result).toEqual(['config', 'scaled']);
    // A mapped task's upstream is its list's task.
    expect({ ...seen[0] }).toEqual({ rows: [1, 2, 3] });
  });

  it('is an empty (frozen) null-prototype object for a task without upstreams', async () => {
    let upstream: unknown;
    await runFlow(
      flow('no-upstream', (f) => {
        f.task('only', (args) => {
          upstream = args.upstream;
        });
      }),
    );
    expect(Object.getPrototypeOf(upstream)).toBeNull();
    expect(Object.keys(upstream as object)).toEqual([]);
  });

  it('hands on a result only while its instance is success: a task set to failed by hand passes undefined', async () => {
    let seen: { a: number | undefined; b: string | undefined } | undefined;
    const definition = flow('manual-failed', (f) => {
      const a = f.task('a', () => 1);
      // Waits for an event, so the test can fail `a` by hand before `c` runs.
      const b = f.task('b', ({ ctx }) => (ctx.event === undefined ? ctx.defer({ event: true }) : 'b'));
      f.task('c', ({ upstream }) => {
        seen = { ...upstream };
      }, { after: [a, b], trigger: 'all_done' });
      return { a };
    });
    const handle = startFlow(definition, { log: () => {} });
    const parked = await handle.settled();
    expect(parked.waitingOn).toEqual(['b']);
    expect(parked.result(definition.refs.a)).toBe(1);
    handle.setState('a', 'failed');
    handle.sendEvent('b', 'go');
    const run = await handle.done;
    expect(run.tasks['c']!.state).toBe('success');
    // The type said `number | undefined` (all_done): here it is undefined, as the record of `a` shows no result.
    expect(seen).toEqual({ a: undefined, b: 'b' });
    expect(run.tasks['a']!.result).toBeUndefined();
  });

  it('run.result of a mapped task that never expanded is [] (what its downstream tasks get)', async () => {
    const empty = flow('never-expanded', (f) => {
      const list = f.task('list', (): number[] => []);
      const each = f.map('each', list, ({ item }) => item * 2);
      f.task('after', ({ upstream }) => upstream.each.length, { after: [each], trigger: 'all_done' });
      return { each };
    });
    const run = await runFlow(empty, { log: () => {} });
    expect(run.tasks['each']!.state).toBe('skipped');
    expect(run.result(empty.refs.each)).toEqual([]);
    expect(run.tasks['after']!.result).toBe(0);
  });
});
