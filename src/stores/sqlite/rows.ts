// How the SQLite store's rows map to records: the column lists and the decoders, shared by the
// store and by the read-only check of a store file (checkFile.ts).
import type * as sqlite from 'node:sqlite';
import type { FlowRunFailureReason, FlowRunState, TaskInstanceState } from '../../../machines/index.ts';
import { decodeTaskIds } from '../rowChecks.ts';
import type { StoredRun } from '../runRecord.ts';
import { deserializeValue, serializeValue } from '../serialization.ts';
import type { StoredFailureKind, StoredTaskInstance, TimerAction } from '../taskInstanceRecord.ts';

/** A row as node:sqlite returns it. */
export type Row = Record<string, sqlite.SQLOutputValue>;

export const str = (value: sqlite.SQLOutputValue): string => value as string;
export const num = (value: sqlite.SQLOutputValue): number => value as number;
export const optNum = (value: sqlite.SQLOutputValue): number | undefined => (value === null ? undefined : (value as number));
export const optStr = (value: sqlite.SQLOutputValue): string | undefined => (value === null ? undefined : (value as string));
export const value = (text: sqlite.SQLOutputValue): unknown => (text === null ? undefined : deserializeValue(text as string));
export const text = (v: unknown): string | null => (v === undefined ? null : serializeValue(v));
export const nullable = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

/** The columns of `runs`, in the order `runParamsOf` writes them. */
export const runColumns =
  'run_id, flow_id, input_fingerprint, state, reason, input, labels, task_ids, flow_hash, machine_version, created_at, updated_at, started_at, ended_at';

/** A `runs` row as a run record (not yet validated: see rowChecks.ts). */
export function rowToRun(row: Row): StoredRun {
  return {
    runId: str(row['run_id']!),
    flowId: str(row['flow_id']!),
    inputFingerprint: str(row['input_fingerprint']!),
    state: str(row['state']!) as FlowRunState,
    reason: (row['reason'] ?? null) as FlowRunFailureReason | null,
    input: value(row['input'] ?? null),
    labels: value(row['labels'] ?? null) as StoredRun['labels'],
    taskIds: decodeTaskIds(row['task_ids'] ?? null),
    flowHash: optStr(row['flow_hash'] ?? null),
    machineVersion: str(row['machine_version']!),
    createdAt: num(row['created_at']!),
    updatedAt: num(row['updated_at']!),
    startedAt: optNum(row['started_at'] ?? null),
    endedAt: optNum(row['ended_at'] ?? null),
  };
}

/** The columns of `task_instances`, in the order `instanceParams` writes them. */
export const instanceColumns =
  'run_id, key, task_id, map_index, parent_key, call_input, custom_context, state, attempt, max_attempts, retries, manually_set_from, defer_timed_out, ' +
  'version, machine_version, created_at, updated_at, started_at, ended_at, failure_kind, error, parked, waiting_for_event, ' +
  'timer_deadline, timer_action, resume_data, event_payload, interruptions, max_interruptions';

/** A `task_instances` row as a task-instance record (not yet validated: see rowChecks.ts). */
export function rowToInstance(row: Row): StoredTaskInstance {
  const deadline = optNum(row['timer_deadline']!);
  return {
    runId: str(row['run_id']!),
    key: str(row['key']!),
    taskId: str(row['task_id']!),
    mapIndex: optNum(row['map_index']!),
    parentKey: optStr(row['parent_key']!),
    callInput: value(row['call_input']!),
    customContext: value(row['custom_context']!) as StoredTaskInstance['customContext'],
    state: str(row['state']!) as TaskInstanceState,
    attempt: num(row['attempt']!),
    maxAttempts: num(row['max_attempts']!),
    retries: num(row['retries']!),
    manuallySetFrom: (row['manually_set_from'] ?? null) as TaskInstanceState | null,
    deferTimedOut: row['defer_timed_out'] === 1,
    version: num(row['version']!),
    machineVersion: str(row['machine_version']!),
    createdAt: num(row['created_at']!),
    updatedAt: num(row['updated_at']!),
    startedAt: optNum(row['started_at']!),
    endedAt: optNum(row['ended_at']!),
    failureKind: optStr(row['failure_kind']!) as StoredFailureKind | undefined,
    error: value(row['error']!) as Error | undefined,
    parked: row['parked'] === 1,
    awaitsEvent: row['waiting_for_event'] === 1,
    timer: deadline === undefined ? undefined : { deadline, action: str(row['timer_action']!) as TimerAction },
    resumeData: value(row['resume_data']!),
    eventPayload: value(row['event_payload']!),
    interruptions: num(row['interruptions']!),
    maxInterruptions: num(row['max_interruptions']!),
  };
}
