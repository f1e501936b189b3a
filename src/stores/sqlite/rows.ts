// How the SQLite store's rows map to records and back: the column lists, the decoders (shared by
// the store and by the read-only check of a store file, checkFile.ts) and the parameters a write
// binds.
import type * as sqlite from 'node:sqlite';
import type { FlowRunFailureReason, FlowRunState, TaskInstanceEventType, TaskInstanceState } from '../../../machines/index.ts';
import type { ControlAction, ControlStatus, StoredControlRequest } from '../controlRecord.ts';
import type { StoredLease } from '../leaseRecord.ts';
import type { StoredResult } from '../resultRecord.ts';
import { decodeTaskIds } from '../rowChecks.ts';
import type { StoredRun } from '../runRecord.ts';
import { serializeValue } from '../serialization.ts';
import { deserializeColumn } from '../storedColumn.ts';
import type { StoredFailureKind, StoredTaskInstance, TimerAction } from '../taskInstanceRecord.ts';
import type { StoredTaskLogLine } from '../taskLogRecord.ts';
import type { StoredTransition } from '../transitionLog.ts';

/** A row as node:sqlite returns it. */
export type Row = Record<string, sqlite.SQLOutputValue>;

export const str = (value: sqlite.SQLOutputValue): string => value as string;
export const num = (value: sqlite.SQLOutputValue): number => value as number;
export const optNum = (value: sqlite.SQLOutputValue): number | undefined => (value === null ? undefined : (value as number));
export const optStr = (value: sqlite.SQLOutputValue): string | undefined => (value === null ? undefined : (value as string));
/** A stored value (`where`: the row and column, for the error if it cannot be read back). */
export const value = (text: sqlite.SQLOutputValue, where: string): unknown => (text === null ? undefined : deserializeColumn(text as string, where));
export const text = (v: unknown): string | null => (v === undefined ? null : serializeValue(v));
export const nullable = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

/** The columns of `runs`, in the order `runColumnValues` (rowChecks.ts) writes them. */
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
    input: value(row['input'] ?? null, `run '${String(row['run_id'])}' (table runs), column input`),
    labels: value(row['labels'] ?? null, `run '${String(row['run_id'])}' (table runs), column labels`) as StoredRun['labels'],
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
    callInput: value(row['call_input']!, `task instance '${String(row['key'])}' of run '${String(row['run_id'])}' (table task_instances), column call_input`),
    customContext: value(row['custom_context']!, `task instance '${String(row['key'])}' of run '${String(row['run_id'])}' (table task_instances), column custom_context`) as StoredTaskInstance['customContext'],
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
    error: value(row['error']!, `task instance '${String(row['key'])}' of run '${String(row['run_id'])}' (table task_instances), column error`) as Error | undefined,
    parked: row['parked'] === 1,
    awaitsEvent: row['waiting_for_event'] === 1,
    timer: deadline === undefined ? undefined : { deadline, action: str(row['timer_action']!) as TimerAction },
    resumeData: value(row['resume_data']!, `task instance '${String(row['key'])}' of run '${String(row['run_id'])}' (table task_instances), column resume_data`),
    eventPayload: value(row['event_payload']!, `task instance '${String(row['key'])}' of run '${String(row['run_id'])}' (table task_instances), column event_payload`),
    interruptions: num(row['interruptions']!),
    maxInterruptions: num(row['max_interruptions']!),
  };
}

export const leaseColumns = 'run_id, owner_id, host, pid, token, acquired_at, heartbeat_at, expires_at, released_at';

/** A `leases` row as a lease record. */
export function rowToLease(row: Row): StoredLease {
  return {
    runId: str(row['run_id']!),
    owner: { ownerId: str(row['owner_id']!), host: str(row['host']!), pid: num(row['pid']!) },
    token: num(row['token']!),
    acquiredAt: num(row['acquired_at']!),
    heartbeatAt: num(row['heartbeat_at']!),
    expiresAt: num(row['expires_at']!),
    releasedAt: optNum(row['released_at'] ?? null),
  };
}

export const controlColumns = 'id, run_id, action, task_key, state, payload, requested_at, requested_by, status, message, settled_at';

/** A `control_requests` row as a record, without the optional fields it does not have. */
export function rowToControl(row: Row): StoredControlRequest {
  const taskKey = optStr(row['task_key'] ?? null);
  const state = optStr(row['state'] ?? null);
  const payload = row['payload'] ?? null;
  const requestedBy = optStr(row['requested_by'] ?? null);
  return {
    id: num(row['id']!),
    runId: str(row['run_id']!),
    action: str(row['action']!) as ControlAction,
    ...(taskKey !== undefined ? { taskKey } : {}),
    ...(state !== undefined ? { state: state as StoredControlRequest['state'] & string } : {}),
    ...(payload !== null ? { payload: value(payload, `control request ${num(row['id']!)} of run '${str(row['run_id']!)}' (table control_requests), column payload`) } : {}),
    requestedAt: num(row['requested_at']!),
    ...(requestedBy !== undefined ? { requestedBy } : {}),
    status: str(row['status']!) as ControlStatus,
    message: optStr(row['message'] ?? null),
    settledAt: optNum(row['settled_at'] ?? null),
  };
}

/** The task instance's parameters, in `instanceColumns` order (values serialized). */
export function instanceParams(record: StoredTaskInstance): sqlite.SQLInputValue[] {
  return [
    record.runId,
    record.key,
    record.taskId,
    nullable(record.mapIndex),
    nullable(record.parentKey),
    text(record.callInput),
    text(record.customContext),
    record.state,
    record.attempt,
    record.maxAttempts,
    record.retries,
    record.manuallySetFrom,
    record.deferTimedOut ? 1 : 0,
    record.version,
    record.machineVersion,
    record.createdAt,
    record.updatedAt,
    nullable(record.startedAt),
    nullable(record.endedAt),
    nullable(record.failureKind),
    text(record.error),
    record.parked ? 1 : 0,
    record.awaitsEvent ? 1 : 0,
    record.timer === undefined ? null : record.timer.deadline,
    record.timer === undefined ? null : record.timer.action,
    text(record.resumeData),
    text(record.eventPayload),
    record.interruptions,
    record.maxInterruptions,
  ];
}


/** A `results` row of run `runId`. */
export function rowToResult(runId: string, row: Row): StoredResult {
  return { runId, key: str(row['key']!), attempt: num(row['attempt']!), value: value(row['value']!, `the result record of '${str(row['key']!)}' in run '${runId}' (table results), column value`), at: num(row['at']!) };
}

/** A `transitions` row of run `runId`. */
export function rowToTransition(runId: string, row: Row): StoredTransition {
  return {
    runId,
    key: str(row['key']!),
    seq: num(row['seq']!),
    from: str(row['from_state']!) as TaskInstanceState,
    to: str(row['to_state']!) as TaskInstanceState,
    event: str(row['event']!) as TaskInstanceEventType,
    at: num(row['at']!),
  };
}

/** A `task_logs` row of run `runId`. */
export function rowToLogLine(runId: string, row: Row): StoredTaskLogLine {
  return {
    runId,
    seq: num(row['seq']!),
    key: str(row['key']!),
    taskId: str(row['task_id']!),
    attempt: num(row['attempt']!),
    at: num(row['at']!),
    line: str(row['line']!),
  };
}
