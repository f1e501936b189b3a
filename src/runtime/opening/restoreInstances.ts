import type { TaskInstanceContext } from '../../../machines/index.ts';
import { DEFAULT_SETTINGS } from '../../flow/compiledTask.ts';
import type { Flow, TaskDefinition } from '../../flow/types.ts';
import type { LoadedRun, StoredTaskInstance } from '../../stores/index.ts';
import type { InstanceTable } from '../instances/instanceTable.ts';
import { TaskInstance } from '../instances/taskInstance.ts';
import type { DependencyTracker } from '../scheduling/dependencyTracker.ts';
import { frozen } from '../../frozen.ts';

/**
 * Rebuilds a stored run's instances in the table: states and machine contexts, results (from the
 * result records), errors, stored timers; mapped instances with their items; instances of tasks
 * that left the definition (kept so recovery marks them removed). Actors are not made here: an
 * unfinished instance gets one, restored from its state and context, when it next moves.
 */
export function restoreInstances(loaded: LoadedRun, flow: Flow, table: InstanceTable, deps: DependencyTracker): void {
  const results = new Map<string, { value: unknown; attempt: number }>();
  for (const result of loaded.results) results.set(result.key, { value: result.value, attempt: result.attempt });
  const mapped = new Map<number, TaskInstance[]>();
  for (const stored of loaded.instances) {
    const task = flow.task(stored.taskId);
    let instance: TaskInstance | undefined;
    if (task === undefined) {
      instance = table.make({ key: stored.key, task: removedTask(stored.taskId), mapIndex: stored.mapIndex });
    } else if (stored.parentKey !== undefined) {
      instance = table.make({
        key: stored.key,
        task,
        parentKey: stored.parentKey,
        callInput: frozen(stored.callInput),
        ...(stored.customContext !== undefined ? { customContext: stored.customContext } : {}),
      });
    } else if (stored.mapIndex !== undefined) {
      instance = table.make({ key: stored.key, task, mapIndex: stored.mapIndex });
      let list = mapped.get(task.index);
      if (list === undefined) mapped.set(task.index, (list = []));
      list.push(instance);
    } else {
      instance = table.primaryOf(task.index);
      if (instance === undefined || instance.key !== stored.key) continue;
    }
    writeStored(instance, stored, results, instance.context.maxInterruptions);
    if (table.get(instance.key) !== instance) table.add(instance);
  }
  const counts = new Map<number, number>();
  for (const [index, instances] of mapped) {
    instances.sort((a, b) => a.mapIndex! - b.mapIndex!);
    table.setMapped(index, instances);
    counts.set(index, instances.length);
  }
  for (const [index, instances] of mapped) {
    const list = deps.resultOf(flow.tasks[flow.tasks[index]!.mapOver]!);
    for (const instance of instances) instance.item = Array.isArray(list) ? list[instance.mapIndex!] : undefined;
  }
  table.recount();
  deps.restored(counts);
}

function writeStored(
  instance: TaskInstance,
  stored: StoredTaskInstance,
  results: ReadonlyMap<string, { value: unknown; attempt: number }>,
  maxInterruptions: number,
): void {
  instance.state = stored.state;
  const context: TaskInstanceContext = {
    attempt: stored.attempt,
    retries: stored.retries,
    maxAttempts: stored.maxAttempts,
    manuallySetFrom: stored.manuallySetFrom,
    deferTimedOut: stored.deferTimedOut,
    // Machine version 1 kept this fact outside the machine, as `waitingForEvent`.
    awaitsEvent: stored.state === 'deferred' && stored.awaitsEvent,
    // Versions before 3 did not count interruptions (the store reads them as 0).
    interruptions: stored.interruptions,
    maxInterruptions: stored.machineVersion === '1' || stored.machineVersion === '2' ? maxInterruptions : stored.maxInterruptions,
  };
  instance.context = context;
  // (Read back fresh from the store: frozen like every value tasks hand each other, see KeptValues.)
  const result = results.get(stored.key);
  if (result !== undefined) {
    instance.result = frozen(result.value);
    // (Workers read this record by its attempt: see TaskInstance.resultRecordAttempt.)
    if (result.attempt !== stored.attempt) instance.resultAttempt = result.attempt;
  }
  instance.error = stored.error;
  instance.failureKind = stored.failureKind;
  instance.startedAt = stored.startedAt;
  instance.endedAt = stored.endedAt;
  instance.resumeData = frozen(stored.resumeData);
  instance.eventPayload = frozen(stored.eventPayload);
  instance.timerInfo = stored.timer;
  instance.version = stored.version;
  instance.storedAt = stored.createdAt;
  instance.created = stored.attempt > 0;
}

/** Stands in for a task that is no longer in the flow definition (its instances become removed). */
function removedTask(id: string): TaskDefinition {
  return Object.freeze({
    id,
    index: -1,
    kind: 'task',
    fn: () => {
      throw new Error(`task '${id}' is no longer in the flow definition`);
    },
    ...DEFAULT_SETTINGS,
    upstream: Object.freeze([]),
    downstream: Object.freeze([]),
    mapOver: -1,
  });
}
