// Validation of what a store reads back, shared by every store so memoryStore, sqliteStore and
// postgresStore refuse the same rows with the same error. Writes are checked before they are
// stored (batchChecks.ts), so a row that fails here was changed outside taskmachine (by hand, by
// another program) or is damaged: it must never be used, because an unknown state or an
// impossible attempt number would silently change what the runtime does with the run.
import { isTaskInstanceState, type TaskInstanceState } from '../../machines/index.ts';
import { StoreRowError, type StoredRowTable } from './errors.ts';
import type { LoadedRun } from './queries.ts';
import type { StoredResult } from './resultRecord.ts';
import type { StoredRun } from './runRecord.ts';
import { serializeValue } from './serialization.ts';
import type { StoredTaskInstance, TaskInstanceWrite } from './taskInstanceRecord.ts';

const runStates: ReadonlySet<string> = new Set(['queued', 'running', 'success', 'failed']);
const failureReasons: ReadonlySet<string> = new Set(['task_failure', 'all_tasks_deadlocked', 'cancelled', 'manual']);
const failureKinds: ReadonlySet<string> = new Set(['application', 'timeout', 'gate', 'infrastructure', 'interrupted', 'manual']);
const timerActions: ReadonlySet<string> = new Set(['retry', 'poke', 'trigger', 'trigger-timeout', 'resume']);

/**
 * States an instance reaches only through `SCHEDULE` (which makes the attempt number 1 or more):
 * an instance stored in one of them with attempt 0 never ran through the machine.
 */
const scheduledOrLater: ReadonlySet<string> = new Set([
  'scheduled',
  'queued',
  'running',
  'up_for_retry',
  'up_for_reschedule',
  'deferred',
  'restarting',
  'checkpointed',
]);

/**
 * A run's column values as SQLite and PostgreSQL store them, in their `runs` column order (run_id,
 * flow_id, input_fingerprint, state, reason, input, labels, task_ids, flow_hash, machine_version,
 * created_at, updated_at, started_at, ended_at), values serialized: one function, so the two
 * stores' rows cannot drift apart.
 */
export function runColumnValues(run: StoredRun): Array<string | number | null> {
  const text = (v: unknown): string | null => (v === undefined ? null : serializeValue(v));
  return [
    run.runId,
    run.flowId,
    run.inputFingerprint,
    run.state,
    run.reason,
    text(run.input),
    text(run.labels),
    encodeTaskIds(run.taskIds),
    run.flowHash ?? null,
    run.machineVersion,
    run.createdAt,
    run.updatedAt,
    run.startedAt ?? null,
    run.endedAt ?? null,
  ];
}

/** `runs.task_ids` as SQLite and PostgreSQL store it: a plain JSON array (readable and fixable by hand), NULL when unknown. */
export function encodeTaskIds(taskIds: StoredRun['taskIds']): string | null {
  return taskIds === undefined ? null : JSON.stringify(taskIds);
}

/**
 * `runs.task_ids` read back. Text that is not JSON is handed on as it is, for the row check to
 * refuse with the value in its message.
 */
export function decodeTaskIds(column: unknown): StoredRun['taskIds'] {
  if (column === null || column === undefined) return undefined;
  try {
    return JSON.parse(String(column)) as StoredRun['taskIds'];
  } catch {
    return column as StoredRun['taskIds'];
  }
}

/** What is wrong with one column of a record. */
export interface ColumnProblem {
  /** The column, as the SQLite and PostgreSQL tables name it. */
  readonly column: string;
  /** The value found. */
  readonly value: unknown;
  /** What is wrong, e.g. `is not a task-instance state`. */
  readonly problem: string;
}

/** Where the rows were read, for the error message: the store and the command that lists every bad row. */
export interface RowSource {
  /** E.g. `the store file "/srv/runs.db"`, `the memory store`. */
  readonly store: string;
  /** A command that lists every invalid row (`taskmachine check --store …`), when there is one. */
  readonly checkCommand?: string | undefined;
}

const isInteger = (value: unknown, min: number): boolean => typeof value === 'number' && Number.isSafeInteger(value) && value >= min;
const isTime = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value);
const isOptionalTime = (value: unknown): boolean => value === undefined || isTime(value);
const isNonEmptyString = (value: unknown): boolean => typeof value === 'string' && value.length > 0;

function problem(column: string, value: unknown, what: string): ColumnProblem {
  return { column, value, problem: what };
}

/**
 * The impossible attempt numbers of a task-instance record, or `undefined` when they are
 * possible: the lifecycle keeps `0 ≤ attempt ≤ maxAttempts`, `maxAttempts ≥ 1`, and an instance
 * that was ever scheduled has attempt 1 or more. Used for writes and for reads.
 */
