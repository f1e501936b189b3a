// States that eventless (`always`) transitions pass through are entered and left inside one step:
// the snapshot after the step no longer shows them, yet the machine was in them.
import { createMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import { assertFullCoverage, formatCoverage, pathTests } from '../../src/testing/index.ts';

describe('pathTests: states passed through by eventless transitions', () => {
  it('counts a state left at once by `always` as reached', () => {
    const order = createMachine({
      id: 'order',
      initial: 'cart',
      states: {
        cart: { on: { CHECKOUT: 'validating' } },
        validating: { always: 'placed' },
        placed: {},
      },
    });
    const suite = pathTests(order, { events: [{ type: 'CHECKOUT' }] });
    expect(suite.paths.map((path) => path.name)).toEqual(['cart →CHECKOUT→ placed']);
    expect(formatCoverage(suite)).toBe('order: 3/3 states, 1/1 edges');
    expect(() => assertFullCoverage(suite)).not.toThrow();
  });

  it('counts the initial state when `always` leaves it before the first event', () => {
    const boot = createMachine({
      id: 'boot',
      initial: 'starting',
      states: { starting: { always: 'ready' }, ready: { on: { STOP: 'stopped' } }, stopped: {} },
    });
    expect(formatCoverage(pathTests(boot, { events: [{ type: 'STOP' }] }))).toBe('boot: 3/3 states, 1/1 edges');
  });

  it('counts a passing state of a parallel region, and its parent', () => {
    const parallel = createMachine({
      id: 'par',
      type: 'parallel',
      states: {
        x: { initial: 'one', states: { one: { on: { T: 'two' } }, two: {} } },
        y: { initial: 'idle', states: { idle: { on: { T: 'transient' } }, transient: { always: 'done' }, done: {} } },
      },
    });
    const suite = pathTests(parallel, { events: [{ type: 'T' }] });
    expect(suite.coverage.uncoveredStates).toEqual([]);
    expect(() => assertFullCoverage(suite)).not.toThrow();
  });

  it('still reports a state that an eventless transition could enter but never does', () => {
    const review = createMachine({
      id: 'review',
      initial: 'draft',
      states: {
        draft: { on: { SUBMIT: 'checking' } },
        checking: { always: [{ guard: () => false, target: 'rejected' }, { target: 'accepted' }] },
        accepted: {},
        rejected: {},
      },
    });
    const suite = pathTests(review, { events: [{ type: 'SUBMIT' }] });
    expect(suite.coverage.coveredStates).toEqual(['draft', 'checking', 'accepted']);
    expect(suite.coverage.uncoveredStates).toEqual(['rejected']);
  });
});
