// The instance table (src/runtime/instances/instanceTable.ts): every task instance of a run by key,
// a map task's placeholder replaced by its mapped instances, and the per-state counters that
// `stats().states`, `status` and the end-of-run check read instead of walking the instances. And
// an attempt's lazily made abort signal (taskInstance.ts).
import { describe, expect, it } from 'vitest';
import { flow } from '../../src/index.ts';
import { InstanceTable } from '../../src/runtime/instances/instanceTable.ts';
import { AttemptRun, type TaskInstance } from '../../src/runtime/instances/taskInstance.ts';
import type { TaskInstanceState } from '../../machines/index.ts';

const shapes = flow('shapes', (f) => {
  const list = f.task('list', () => [1, 2, 3]);
  f.map('each', list, ({ item }) => item, { maxInterruptions: 7 });
  f.subtask('helper', () => 1);
});
const [listTask, eachTask, helperTask] = shapes.tasks as [(typeof shapes.tasks)[number], (typeof shapes.tasks)[number], (typeof shapes.tasks)[number]];

/** Moves an instance as the lifecycle does: its state, then the change bus's subscriber. */
function move(table: InstanceTable, instance: TaskInstance, state: TaskInstanceState): void {
  const previous = instance.state;
  instance.state = state;
  table.onTransition(instance, previous, state);
}

describe('InstanceTable', () => {
  it('makes one instance per DAG task (none for subtasks), counted in its state', () => {
    const table = new InstanceTable(shapes, 3);
    expect([...table.keys()]).toEqual(['list', 'each']);
    expect(table.primaryOf(listTask.index)?.key).toBe('list');
    expect(table.primaryOf(helperTask.index)).toBeUndefined();
    expect(table.instancesOf(helperTask)).toEqual([]);
    expect(table.stateCounts()).toEqual({ none: 2 });
    expect(table.unfinished).toBe(2);
    // The run's interruption bound, unless the task sets its own.
    expect(table.primaryOf(listTask.index)?.context.maxInterruptions).toBe(3);
    expect(table.primaryOf(eachTask.index)?.context.maxInterruptions).toBe(7);
    expect(table.make({ key: 'list/helper#0', task: helperTask }).context.maxInterruptions).toBe(3);
    expect(table.make({ key: 'each[9]', task: eachTask, mapIndex: 9 }).context.maxInterruptions).toBe(7);
  });

  it('follows every transition: counts per state (states with none left out) and the unfinished', () => {
    const table = new InstanceTable(shapes, 3);
    const list = table.get('list')!;
    move(table, list, 'scheduled');
    move(table, list, 'queued');
    move(table, list, 'running');
    expect(table.stateCounts()).toEqual({ none: 1, running: 1 });
    move(table, list, 'running'); // (no change: counted once)
    expect(table.stateCounts()).toEqual({ none: 1, running: 1 });
    move(table, list, 'success');
    expect(table.stateCounts()).toEqual({ none: 1, success: 1 });
    expect(table.unfinished).toBe(1);
  });

  it('replaces a map placeholder by its mapped instances, each counted once', () => {
    const table = new InstanceTable(shapes, 3);
    const placeholder = table.get('each')!;
    const mapped = [0, 1, 2].map((i) => table.make({ key: `each[${i}]`, task: eachTask, mapIndex: i }));
    // One of them was added already (restored from a store): not counted twice.
    table.add(mapped[1]!);
    table.setMapped(eachTask.index, mapped);
    expect(table.isMapped(eachTask.index)).toBe(true);
    expect(table.get('each')).toBeUndefined();
    expect(table.instancesOf(eachTask)).toBe(mapped);
    expect([...table.keys()].sort()).toEqual(['each[0]', 'each[1]', 'each[2]', 'list']);
    expect(table.stateCounts()).toEqual({ none: 4 });
    expect(table.unfinished).toBe(4);
    // Deleting what is not (or no longer) in the table changes nothing.
    table.delete(placeholder);
    table.delete(table.make({ key: 'each[1]', task: eachTask, mapIndex: 1 }));
    expect(table.stateCounts()).toEqual({ none: 4 });
    table.delete(mapped[0]!);
    expect(table.stateCounts()).toEqual({ none: 3 });
    expect(table.unfinished).toBe(3);
  });

  it('recounts from scratch after states were written directly (a restore)', () => {
    const table = new InstanceTable(shapes, 3);
    const list = table.get('list')!;
    list.state = 'success';
    table.get('each')!.state = 'upstream_failed';
    expect(table.stateCounts()).toEqual({ none: 2 }); // (not told yet)
    table.recount();
    expect(table.stateCounts()).toEqual({ success: 1, upstream_failed: 1 });
    expect(table.unfinished).toBe(0);
    table.recount();
    expect(table.stateCounts()).toEqual({ success: 1, upstream_failed: 1 });
  });
});

describe('AttemptRun.signal', () => {
  const instanceOf = () => new InstanceTable(shapes, 3).get('list')!;

  it('is one signal per attempt, made on first use', () => {
    const run = new AttemptRun(instanceOf(), 1);
    expect(run.signal).toBe(run.signal);
    expect(run.signal.aborted).toBe(false);
  });

  it('an attempt aborted before its signal was read gets an aborted signal, with the first reason', () => {
    const run = new AttemptRun(instanceOf(), 1);
    const first = new Error('timed out');
    run.abort(first);
    run.abort(new Error('cancelled'));
    expect(run.signal.aborted).toBe(true);
    expect(run.signal.reason).toBe(first);
  });

  it('an attempt aborted after its signal was read aborts it once, with the first reason', () => {
    const run = new AttemptRun(instanceOf(), 1);
    const signal = run.signal;
    const reasons: unknown[] = [];
    signal.addEventListener('abort', () => reasons.push(signal.reason));
    const first = new Error('cancelled');
    run.abort(first);
    run.abort(new Error('later'));
    expect(reasons).toEqual([first]);
  });
});
