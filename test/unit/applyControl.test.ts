// applyControl on its own: which of the run's manual operations each stored control request calls,
// with which arguments, and the `applied` answer it returns (what changed). A refusal is the
// operation's error, thrown through (ControlRequests turns it into the `refused` answer).
import { describe, expect, it } from 'vitest';
import type { TaskInstanceState } from '../../machines/index.ts';
import { applyControl, type ControlTarget } from '../../src/runtime/control/applyControl.ts';
import type { StoredControlRequest } from '../../src/stores/index.ts';

/** A run with a few task instances whose operations record their calls and change the states. */
function fakeRun(states: Record<string, TaskInstanceState>, cleared: string[] = []) {
  const calls: unknown[][] = [];
  let runState = 'running';
  const target: ControlTarget = {
    runId: 'nightly',
    setState: (key, state) => {
      calls.push(['setState', key, state]);
      if (!(key in states)) throw new Error(`no task instance '${key}'`);
      states[key] = state;
    },
    clear: (key, options) => {
      calls.push(['clear', key, options]);
      for (const k of [key, ...cleared]) states[k] = 'none';
      return [key, ...cleared];
    },
    resumeTask: (key, payload) => {
      calls.push(['resumeTask', key, payload]);
      states[key] = 'queued';
    },
    sendEvent: (key, payload) => {
      calls.push(['sendEvent', key, payload]);
      states[key] = 'queued';
    },
    cancel: (...args) => {
      calls.push(['cancel', ...args]);
      runState = 'failed';
    },
    stateOf: (key) => states[key],
    runState: () => runState,
  };
  return { target, calls };
}

let nextId = 1;
const request = (fields: Partial<StoredControlRequest> & Pick<StoredControlRequest, 'action'>): StoredControlRequest => ({
  id: nextId++,
  runId: 'nightly',
  status: 'pending',
  message: undefined,
  settledAt: undefined,
  requestedAt: 0,
  ...fields,
});

describe('applyControl', () => {
  it('set-state sets the named instance and answers what changed', () => {
    const { target, calls } = fakeRun({ load: 'failed' });
    expect(applyControl(target, request({ action: 'set-state', taskKey: 'load', state: 'success' }))).toBe('load: failed → success');
    expect(calls).toEqual([['setState', 'load', 'success']]);
  });

  it('a request without a task key names no instance: the operation is asked for the key "" (and refuses it)', () => {
    const { target, calls } = fakeRun({ load: 'failed' });
    expect(() => applyControl(target, request({ action: 'set-state', state: 'success' }))).toThrow("no task instance ''");
    expect(calls).toEqual([['setState', '', 'success']]);
  });

  it('clear of one instance answers its change; clear with a family lists every key it cleared', () => {
    const one = fakeRun({ load: 'success' });
    expect(applyControl(one.target, request({ action: 'clear', taskKey: 'load' }))).toBe('load: success → none');
    expect(one.calls).toEqual([['clear', 'load', {}]]);

    const family = fakeRun({ load: 'success', report: 'success', publish: 'failed' }, ['report', 'publish']);
    expect(applyControl(family.target, request({ action: 'clear', taskKey: 'load', payload: { downstream: true } }))).toBe(
      'cleared 3 task instances: load, report, publish',
    );
    expect(family.calls).toEqual([['clear', 'load', { downstream: true, upstream: false }]]);
  });

  it('a family of two is listed too', () => {
    const { target } = fakeRun({ load: 'success', extract: 'success' }, ['extract']);
    expect(applyControl(target, request({ action: 'clear', taskKey: 'load', payload: { upstream: true } }))).toBe('cleared 2 task instances: load, extract');
  });

  it('the clear options are read strictly: only `true` asks for a family, anything else is no option', () => {
    const cases: [unknown, { downstream: boolean; upstream: boolean }][] = [
      [{ downstream: true, upstream: true }, { downstream: true, upstream: true }],
      [{ upstream: true }, { downstream: false, upstream: true }],
      [{ downstream: 'yes', upstream: 1 }, { downstream: false, upstream: false }],
      [null, { downstream: false, upstream: false }],
      ['downstream', { downstream: false, upstream: false }],
      [undefined, { downstream: false, upstream: false }],
    ];
    for (const [payload, asked] of cases) {
      const { target, calls } = fakeRun({ load: 'success' });
      applyControl(target, request({ action: 'clear', taskKey: 'load', payload }));
      expect(calls, JSON.stringify(payload)).toHaveLength(1);
      const options = calls[0]![2] as { downstream?: boolean; upstream?: boolean };
      // (An option left out means false, as ClearOptions reads it.)
      expect({ downstream: options.downstream === true, upstream: options.upstream === true }, JSON.stringify(payload)).toEqual(asked);
    }
  });

  it('resume-task resumes (it does not send an event) with the payload', () => {
    const { target, calls } = fakeRun({ wait: 'checkpointed' });
    expect(applyControl(target, request({ action: 'resume-task', taskKey: 'wait', payload: { page: 2 } }))).toBe('wait: checkpointed → queued');
    expect(calls).toEqual([['resumeTask', 'wait', { page: 2 }]]);
  });

  it('send-event sends the payload as the event', () => {
    const { target, calls } = fakeRun({ approve: 'deferred' });
    expect(applyControl(target, request({ action: 'send-event', taskKey: 'approve', payload: { ok: true } }))).toBe('approve: deferred → queued');
    expect(calls).toEqual([['sendEvent', 'approve', { ok: true }]]);
  });

  it('cancel passes a string payload as the reason, any other payload as no reason, and answers the run state', () => {
    const withReason = fakeRun({});
    expect(applyControl(withReason.target, request({ action: 'cancel', payload: 'enough' }))).toBe("run 'nightly': failed (cancelled)");
    expect(withReason.calls).toEqual([['cancel', 'enough']]);

    const empty = fakeRun({});
    applyControl(empty.target, request({ action: 'cancel', payload: '' }));
    expect(empty.calls).toEqual([['cancel', '']]);

    const notAString = fakeRun({});
    applyControl(notAString.target, request({ action: 'cancel', payload: { reason: 'x' } }));
    expect(notAString.calls).toEqual([['cancel', undefined]]);
  });
});
