// applyEvent and legalEventTypes on small machines of their own: the error a refused event gets
// (subject, state path, legal events, the rule a guard states) is what every caller shows users.
import { createActor, createMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import { IllegalTransitionError } from '../../src/errors.ts';
import { applyEvent, legalEventTypes } from '../../src/runtime/lifecycle/applyEvent.ts';

const refused = (run: () => unknown): IllegalTransitionError => {
  try {
    run();
  } catch (error) {
    if (error instanceof IllegalTransitionError) return error;
    throw error;
  }
  throw new Error('expected an IllegalTransitionError');
};

describe('legalEventTypes', () => {
  it("lists the state's event types sorted, without XState's own (delays) or the wildcard", () => {
    const machine = createMachine({
      initial: 'a',
      states: { a: { on: { ZED: 'b', ALPHA: 'b', MID: 'b', '*': 'b' }, after: { 1000: 'b' } }, b: {} },
    });
    const actor = createActor(machine).start();
    expect(legalEventTypes(actor.getSnapshot())).toEqual(['ALPHA', 'MID', 'ZED']);
    actor.stop();
  });
});

describe('applyEvent', () => {
  const nested = createMachine({
    initial: 'running',
    states: {
      running: {
        initial: 'working',
        on: { STOP: { guard: () => false, target: 'done', description: 'the outer rule' } },
        states: {
          working: { on: { STOP: { guard: () => false, target: 'paused', description: 'the inner rule' }, PAUSE: 'paused', HOLD: { guard: () => false, target: 'paused' } } },
          paused: {},
        },
      },
      done: {},
    },
  });

  it('applies a legal event and returns the snapshots before and after', () => {
    const actor = createActor(nested).start();
    const { before, after } = applyEvent(actor, { type: 'PAUSE' }, 'the test machine');
    expect(before.value).toEqual({ running: 'working' });
    expect(after.value).toEqual({ running: 'paused' });
  });

  it('refuses an event with the state as a dot path, the legal events, and the guard rules deepest first', () => {
    const actor = createActor(nested).start();
    const error = refused(() => applyEvent(actor, { type: 'STOP' }, 'the test machine'));
    expect(error.subject).toBe('the test machine');
    expect(error.state).toBe('running.working');
    expect(error.event).toBe('STOP');
    expect(error.legalEvents).toEqual(['HOLD', 'PAUSE', 'STOP']);
    expect(error.message).toBe(
      "the test machine: event STOP is not legal in state 'running.working' (the inner rule; the outer rule). Legal events there: HOLD, PAUSE, STOP. Nothing was changed.",
    );
    expect(actor.getSnapshot().value).toEqual({ running: 'working' });
  });

  it('says that a guard refused it when the refused transition states no rule, and nothing for an event not there', () => {
    const actor = createActor(nested).start();
    expect(refused(() => applyEvent(actor, { type: 'HOLD' }, () => 'lazy subject')).message).toBe(
      "lazy subject: event HOLD is not legal in state 'running.working' (its guard does not allow it here). Legal events there: HOLD, PAUSE, STOP. Nothing was changed.",
    );
    expect(refused(() => applyEvent(actor, { type: 'NOPE' }, 'the test machine')).message).toBe(
      "the test machine: event NOPE is not legal in state 'running.working'. Legal events there: HOLD, PAUSE, STOP. Nothing was changed.",
    );
  });

  it('names every region of a parallel state, and a top-level state by its name', () => {
    const parallel = createMachine({
      type: 'parallel',
      states: { left: { initial: 'x', states: { x: {} } }, right: { initial: 'y', states: { y: { on: { GO: { guard: () => false, target: 'y', description: 'right only' } } } } } },
    });
    const error = refused(() => applyEvent(createActor(parallel).start(), { type: 'GO' }, 'p'));
    expect(error.state).toBe('left.x, right.y');
    expect(error.message).toContain('(right only)');
    const flat = createMachine({ initial: 'idle', states: { idle: { on: { GO: { guard: () => false, target: 'idle' } } } } });
    expect(refused(() => applyEvent(createActor(flat).start(), { type: 'GO' }, 'f')).state).toBe('idle');
  });

  it('asks the given `can` instead of the snapshot, so a memoized answer decides', () => {
    const actor = createActor(nested).start();
    expect(() => applyEvent(actor, { type: 'PAUSE' }, 's', () => false)).toThrow(IllegalTransitionError);
    expect(actor.getSnapshot().value).toEqual({ running: 'working' });
  });
});