export function attemptProblem(record: Pick<TaskInstanceWrite, 'state' | 'attempt' | 'maxAttempts' | 'retries'>): ColumnProblem | undefined {
  const { attempt, maxAttempts } = record;
  if (!isInteger(attempt, 0)) return problem('attempt', attempt, 'is not an integer ≥ 0');
  if (!isInteger(maxAttempts, 1)) return problem('max_attempts', maxAttempts, 'is not an integer ≥ 1');
  if (!isInteger(record.retries, 0)) return problem('retries', record.retries, 'is not an integer ≥ 0');
  if (attempt > maxAttempts) return problem('attempt', attempt, `is more than max_attempts (${maxAttempts}): the lifecycle never runs an attempt past the last one`);
  if (attempt === 0 && scheduledOrLater.has(record.state)) {
    return problem('attempt', attempt, `in state '${record.state}' is impossible: an instance reaches that state only once scheduled (attempt 1 or more)`);
  }
  return undefined;
}

/** The first invalid column of a run record, or `undefined`. */
export function runProblem(run: Omit<StoredRun, 'input'>): ColumnProblem | undefined {
  if (!isNonEmptyString(run.flowId)) return problem('flow_id', run.flowId, 'is not a non-empty string');
  if (typeof run.inputFingerprint !== 'string') return problem('input_fingerprint', run.inputFingerprint, 'is not a string');
  if (!runStates.has(run.state)) return problem('state', run.state, `is not a flow-run state (${[...runStates].join(', ')})`);
  if (run.reason !== null && !failureReasons.has(run.reason)) {
    return problem('reason', run.reason, `is not a failure reason (${[...failureReasons].join(', ')}) or NULL`);
  }
  if (typeof run.machineVersion !== 'string') return problem('machine_version', run.machineVersion, 'is not a string');
  if (run.taskIds !== undefined && (!Array.isArray(run.taskIds) || !run.taskIds.every(isNonEmptyString))) {
    return problem('task_ids', run.taskIds, 'is not a JSON array of task ids (non-empty strings) or NULL');
  }
  if (run.flowHash !== undefined && !isNonEmptyString(run.flowHash)) return problem('flow_hash', run.flowHash, 'is not a non-empty string or NULL');
  for (const [column, value] of [
    ['created_at', run.createdAt],
    ['updated_at', run.updatedAt],
  ] as const) {
    if (!isTime(value)) return problem(column, value, 'is not an epoch-ms number');
  }
  for (const [column, value] of [
    ['started_at', run.startedAt],
    ['ended_at', run.endedAt],
  ] as const) {
    if (!isOptionalTime(value)) return problem(column, value, 'is not an epoch-ms number or NULL');
  }
  return undefined;
}

/** The first invalid column of a task-instance record, or `undefined`. */
export function instanceProblem(instance: StoredTaskInstance): ColumnProblem | undefined {
  if (!isNonEmptyString(instance.taskId)) return problem('task_id', instance.taskId, 'is not a non-empty string');
  if (!isTaskInstanceState(instance.state)) return problem('state', instance.state, 'is not a task-instance state');
  if (instance.manuallySetFrom !== null && !isTaskInstanceState(instance.manuallySetFrom)) {
    return problem('manually_set_from', instance.manuallySetFrom, 'is not a task-instance state or NULL');
  }
  const attempts = attemptProblem(instance);
  if (attempts !== undefined) return attempts;
  if (!isInteger(instance.version, 1)) return problem('version', instance.version, 'is not an integer ≥ 1');
  if (!isInteger(instance.interruptions, 0)) return problem('interruptions', instance.interruptions, 'is not an integer ≥ 0');
  if (!isInteger(instance.maxInterruptions, 0)) return problem('max_interruptions', instance.maxInterruptions, 'is not an integer ≥ 0');
  if (instance.mapIndex !== undefined && !isInteger(instance.mapIndex, 0)) return problem('map_index', instance.mapIndex, 'is not an integer ≥ 0 or NULL');
  if (typeof instance.machineVersion !== 'string') return problem('machine_version', instance.machineVersion, 'is not a string');
  if (instance.failureKind !== undefined && !failureKinds.has(instance.failureKind)) {
    return problem('failure_kind', instance.failureKind, `is not a failure kind (${[...failureKinds].join(', ')}) or NULL`);
  }
  if (instance.timer !== undefined) {
    if (!isTime(instance.timer.deadline)) return problem('timer_deadline', instance.timer.deadline, 'is not an epoch-ms number');
    if (!timerActions.has(instance.timer.action)) {
      return problem('timer_action', instance.timer.action, `is not a timer action (${[...timerActions].join(', ')})`);
    }
  }
  for (const [column, value] of [
    ['created_at', instance.createdAt],
    ['updated_at', instance.updatedAt],
  ] as const) {
    if (!isTime(value)) return problem(column, value, 'is not an epoch-ms number');
  }
  for (const [column, value] of [
    ['started_at', instance.startedAt],
    ['ended_at', instance.endedAt],
  ] as const) {
    if (!isOptionalTime(value)) return problem(column, value, 'is not an epoch-ms number or NULL');
  }
  return undefined;
}

