// The change bus on its own: who is called, in which order, what currentChange() says during a
// transition published from inside another one, and which fields a change record carries.
import { describe, expect, it } from 'vitest';
import type { TaskInstanceEvent, TaskInstanceState } from '../../machines/index.ts';
import { ChangeBus, type TransitionDetail } from '../../src/runtime/lifecycle/changeBus.ts';
import { msgFor } from '../../src/runtime/lifecycle/transitionMsg.ts';
import type { TaskInstance } from '../../src/runtime/instances/taskInstance.ts';

/** Just what the bus reads of an instance: its task's index, its record, its error. */
const instance = (key: string, taskIndex: number, error?: Error) =>
  ({ key, task: { index: taskIndex }, error, toRecord: () => ({ key }) }) as unknown as TaskInstance;

function busWithClock() {
  let reads = 0;
  const bus = new ChangeBus({ now: () => 1000 + reads++ });
  return { bus, reads: () => reads };
}

const publish = (bus: ChangeBus, on: TaskInstance, from: TaskInstanceState, to: TaskInstanceState, event: TaskInstanceEvent, detail?: TransitionDetail) =>
  bus.publish(on, from, to, event, detail);

describe('ChangeBus', () => {
  it('calls every subscriber of all tasks first, then those of the instance’s task; an unsubscribed one no more', () => {
    const { bus } = busWithClock();
    const calls: string[] = [];
    const offAll = bus.subscribe((ti) => calls.push(`all1 ${ti.key}`));
    bus.subscribeTask(1, (ti) => calls.push(`task1a ${ti.key}`));
    const offTask1b = bus.subscribeTask(1, (ti) => calls.push(`task1b ${ti.key}`));
    bus.subscribeTask(2, (ti) => calls.push(`task2 ${ti.key}`));
    bus.subscribe((ti) => calls.push(`all2 ${ti.key}`));
    publish(bus, instance('a', 1), 'none', 'scheduled', { type: 'SCHEDULE' });
    expect(calls.splice(0)).toEqual(['all1 a', 'all2 a', 'task1a a', 'task1b a']);
    offAll();
    offTask1b();
    publish(bus, instance('b', 1), 'none', 'scheduled', { type: 'SCHEDULE' });
    publish(bus, instance('c', 2), 'none', 'scheduled', { type: 'SCHEDULE' });
    expect(calls).toEqual(['all2 b', 'task1a b', 'all2 c', 'task2 c']);
  });

  it('forgets a task once its last subscriber left, and calls nobody else for it', () => {
    const { bus } = busWithClock();
    const calls: string[] = [];
    const off = bus.subscribeTask(3, () => calls.push('task3'));
    off();
    off(); // twice: still nothing, no error
    publish(bus, instance('a', 3), 'none', 'scheduled', { type: 'SCHEDULE' });
    expect(calls).toEqual([]);
  });

  it('gives the outer change back to later subscribers after a subscriber caused a transition of its own', () => {
    const { bus } = busWithClock();
    const seen: string[] = [];
    const inner = instance('inner', 2);
    bus.subscribe((ti) => {
      const change = bus.currentChange();
      seen.push(`${ti.key}: ${change.previousState}->${change.state} ${change.event}`);
      if (ti.key === 'outer') publish(bus, inner, 'queued', 'running', { type: 'START', attempt: 1 });
    });
    bus.subscribe(() => {
      const change = bus.currentChange();
      seen.push(`later: ${change.taskInstance.key} ${change.previousState}->${change.state} ${change.msg ?? '-'}`);
    });
    publish(bus, instance('outer', 1), 'running', 'success', { type: 'SUCCEED' });
    expect(seen).toEqual([
      'outer: running->success SUCCEED',
      'inner: queued->running START',
      'later: inner queued->running started',
      'later: outer running->success success',
    ]);
    expect(() => bus.currentChange()).toThrow('ChangeBus.currentChange() called outside a transition');
  });

  it('builds one frozen change record per transition, reading the clock once, however many ask', () => {
    const { bus, reads } = busWithClock();
    const records: unknown[] = [];
    bus.subscribe(() => records.push(bus.currentChange()));
    bus.subscribe(() => records.push(bus.currentChange()));
    publish(bus, instance('a', 1), 'none', 'scheduled', { type: 'SCHEDULE' });
    expect(records[0]).toBe(records[1]);
    expect(Object.isFrozen(records[0])).toBe(true);
    expect(records[0]).toEqual({ previousState: 'none', state: 'scheduled', event: 'SCHEDULE', msg: undefined, at: 1000, taskInstance: { key: 'a' } });
    expect(reads()).toBe(1);
  });

  it('carries the error of a failure, of a manual set to failed, and checkpoint data only for a checkpoint', () => {
    const { bus } = busWithClock();
    const records: Array<Record<string, unknown>> = [];
    bus.subscribe(() => records.push({ ...bus.currentChange() }));
    const boom = new Error('boom');
    const stored = new Error('set by hand');
    publish(bus, instance('a', 1), 'running', 'failed', { type: 'FAIL', error: 'boom' } as TaskInstanceEvent, { error: boom });
    publish(bus, instance('b', 1, stored), 'success', 'failed', { type: 'SET_STATE', state: 'failed' });
    publish(bus, instance('c', 1, stored), 'failed', 'success', { type: 'SET_STATE', state: 'success' });
    publish(bus, instance('d', 1, stored), 'running', 'success', { type: 'SUCCEED' });
    publish(bus, instance('e', 1), 'running', 'checkpointed', { type: 'CHECKPOINT' } as TaskInstanceEvent, { checkpointData: { page: 3 } });
    publish(bus, instance('f', 1), 'running', 'checkpointed', { type: 'CHECKPOINT' } as TaskInstanceEvent);
    expect(records.map((r) => [r.error, 'checkpointData' in r ? r.checkpointData : 'none'])).toEqual([
      [boom, 'none'],
      [stored, 'none'],
      [undefined, 'none'],
      [undefined, 'none'],
      [undefined, { page: 3 }],
      [undefined, null],
    ]);
    expect(records.map((r) => 'error' in r)).toEqual([true, true, false, false, false, false]);
  });
});

