// How the PostgreSQL store's rows map to records and back: the decoders of what reads return, the
// column values a commit sends (in the column order of sql.ts), and the refusal of U+0000, which
// PostgreSQL text cannot hold.
import {
  type FlowRunFailureReason,
  type FlowRunState,
  type TaskInstanceEventType,
  type TaskInstanceState,
} from '../../../machines/index.ts';
import type { ControlAction, ControlStatus, StoredControlRequest } from '../controlRecord.ts';
import { StoreError } from '../errors.ts';
import type { StoredLease } from '../leaseRecord.ts';
import type { RunSummary } from '../queries.ts';
import type { StoredResult } from '../resultRecord.ts';
import { checkedCountState, checkedRun, decodeTaskIds, type RowSource } from '../rowChecks.ts';
import type { StoredRun } from '../runRecord.ts';
import { serializeValue } from '../serialization.ts';
import { deserializeColumn } from '../storedColumn.ts';
import type { StoredFailureKind, StoredTaskInstance, TimerAction } from '../taskInstanceRecord.ts';
import type { StoredTaskLogLine } from '../taskLogRecord.ts';
import type { StoredTransition } from '../transitionLog.ts';
import { instanceColumns, type Row } from './sql.ts';

// node-postgres gives bigint columns as strings and SQL NULL as null; records want numbers and
// undefined. Values are stored as superjson text (see migrations.ts).
export const num = (v: unknown): number => Number(v);
export const optNum = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));
export const optStr = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));
/** A stored value (`where`: the row and column, for the error if it cannot be read back). */
export const value = (v: unknown, where: string): unknown => (v === null || v === undefined ? undefined : deserializeColumn(v as string, where));
export const text = (v: unknown): string | null => (v === undefined ? null : serializeValue(v));
export const nullable = <T>(v: T | undefined): T | null => (v === undefined ? null : v);
/** PostgreSQL text cannot hold U+0000: writes holding it are refused, reads by it find nothing. */
export const hasNul = (s: unknown): boolean => typeof s === 'string' && s.includes('\u0000');

/** A `runs` row as a run record (not yet validated: see rowChecks.ts). */
export function rowToRun(row: Row): StoredRun {
  return {
    runId: String(row['run_id']),
    flowId: String(row['flow_id']),
    inputFingerprint: String(row['input_fingerprint']),
    state: row['state'] as FlowRunState,
    reason: (row['reason'] ?? null) as FlowRunFailureReason | null,
    input: value(row['input'], `run '${String(row['run_id'])}' (table runs), column input`),
    labels: value(row['labels'], `run '${String(row['run_id'])}' (table runs), column labels`) as StoredRun['labels'],
    taskIds: decodeTaskIds(row['task_ids']),
    flowHash: optStr(row['flow_hash']),
    machineVersion: String(row['machine_version']),
    createdAt: num(row['created_at']),
    updatedAt: num(row['updated_at']),
    startedAt: optNum(row['started_at']),
    endedAt: optNum(row['ended_at']),
  };
}

/** A `listRuns` row: the run without its input, its task counts (JSON) and its lease (columns `lease_…`). */
export function rowToSummary(row: Row, source: RowSource): RunSummary {
  const { input: _input, ...run } = checkedRun(rowToRun({ ...row, input: null }), source);
  const parsed = JSON.parse(String(row['counts'])) as Record<string, unknown>;
  const taskCounts: Partial<Record<TaskInstanceState, number>> = {};
  for (const [state, n] of Object.entries(parsed)) taskCounts[checkedCountState(source, run.runId, undefined, state)] = num(n);
  return { ...run, taskCounts, lease: rowToLease(row, 'lease_') };
}

/** A `task_instances` row as a record (not yet validated: see rowChecks.ts). */
export function rowToInstance(row: Row): StoredTaskInstance {
  const deadline = optNum(row['timer_deadline']);
  return {
    runId: String(row['run_id']),
    key: String(row['key']),
    taskId: String(row['task_id']),
    mapIndex: optNum(row['map_index']),
    parentKey: optStr(row['parent_key']),
    callInput: value(row['call_input'], `task instance '${String(row['key'])}' of run '${String(row['run_id'])}' (table task_instances), column call_input`),
    customContext: value(row['custom_context'], `task instance '${String(row['key'])}' of run '${String(row['run_id'])}' (table task_instances), column custom_context`) as StoredTaskInstance['customContext'],
    state: row['state'] as TaskInstanceState,
    attempt: num(row['attempt']),
    maxAttempts: num(row['max_attempts']),
    retries: num(row['retries']),
    manuallySetFrom: (row['manually_set_from'] ?? null) as TaskInstanceState | null,
    deferTimedOut: row['defer_timed_out'] === true,
    version: num(row['version']),
    machineVersion: String(row['machine_version']),
    createdAt: num(row['created_at']),
    updatedAt: num(row['updated_at']),
    startedAt: optNum(row['started_at']),
    endedAt: optNum(row['ended_at']),
    failureKind: optStr(row['failure_kind']) as StoredFailureKind | undefined,
    error: value(row['error'], `task instance '${String(row['key'])}' of run '${String(row['run_id'])}' (table task_instances), column error`) as Error | undefined,
    parked: row['parked'] === true,
    awaitsEvent: row['waiting_for_event'] === true,
    interruptions: num(row['interruptions']),
    maxInterruptions: num(row['max_interruptions']),
    timer: deadline === undefined ? undefined : { deadline, action: String(row['timer_action']) as TimerAction },
    resumeData: value(row['resume_data'], `task instance '${String(row['key'])}' of run '${String(row['run_id'])}' (table task_instances), column resume_data`),
    eventPayload: value(row['event_payload'], `task instance '${String(row['key'])}' of run '${String(row['run_id'])}' (table task_instances), column event_payload`),
  };
}

