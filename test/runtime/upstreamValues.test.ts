import { describe, expect, it } from 'vitest';
import { flow, runFlow } from '../../src/index.ts';

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
});
