// A DependencyTracker built and fed as flowRun.ts does (real InstanceTable, Lifecycle, Admission and
// change bus, the table and tracker subscribed in that order), for in-process tests of it; instances
// move by lifecycle events, as the scheduler and executor would move them.
import { createTestClock } from '../../src/clock.ts';
import { graphOf } from '../../src/flow/graph.ts';
import type { Flow } from '../../src/flow/types.ts';
import { InstanceTable } from '../../src/runtime/instances/instanceTable.ts';
import type { TaskInstance } from '../../src/runtime/instances/taskInstance.ts';
import { ChangeBus } from '../../src/runtime/lifecycle/changeBus.ts';
import { Lifecycle } from '../../src/runtime/lifecycle/lifecycle.ts';
import { Admission } from '../../src/runtime/scheduling/admission.ts';
import { DependencyTracker } from '../../src/runtime/scheduling/dependencyTracker.ts';

export function harness(definition: Flow) {
  const clock = createTestClock(1_000);
  const bus = new ChangeBus(clock);
  const table = new InstanceTable(definition, 3);
  const lifecycle = new Lifecycle(bus, clock);
  const admission = new Admission(100);
  const touched: string[] = [];
  const removed: string[] = [];
  const deps = new DependencyTracker(definition, graphOf(definition), table, lifecycle, admission, {
    touch: (instance) => void touched.push(instance.key),
    remove: (instance) => void removed.push(instance.key),
  });
  bus.subscribe(table.onTransition);
  bus.subscribe(deps.onTransition);
  const task = (id: string) => definition.tasks.find((t) => t.id === id)!;
  /** Keys handed to admission as ready since the last call. */
  const ready = (): string[] => {
    const out: string[] = [];
    for (let next = admission.takeReady(); next !== undefined; next = admission.takeReady()) out.push(next.key);
    return out;
  };
  /** Runs the instance up to `attempt` (earlier attempts fail and are retried: its task needs retries). */
  const run = (instance: TaskInstance, attempt = 1) => {
    lifecycle.apply(instance, { type: 'SCHEDULE' });
    for (let n = 1; ; n++) {
      lifecycle.apply(instance, { type: 'QUEUE' });
      lifecycle.apply(instance, { type: 'START', attempt: n });
      if (n === attempt) return;
      lifecycle.apply(instance, { type: 'FAIL' });
      lifecycle.apply(instance, { type: 'RETRY' });
    }
  };
  const succeed = (instance: TaskInstance, result: unknown, attempt = 1) => {
    run(instance, attempt);
    instance.result = result;
    lifecycle.apply(instance, { type: 'SUCCEED' });
  };
  const fail = (instance: TaskInstance) => {
    run(instance);
    lifecycle.apply(instance, { type: 'FAIL', failFast: true });
  };
  const primary = (id: string) => table.primaryOf(task(id).index)!;
  return { table, lifecycle, admission, deps, touched, removed, task, ready, succeed, fail, primary, refs: (id: string) => deps.upstreamRefs(task(id)) };
}