/** A `results` row of run `runId` (as `loadRun`'s JSON gives it). */
export function rowToResult(runId: string, r: Row): StoredResult {
  return { runId, key: String(r['key']), attempt: num(r['attempt']), value: value(r['value'], `the result record of '${String(r['key'])}' in run '${runId}' (table results), column value`), at: num(r['at']) };
}

/** A `transitions` row of run `runId`. */
export function rowToTransition(runId: string, row: Row): StoredTransition {
  return {
    runId,
    key: String(row['key']),
    seq: num(row['seq']),
    from: row['from_state'] as TaskInstanceState,
    to: row['to_state'] as TaskInstanceState,
    event: row['event'] as TaskInstanceEventType,
    at: num(row['at']),
  };
}

/** A `task_logs` row of run `runId`. */
export function rowToLogLine(runId: string, row: Row): StoredTaskLogLine {
  return {
    runId,
    seq: num(row['seq']),
    key: String(row['key']),
    taskId: String(row['task_id']),
    attempt: num(row['attempt']),
    at: num(row['at']),
    line: String(row['line']),
  };
}

/** The lease in `row` (its columns named `prefix` + column), or `undefined` when the row has none. */
export function rowToLease(row: Row, prefix = ''): StoredLease | undefined {
  const token = row[`${prefix}token`];
  if (token === null || token === undefined) return undefined;
  return {
    runId: String(row[`${prefix}run_id`]),
    owner: { ownerId: String(row[`${prefix}owner_id`]), host: String(row[`${prefix}host`]), pid: num(row[`${prefix}pid`]) },
    token: num(token),
    acquiredAt: num(row[`${prefix}acquired_at`]),
    heartbeatAt: num(row[`${prefix}heartbeat_at`]),
    expiresAt: num(row[`${prefix}expires_at`]),
    releasedAt: optNum(row[`${prefix}released_at`]),
  };
}

/** A lease's column values, in the order of `leaseColumns` (sql.ts) without released_at (a granted lease is held). */
export function leaseRow(lease: StoredLease): unknown[] {
  return [lease.runId, lease.owner.ownerId, lease.owner.host, lease.owner.pid, lease.token, lease.acquiredAt, lease.heartbeatAt, lease.expiresAt];
}

/** A `control_requests` row as a record, without the optional fields it does not have. */
export function rowToControl(row: Row): StoredControlRequest {
  const taskKey = optStr(row['task_key']);
  const state = optStr(row['state']);
  const requestedBy = optStr(row['requested_by']);
  return {
    id: num(row['id']),
    runId: String(row['run_id']),
    action: String(row['action']) as ControlAction,
    ...(taskKey !== undefined ? { taskKey } : {}),
    ...(state !== undefined ? { state: state as NonNullable<StoredControlRequest['state']> } : {}),
    ...(row['payload'] !== null && row['payload'] !== undefined ? { payload: value(row['payload'], `control request ${num(row['id'])} of run '${String(row['run_id'])}' (table control_requests), column payload`) } : {}),
    requestedAt: num(row['requested_at']),
    ...(requestedBy !== undefined ? { requestedBy } : {}),
    status: String(row['status']) as ControlStatus,
    message: optStr(row['message']),
    settledAt: optNum(row['settled_at']),
  };
}

/** The instance's column values, in `instanceColumns` order (values serialized; version set later). */
export function instanceRow(record: StoredTaskInstance): unknown[] {
  const byColumn: Record<(typeof instanceColumns)[number][0], unknown> = {
    key: record.key,
    task_id: record.taskId,
    map_index: nullable(record.mapIndex),
    parent_key: nullable(record.parentKey),
    call_input: text(record.callInput),
    custom_context: text(record.customContext),
    state: record.state,
    attempt: record.attempt,
    max_attempts: record.maxAttempts,
    retries: record.retries,
    manually_set_from: record.manuallySetFrom,
    defer_timed_out: record.deferTimedOut,
    version: 0,
    machine_version: record.machineVersion,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
    started_at: nullable(record.startedAt),
    ended_at: nullable(record.endedAt),
    failure_kind: nullable(record.failureKind),
    error: text(record.error),
    parked: record.parked,
    waiting_for_event: record.awaitsEvent,
    timer_deadline: record.timer === undefined ? null : record.timer.deadline,
    timer_action: record.timer === undefined ? null : record.timer.action,
    resume_data: text(record.resumeData),
    event_payload: text(record.eventPayload),
    interruptions: record.interruptions,
    max_interruptions: record.maxInterruptions,
  };
  return instanceColumns.map(([column]) => byColumn[column]);
}

/** The refusal of a write whose `what` holds U+0000, before anything is sent. */
export function nulError(what: string): StoreError {
  return new StoreError(
    `Invalid store write: ${what} contains the character U+0000 (NUL), which PostgreSQL cannot store in text. ` +
      'Remove it. Nothing was written.',
  );
}