/** A task id that is not in the run's task list. */
function taskIdProblem(taskId: string, taskIds: ReadonlySet<string>): ColumnProblem | undefined {
  if (taskIds.has(taskId)) return undefined;
  const list = [...taskIds];
  const shown = list.length > 10 ? `${list.slice(0, 10).join(', ')}, … (${list.length} in all)` : list.join(', ');
  return problem('task_id', taskId, `is not in the run's task list (runs.task_ids: ${shown || 'none'})`);
}

/** The first invalid column of a result record, or `undefined`. */
export function resultProblem(result: StoredResult): ColumnProblem | undefined {
  if (!isNonEmptyString(result.key)) return problem('key', result.key, 'is not a non-empty string');
  if (!isInteger(result.attempt, 1)) return problem('attempt', result.attempt, 'is not an integer ≥ 1');
  if (!isTime(result.at)) return problem('at', result.at, 'is not an epoch-ms number');
  return undefined;
}

/** A value as the message shows it: strings quoted, everything else as JSON would write it. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'NULL';
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** The error for an invalid row. */
export function rowError(
  source: RowSource,
  row: { table: StoredRowTable; runId: string; key?: string | undefined; taskId?: string | undefined },
  found: ColumnProblem,
): StoreRowError {
  const which =
    row.table === 'task_instances' && row.key === undefined
      ? `${row.taskId === undefined ? 'a task instance' : `a task instance of task '${row.taskId}'`} in run '${row.runId}'`
      : row.table === 'runs'
      ? `run '${row.runId}'`
      : row.table === 'run_shapes'
        ? `the shape of run '${row.runId}'`
      : row.table === 'results'
        ? `the result record of '${row.key}' in run '${row.runId}'`
        : `task instance '${row.key}' of run '${row.runId}'`;
  const list = source.checkCommand === undefined ? '' : ` '${source.checkCommand}' lists every invalid row.`;
  return new StoreRowError({
    ...row,
    column: found.column,
    value: found.value,
    message:
      `Invalid row in ${source.store}: ${which} (table ${row.table}), column ${found.column} = ${showValue(found.value)} ${found.problem}. ` +
      'The row was refused, not used: it was changed by hand or by another program, or the store is damaged. ' +
      `Restore the store from a backup, or correct the row.${list}`,
  });
}

/**
 * Checks the state of counted task instances (a count by state has no row keys): a state that is
 * not a task instance state is a `StoreRowError` naming the run and task, never left out.
 */
export function checkedCountState(source: RowSource, runId: string, taskId: string | undefined, state: string): TaskInstanceState {
  if (isTaskInstanceState(state)) return state;
  throw rowError(source, { table: 'task_instances', runId, taskId }, { column: 'state', value: state, problem: 'is not a task-instance state' });
}

/** The run record, or a `StoreRowError` naming its first invalid column. */
export function checkedRun<T extends Omit<StoredRun, 'input'>>(run: T, source: RowSource): T {
  const found = runProblem(run);
  if (found !== undefined) throw rowError(source, { table: 'runs', runId: run.runId }, found);
  return run;
}

/** One invalid row: which row, and its first invalid column. */
export interface RowProblem extends ColumnProblem {
  readonly table: StoredRowTable;
  readonly runId: string;
  /** The task-instance key (`undefined` for a `runs` row). */
  readonly key: string | undefined;
}

/** Every invalid row of a loaded run (at most one problem per row: its first invalid column), in table order. */
export function loadedRunProblems(loaded: LoadedRun): RowProblem[] {
  const { run } = loaded;
  const runId = run.runId;
  const problems: RowProblem[] = [];
  const ofRun = runProblem(run);
  if (ofRun !== undefined) problems.push({ table: 'runs', runId, key: undefined, ...ofRun });
  // An invalid task list checks nothing (its own problem is reported above).
  const taskIds = ofRun === undefined && run.taskIds !== undefined ? new Set(run.taskIds) : undefined;
  for (const instance of loaded.instances) {
    const found = instanceProblem(instance) ?? (taskIds === undefined ? undefined : taskIdProblem(instance.taskId, taskIds));
    if (found !== undefined) problems.push({ table: 'task_instances', runId, key: instance.key, ...found });
  }
  for (const result of loaded.results) {
    const found = resultProblem(result);
    if (found !== undefined) problems.push({ table: 'results', runId, key: result.key, ...found });
  }
  return problems;
}

/**
 * The loaded run, or a `StoreRowError` naming its first invalid row: the run record, then every
 * task instance, then every result record.
 */
export function checkedLoadedRun(loaded: LoadedRun, source: RowSource): LoadedRun {
  const [first] = loadedRunProblems(loaded);
  if (first !== undefined) throw rowError(source, first, first);
  return loaded;
}

/**
 * A page of task instances, or a `StoreRowError` naming the first invalid one (their columns; the
 * task id against the run's list is checked where the run is loaded whole).
 */
export function checkedInstances<T extends readonly StoredTaskInstance[]>(runId: string, instances: T, source: RowSource): T {
  for (const instance of instances) {
    const found = instanceProblem(instance);
    if (found !== undefined) throw rowError(source, { table: 'task_instances', runId, key: instance.key }, found);
  }
  return instances;
}
