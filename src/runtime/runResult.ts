import type { FlowRunRecord, TaskInstanceRecord } from '../records.ts';
import type { TaskRef } from '../flow/types.ts';

/**
 * The prototype of the run records `snapshot()` makes: it gives them `result(ref)` without a
 * closure per record, and keeps it out of their own (enumerable) fields, so a record prints,
 * compares and serializes as the plain data it is.
 */
const runRecordMethods = Object.freeze({
  result(this: FlowRunRecord, ref: TaskRef<unknown>): unknown {
    return resultIn(this, ref);
  },
});

/** A frozen run record with `result(ref)`, from its fields. */
export function makeRunRecord(fields: Omit<FlowRunRecord<any>, 'result'>): FlowRunRecord {
  return Object.freeze(Object.assign(Object.create(runRecordMethods) as object, fields)) as FlowRunRecord;
}

/**
 * What `run.result(ref)` gives: the same value a downstream task would receive for `ref` — a task's
 * result if it succeeded (otherwise `undefined`); a mapped task's results in `mapIndex` order, with
 * `undefined` for instances that did not succeed (`[]` when it never expanded).
 */
export function resultIn(run: Pick<FlowRunRecord, 'flowId' | 'tasks'>, ref: TaskRef<unknown>): unknown {
  if (ref === null || typeof ref !== 'object' || typeof ref.id !== 'string') {
    throw new TypeError(`run.result(task): pass a task reference returned by f.task or f.map, got ${describe(ref)}`);
  }
  if (ref.flowId !== run.flowId) {
    throw new TypeError(`run.result('${ref.id}'): that task belongs to flow '${ref.flowId}', not to this run's flow '${run.flowId}'`);
  }
  const tasks = run.tasks as Readonly<Record<string, TaskInstanceRecord | undefined>>;
  if (ref.kind === 'subtask') {
    throw new TypeError(
      `run.result('${ref.id}'): '${ref.id}' is a subtask, which has one instance per call (keys 'caller/${ref.id}#n'); read run.tasks by key instead`,
    );
  }
  if (ref.kind === 'map') {
    const results: unknown[] = [];
    for (let index = 0; ; index++) {
      const instance = tasks[`${ref.id}[${index}]`];
      if (instance === undefined) break;
      results.push(instance.result);
    }
    return Object.freeze(results);
  }
  return tasks[ref.id]?.result;
}

function describe(value: unknown): string {
  return typeof value === 'string' ? `the id '${value}' (use the reference f.task returned)` : String(value);
}
