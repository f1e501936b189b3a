// What the traversal limits count, and what their errors say.
import { createMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import { pathTests, TraversalLimitError } from '../../src/testing/index.ts';

/** One simple path, a → b → c → d: four prefixes of it (the empty path included). */
const chain = createMachine({
  id: 'chain',
  initial: 'a',
  states: { a: { on: { N: 'b' } }, b: { on: { N: 'c' } }, c: { on: { N: 'd' } }, d: {} },
});

describe('maxPaths', () => {
  it('counts every prefix visited, and its error says so rather than claiming that many paths', () => {
    expect(pathTests(chain, { events: [{ type: 'N' }], maxPaths: 4 }).paths).toHaveLength(1);
    let error: unknown;
    try {
      pathTests(chain, { events: [{ type: 'N' }], maxPaths: 2 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TraversalLimitError);
    expect((error as TraversalLimitError).message).toBe(
      'pathTests(chain): enumerating simple paths visited more than 2 paths and prefixes of paths ' +
        '(option `maxPaths` counts each prefix, the empty path included, not only the paths returned). ' +
        'Set `maxPathLength`, pass a coarser `serializeState`, or raise `maxPaths`.',
    );
  });
});
