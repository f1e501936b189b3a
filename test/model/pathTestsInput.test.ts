// Mistakes in what pathTests is given are reported as those mistakes, with the fix: before, a
// misspelt event was silently never taken, a missing option failed deep inside XState, and
// `limit: NaN` let a traversal run until memory ran out.
import { createMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import {
  assertFullCoverage,
  CoverageError,
  formatCoverage,
  machineEdges,
  machineStates,
  mergeCoverage,
  pathTests,
} from '../../src/testing/index.ts';

const door = createMachine({
  id: 'door',
  initial: 'closed',
  states: {
    closed: { on: { OPEN: 'open', LOCK: 'locked' } },
    open: { on: { CLOSE: 'closed' } },
    locked: { on: { UNLOCK: 'closed' } },
  },
});
type DoorEvent = { type: 'OPEN' } | { type: 'CLOSE' } | { type: 'LOCK' } | { type: 'UNLOCK' };
const misspelt = [{ type: 'OPEN' }, { type: 'CLOS' }, { type: 'LOCK' }, { type: 'UNLOCK' }] as unknown as DoorEvent[];

/** The error `run` throws (failing the test if it throws none). */
function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('event types that match no transition', () => {
  it('are named by the coverage and by CoverageError, with the types the machine handles', () => {
    const suite = pathTests(door, { events: misspelt });
    expect(suite.coverage.unmatchedEvents).toEqual(['CLOS']);
    expect(formatCoverage(suite)).toBe('door: 3/3 states, 3/4 edges, events matching no transition: CLOS');
    const error = thrown(() => assertFullCoverage(suite));
    expect(error).toBeInstanceOf(CoverageError);
    expect((error as CoverageError).unmatchedEvents).toEqual(['CLOS']);
    expect(error.message).toContain(
      'Events that match no transition of the machine: CLOS. Fix: correct the spelling or remove them from `events` ' +
        '(the machine handles: OPEN, LOCK, CLOSE, UNLOCK).',
    );
  });

  it('fail full coverage even when every state and edge is covered, and are found in an events function', () => {
    const suite = pathTests(door, {
      events: () => [...misspelt, { type: 'CLOSE' }] as DoorEvent[],
    });
    expect(suite.coverage.uncoveredEdges).toEqual([]);
    const error = thrown(() => assertFullCoverage(suite));
    expect(error.message).toBe(
      'door: 0 of 3 states unreachable, 0 of 4 edges uncovered.\n' +
        'Events that match no transition of the machine: CLOS. Fix: correct the spelling or remove them from `events` ' +
        '(the machine handles: OPEN, LOCK, CLOSE, UNLOCK).',
    );
    expect(mergeCoverage(suite, pathTests(door, { events: [{ type: 'OPEN' }] })).unmatchedEvents).toEqual(['CLOS']);
  });

  it('do not include types handled through a wildcard', () => {
    const wild = createMachine({
      id: 'wild',
      initial: 'a',
      states: { a: { on: { 'mouse.*': 'b' } }, b: { on: { '*': 'a' } } },
    });
    const suite = pathTests(wild, { events: [{ type: 'mouse.click' }, { type: 'key.down' }] });
    expect(suite.coverage.unmatchedEvents).toEqual([]);
  });
});

describe('options that cannot work', () => {
  const events: DoorEvent[] = [{ type: 'OPEN' }];
  const options = (extra: Record<string, unknown>) => ({ events, ...extra }) as Parameters<typeof pathTests<typeof door>>[1];

  it('a missing or malformed `events`', () => {
    expect(thrown(() => pathTests(door, {} as never)).message).toBe(
      'pathTests(door): option `events` must be an array of events or a function of the snapshot that returns one, ' +
        "got undefined. Pass the events to try in every state, e.g. `events: [{ type: 'OPEN' }]`.",
    );
    expect(thrown(() => pathTests(door, { events: { type: 'OPEN' } } as never))).toBeInstanceOf(TypeError);
    expect(thrown(() => pathTests(door, { events: ['OPEN'] } as never)).message).toBe(
      'pathTests(door): every event in `events` must be an object with a string `type`, got "OPEN". ' +
        "Write it as `{ type: 'OPEN' }`.",
    );
    expect(thrown(() => pathTests(door, { events: () => undefined } as never)).message).toBe(
      "pathTests(door): the `events` function must return an array of events, got undefined. Return e.g. `[{ type: 'OPEN' }]`.",
    );
  });

  it('numbers that are not whole, too small, or not numbers', () => {
    expect(thrown(() => pathTests(door, options({ limit: Number.NaN }))).message).toBe(
      'pathTests(door): option `limit` must be a whole number of at least 1 (or Infinity), got NaN. ' +
        'Pass a number such as `limit: 1000`, or leave it out for 100_000, the default.',
    );
    expect(thrown(() => pathTests(door, options({ maxPathLength: -1 }))).message).toBe(
      'pathTests(door): option `maxPathLength` must be a whole number of at least 0 (or Infinity), got -1. ' +
        'Pass a number such as `maxPathLength: 10`, or leave it out for Infinity, the default.',
    );
    expect(thrown(() => pathTests(door, options({ maxPaths: '10' }))).message).toBe(
      'pathTests(door): option `maxPaths` must be a whole number of at least 1 (or Infinity), got "10". ' +
        'Pass a number such as `maxPaths: 1000`, or leave it out for 10_000, the default.',
    );
    expect(thrown(() => pathTests(door, options({ maxPaths: 0 })))).toBeInstanceOf(RangeError);
    expect(thrown(() => pathTests(door, options({ limit: 2.5 })))).toBeInstanceOf(RangeError);
    // The bounds themselves are accepted.
    expect(pathTests(door, options({ maxPathLength: 0, maxPaths: 1, limit: Number.POSITIVE_INFINITY })).paths).toHaveLength(1);
  });

  it('a function option that is not a function', () => {
    expect(thrown(() => pathTests(door, options({ serializeState: 'value' }))).message).toBe(
      'pathTests(door): option `serializeState` must be a function, got "value". Pass a function, or leave it out for the default.',
    );
  });
});

describe('a first argument that is not a machine', () => {
  it('is refused by name by pathTests, machineEdges and machineStates', () => {
    const message = (caller: string, got: string) =>
      `${caller}: expected an XState machine as the first argument, got ${got}. ` +
      'Pass the machine itself (from `createMachine` or `setup(…).createMachine`), not an actor, a snapshot or its config.';
    expect(thrown(() => pathTests({} as never, { events: [] })).message).toBe(message('pathTests', '{}'));
    expect(thrown(() => machineEdges(undefined as never)).message).toBe(message('machineEdges', 'undefined'));
    expect(thrown(() => machineStates({ id: 'door', initial: 'closed' } as never)).message).toBe(
      message('machineStates', '{"id":"door","initial":"closed"}'),
    );
  });
});
