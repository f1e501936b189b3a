import { compatibleFlowRunMachineVersions, compatibleTaskInstanceMachineVersions, FLOW_RUN_MACHINE_VERSION } from '../../../machines/index.ts';
import { FlowMismatchError, InputChangedError, MachineVersionError, RunNotFoundError } from '../../errors.ts';
import { definitionHashWith, flowShape, type FlowShape } from '../../flow/flowShape.ts';
import type { Flow } from '../../flow/types.ts';
import { inputFingerprint, serializeValue, type LoadedRun, type Store, type StoredRun } from '../../stores/index.ts';
import type { Clock } from '../../clock.ts';
import type { FlowRunSettings } from '../settings.ts';
import { RunPersistence } from '../subscribers/persistence.ts';

/** A run opened in its store. */
export interface OpenedRun {
  readonly persistence: RunPersistence;
  /** The stored run with its instances and results; `undefined` when the run was created now. */
  readonly loaded: LoadedRun | undefined;
  /** The input tasks receive: the given one, or the stored one when a resume gives none. */
  readonly input: unknown;
  /**
   * Whether `input` is the run record's (stored as it is): workers then read it from the store
   * instead of every job carrying it. Not so when a re-run gives another input and
   * `onInputChange: 'reuse'` keeps the record's.
   */
  readonly inputStored: boolean;
}

/**
 * Opens a run in its store: a new run is created (and committed before anything runs); an existing
 * one is loaded, after `onInputChange` has had its say and its machine versions were checked.
 * Nothing runs and no hook fires before this has decided.
 */
export async function openRun(
  store: Store,
  flow: Flow,
  settings: FlowRunSettings,
  clock: Clock,
  onFailure: (error: Error) => void,
  leaseToken: number | undefined,
): Promise<OpenedRun> {
  const { runId } = settings;
  let existing = await store.getRun(runId);
  const fingerprint = settings.fingerprint ?? inputFingerprint(settings.input);
  if (existing !== undefined && existing.flowId !== flow.id) {
    throw new FlowMismatchError(runId, existing.flowId, flow.id);
  }
  let reset = false;
  if (existing !== undefined && settings.inputGiven && existing.inputFingerprint !== fingerprint) {
    if (settings.onInputChange === 'raise') throw new InputChangedError(runId, existing.inputFingerprint, fingerprint);
    if (settings.onInputChange === 'reset') {
      await store.deleteRun(runId);
      existing = undefined;
      reset = true;
    }
  }
  // (A reset run starts over with the new input, even when it was asked to be resumed.)
  if (existing === undefined && settings.resume && !reset) {
    throw new RunNotFoundError(runId);
  }
  const { shape, hash } = definitionOf(flow);
  if (existing === undefined) {
    const now = clock.now();
    const run: StoredRun = {
      runId,
      flowId: flow.id,
      inputFingerprint: fingerprint,
      state: 'queued',
      reason: null,
      input: settings.input,
      labels: settings.labels,
      taskIds: flow.tasks.map((task) => task.id),
      flowHash: hash,
      machineVersion: FLOW_RUN_MACHINE_VERSION,
      createdAt: now,
      updatedAt: now,
      startedAt: undefined,
      endedAt: undefined,
    };
    const persistence = new RunPersistence(store, run, clock, onFailure);
    persistence.fence(leaseToken);
    persistence.recordShape(shape(), hash);
    persistence.updateRun({ state: 'queued', reason: null, startedAt: undefined, endedAt: undefined }, now);
    await persistence.flush(now);
    if (persistence.failure) throw persistence.failure;
    return { persistence, loaded: undefined, input: settings.input, inputStored: true };
  }
  checkMachineVersions(runId, existing.machineVersion, undefined);
  const loaded = await store.loadRun(runId);
  if (loaded === undefined) throw new Error(`run '${runId}' disappeared from the store while it was being opened`);
  for (const instance of loaded.instances) checkMachineVersions(runId, undefined, instance);
  const persistence = new RunPersistence(store, loaded.run, clock, onFailure);
  persistence.fence(leaseToken);
  const taskIds = runTaskIds(loaded, flow);
  if (taskIds !== loaded.run.taskIds) persistence.recordTaskIds(taskIds);
  // The run keeps the shape of the definition that drives it: a changed one (or a run stored
  // before shapes were) records its own with the next batch.
  if (loaded.run.flowHash !== hash) persistence.recordShape(shape(), hash);
  return {
    persistence,
    loaded,
    input: settings.inputGiven ? settings.input : loaded.run.input,
    inputStored: !settings.inputGiven || sameStored(settings.input, loaded.run.input),
  };
}

/** Whether two values are stored as the same text. */
function sameStored(a: unknown, b: unknown): boolean {
  try {
    return serializeValue(a) === serializeValue(b);
  } catch {
    return false;
  }
}

/**
 * The flow's shape (made now: it is held only until the batch that stores it) and its hash
 * (remembered per flow object, a flow being immutable: a resume with the same definition
 * makes no shape at all).
 */
function definitionOf(flow: Flow): { shape: () => FlowShape; hash: string } {
  let made: FlowShape | undefined;
  const shape = (): FlowShape => (made ??= flowShape(flow));
  return { shape, hash: definitionHashWith(flow, shape) };
}

/**
 * The run's task list once this definition drives it: the stored list plus the tasks this
 * definition adds (a removed task stays: its instances are still stored). A run stored before
 * task lists were recorded starts from its stored instances' task ids. The stored list itself
 * when nothing is added, so the caller can tell nothing changed.
 */
function runTaskIds(loaded: LoadedRun, flow: Flow): readonly string[] {
  const stored = loaded.run.taskIds ?? loaded.instances.map((instance) => instance.taskId);
  const ids = new Set(stored);
  const added = flow.tasks.map((task) => task.id).filter((id) => !ids.has(id));
  if (added.length === 0 && loaded.run.taskIds !== undefined) return loaded.run.taskIds;
  return [...ids, ...added];
}

function checkMachineVersions(runId: string, runVersion: string | undefined, instance: { key: string; machineVersion: string } | undefined): void {
  if (runVersion !== undefined && !compatibleFlowRunMachineVersions.has(runVersion)) {
    throw new MachineVersionError({ runId, machine: 'flow-run', storedVersion: runVersion, supportedVersions: [...compatibleFlowRunMachineVersions] });
  }
  if (instance !== undefined && !compatibleTaskInstanceMachineVersions.has(instance.machineVersion)) {
    throw new MachineVersionError({
      runId,
      machine: 'task-instance',
      storedVersion: instance.machineVersion,
      supportedVersions: [...compatibleTaskInstanceMachineVersions],
      taskKey: instance.key,
    });
  }
}
