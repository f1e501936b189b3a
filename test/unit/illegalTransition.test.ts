import { createActor } from 'xstate';
import { describe, expect, it } from 'vitest';
import { taskInstanceMachine } from '../../machines/index.ts';
import { IllegalTransitionError } from '../../src/errors.ts';
import { applyEvent } from '../../src/runtime/lifecycle/applyEvent.ts';

function queuedInstance() {
  const actor = createActor(taskInstanceMachine, { input: { retries: 1 } }).start();
  applyEvent(actor, { type: 'SCHEDULE' }, "task instance 'a'");
  applyEvent(actor, { type: 'QUEUE' }, "task instance 'a'");
  return actor;
}

describe('illegal transitions', () => {
  it('SUCCEED while queued throws IllegalTransitionError listing the legal events', () => {
    const actor = queuedInstance();
    const before = actor.getSnapshot();
    let thrown: unknown;
    try {
      applyEvent(actor, { type: 'SUCCEED' }, "task instance 'a'");
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(IllegalTransitionError);
    const error = thrown as IllegalTransitionError;
    expect(error.state).toBe('queued');
    expect(error.event).toBe('SUCCEED');
    expect(error.legalEvents).toEqual(['CLEAR', 'GATE_FAIL', 'SET_STATE', 'START']);
    expect(error.message).toContain("task instance 'a': event SUCCEED is not legal in state 'queued'");
    expect(error.message).toContain('Legal events there: CLEAR, GATE_FAIL, SET_STATE, START');
    // Nothing changed.
    expect(actor.getSnapshot()).toBe(before);
  });

  it('a guarded event whose guard fails is rejected and says so', () => {
    const actor = queuedInstance();
    expect(() => applyEvent(actor, { type: 'START', attempt: 2 }, 'ti')).toThrow(
      /its guard does not allow it here/,
    );
    expect(actor.getSnapshot().value).toBe('queued');
  });

  it('a manual set-state to the state it is already in is rejected', () => {
    const actor = createActor(taskInstanceMachine).start();
    applyEvent(actor, { type: 'SET_STATE', state: 'failed' }, 'ti');
    expect(() => applyEvent(actor, { type: 'SET_STATE', state: 'failed' }, 'ti')).toThrow(
      IllegalTransitionError,
    );
    expect(actor.getSnapshot().context.manuallySetFrom).toBe('none');
  });

  it('a duplicate start of the running attempt is accepted and changes nothing', () => {
    const actor = queuedInstance();
    applyEvent(actor, { type: 'START', attempt: 1 }, 'ti');
    const running = actor.getSnapshot();
    const { after } = applyEvent(actor, { type: 'START', attempt: 1 }, 'ti');
    expect(after.value).toBe('running');
    expect(after.context).toEqual(running.context);
  });
});
