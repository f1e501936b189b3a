// Case names are test names: two cases with one name hide one another in a runner's report.
import { setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { pathTests } from '../../src/testing/index.ts';

/** Two inline guards on the same event and target: XState names both functions 'guard'. */
const threshold = setup({ types: { events: {} as { type: 'GO'; v: number } } }).createMachine({
  id: 'threshold',
  initial: 'a',
  states: {
    a: {
      on: {
        GO: [
          { guard: ({ event }) => event.v > 10, target: 'b' },
          { guard: ({ event }) => event.v > 5, target: 'b' },
          { target: 'c' },
        ],
      },
    },
    b: {},
    c: {},
  },
});

describe('pathTests case names', () => {
  it('are unique among the edge cases even when two edges have the same label', () => {
    const suite = pathTests(threshold, { events: [{ type: 'GO', v: 20 }, { type: 'GO', v: 7 }, { type: 'GO', v: 1 }] });
    expect(suite.edges.map((edgeCase) => edgeCase.edge.label)).toEqual([
      'a →GO[guard]→ b',
      'a →GO[guard]→ b',
      'a →GO[else]→ c',
    ]);
    expect(suite.edges.map((edgeCase) => edgeCase.name)).toEqual(['a →GO[guard]→ b', 'a →GO[guard]→ b #2', 'a →GO[else]→ c']);
  });

  it('of edges and of paths are numbered apart (each list is its own set of tests)', () => {
    const door = setup({}).createMachine({ id: 'door', initial: 'closed', states: { closed: { on: { OPEN: 'open' } }, open: {} } });
    const suite = pathTests(door, { events: [{ type: 'OPEN' }] });
    expect(suite.edges.map((edgeCase) => edgeCase.name)).toEqual(['closed →OPEN→ open']);
    expect(suite.paths.map((path) => path.name)).toEqual(['closed →OPEN→ open']);
  });
});
