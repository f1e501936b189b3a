import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flow, type Flow } from '../../src/index.ts';
import { FlowGraph, graphOf } from '../../src/flow/graph.ts';

/** Random DAGs: each task lists some earlier tasks as upstreams (deduplicated, in order). */
const dagArb = fc
  .integer({ min: 0, max: 30 })
  .chain((size) =>
    fc.tuple(
      ...Array.from({ length: size }, (_, i) =>
        i === 0 ? fc.constant<number[]>([]) : fc.uniqueArray(fc.integer({ min: 0, max: i - 1 }), { maxLength: Math.min(i, 4) }),
      ),
    ),
  )
  .map((lists) => lists as number[][]);

describe('FlowGraph (compressed adjacency lists)', () => {
  it('holds exactly each task’s upstream list, and downstream lists in task order (fast-check)', () => {
    fc.assert(
      fc.property(dagArb, (upstreams) => {
        const graph = FlowGraph.fromLists(upstreams);
        upstreams.forEach((list, i) => {
          expect(graph.upstreamOf(i)).toEqual(list);
          expect(graph.upstreamCount(i)).toBe(list.length);
          const downstream = upstreams.flatMap((other, j) => (other.includes(i) ? [j] : []));
          expect(graph.downstreamOf(i)).toEqual(downstream);
          expect(graph.downstreamCount(i)).toBe(downstream.length);
        });
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it('is what flow() compiles, and what task definitions read their lists from', () => {
    fc.assert(
      fc.property(dagArb, (upstreams) => {
        const definition = flow('random', (f) => {
          const refs: ReturnType<typeof f.task>[] = [];
          upstreams.forEach((list, i) => refs.push(f.task(`t${i}`, () => i, { after: list.map((j) => refs[j]!) })));
        });
        const graph = graphOf(definition);
        definition.tasks.forEach((task, i) => {
          expect(task.upstream).toEqual(upstreams[i]);
          expect(graph.upstreamOf(i)).toEqual(upstreams[i]);
          expect(task.downstream).toEqual(graph.downstreamOf(i));
          expect(Object.isFrozen(task.upstream)).toBe(true);
        });
      }),
      { numRuns: 100, seed: 11 },
    );
  });

  it('puts a mapped task’s list first and drops duplicate upstreams', () => {
    const definition = flow('mapped', (f) => {
      const a = f.task('a', () => [1, 2]);
      const b = f.task('b', () => 0);
      f.map('m', a, ({ item }) => item, { after: [b, a, b] });
    });
    expect(definition.task('m')!.upstream).toEqual([0, 1]);
    expect(definition.task('a')!.downstream).toEqual([2]);
    expect(definition.task('b')!.downstream).toEqual([2]);
  });

  it('builds a graph for a flow object that flow() did not make', () => {
    const handmade = { id: 'x', tasks: [{ upstream: [] }, { upstream: [0] }], task: () => undefined } as unknown as Flow;
    expect(graphOf(handmade).downstreamOf(0)).toEqual([1]);
  });
});