describe('msgFor', () => {
  it('gives the listener msg of each transition, undefined for the scheduler’s own', () => {
    const cases: Array<[TaskInstanceEvent, TaskInstanceState, TaskInstanceState, string | undefined]> = [
      [{ type: 'SET_STATE', state: 'skipped' }, 'failed', 'skipped', 'manually_set_to_skipped'],
      [{ type: 'START', attempt: 1 }, 'queued', 'running', 'started'],
      [{ type: 'START', attempt: 1 }, 'up_for_reschedule', 'running', undefined],
      [{ type: 'SUCCEED' }, 'running', 'success', 'success'],
      [{ type: 'FAIL' } as TaskInstanceEvent, 'running', 'up_for_retry', 'up_for_retry'],
      [{ type: 'FAIL' } as TaskInstanceEvent, 'running', 'failed', 'failed'],
      [{ type: 'GATE_FAIL' } as TaskInstanceEvent, 'queued', 'up_for_retry', 'up_for_retry'],
      [{ type: 'GATE_FAIL' } as TaskInstanceEvent, 'queued', 'failed', 'failed'],
      [{ type: 'INTERRUPT' } as TaskInstanceEvent, 'running', 'failed', 'failed'],
      [{ type: 'INTERRUPT' } as TaskInstanceEvent, 'running', 'scheduled', 'interrupted'],
      [{ type: 'SKIP' } as TaskInstanceEvent, 'running', 'skipped', 'skipped'],
      [{ type: 'SKIP' } as TaskInstanceEvent, 'scheduled', 'skipped', undefined],
      [{ type: 'CHECKPOINT' } as TaskInstanceEvent, 'running', 'checkpointed', 'checkpointed'],
      [{ type: 'SCHEDULE' }, 'none', 'scheduled', undefined],
    ];
    expect(cases.map(([event, from, to]) => msgFor(event, from, to))).toEqual(cases.map(([, , , msg]) => msg));
  });
});
