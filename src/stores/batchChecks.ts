// Internal helpers shared by the store implementations: argument checks that run before anything
// is written, and builders that give every record the same shape whichever store returns it.
import { isTaskInstanceState } from '../../machines/index.ts';
import { RunOwnedError } from '../errors.ts';
import type { CommitBatch } from './batch.ts';
import type { CheckpointWrite } from './checkpointRecord.ts';
import type { ControlRequestWrite } from './controlRecord.ts';
import type { LeaseGrant, LeaseRequest, StoredLease } from './leaseRecord.ts';
import type { ListRunsOptions } from './queries.ts';
import { LeaseLostError, StoreError } from './errors.ts';
import { attemptProblem, showValue } from './rowChecks.ts';
import type { StoredRun } from './runRecord.ts';
import type { StoredTaskInstance, TaskInstanceWrite } from './taskInstanceRecord.ts';
import { checkLogs, checkShape } from './shapeAndLogChecks.ts';

const runStates: ReadonlySet<string> = new Set(['queued', 'running', 'success', 'failed']);
const timerActions: ReadonlySet<string> = new Set(['retry', 'poke', 'trigger', 'trigger-timeout', 'resume']);

function invalid(what: string): StoreError {
  return new StoreError(`Invalid store write: ${what}. Nothing was written.`);
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

function isVersion(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isTime(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value);
}

function checkTime(value: unknown, what: string): void {
  if (!isTime(value)) throw invalid(`${what} must be an epoch-ms number, got ${String(value)}`);
}

function checkOptionalTime(value: unknown, what: string): void {
  if (value !== undefined) checkTime(value, what);
}

/** `null`, `an array`, `a Map`, `number`, … for error messages. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `a ${(value.constructor as { name?: string } | undefined)?.name ?? 'non-plain object'}`;
  return typeof value;
}

/**
 * Checks a string map (`labels`, `customContext`): `undefined`, or a plain object whose every own
 * value is a string. (Forbidden keys are left to the serializer, which refuses them everywhere.)
 */
function checkOptionalStringRecord(value: unknown, what: string): void {
  if (value === undefined) return;
  const proto: unknown = typeof value === 'object' && value !== null ? Object.getPrototypeOf(value) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw invalid(`${what} must be a plain object of strings or undefined, got ${describe(value)}`);
  }
  for (const [key, v] of Object.entries(value as object)) {
    if (typeof v !== 'string') {
      throw invalid(`${what}[${JSON.stringify(key)}] must be a string, got ${v === null ? 'null' : typeof v} (convert it with String())`);
    }
  }
}

/** Checks a run record's fields (types the compiler cannot vouch for at run time). */
export function checkRun(run: StoredRun): void {
  if (!isNonEmptyString(run.runId)) throw invalid('run.runId must be a non-empty string');
  if (!isNonEmptyString(run.flowId)) throw invalid(`run '${run.runId}': flowId must be a non-empty string`);
  if (typeof run.inputFingerprint !== 'string') throw invalid(`run '${run.runId}': inputFingerprint must be a string`);
  if (!runStates.has(run.state)) throw invalid(`run '${run.runId}': state '${String(run.state)}' is not a flow-run state`);
  checkTime(run.createdAt, `run '${run.runId}': createdAt`);
  checkTime(run.updatedAt, `run '${run.runId}': updatedAt`);
  checkOptionalTime(run.startedAt, `run '${run.runId}': startedAt`);
  checkOptionalTime(run.endedAt, `run '${run.runId}': endedAt`);
  checkOptionalStringRecord(run.labels, `run '${run.runId}': labels`);
  if (run.taskIds !== undefined && (!Array.isArray(run.taskIds) || !run.taskIds.every(isNonEmptyString))) {
    throw invalid(`run '${run.runId}': taskIds must be an array of task ids (non-empty strings) or undefined`);
  }
  if (run.flowHash !== undefined && !isNonEmptyString(run.flowHash)) throw invalid(`run '${run.runId}': flowHash must be a non-empty string or undefined`);
}

const countFields = ['attempt', 'maxAttempts', 'retries', 'interruptions', 'maxInterruptions'] as const;

/** Where a task-instance record is, for an error message (made only when a check fails). */
function instanceWhere(runId: string, record: TaskInstanceWrite): string {
  return `task instance '${String(record.key)}' of run '${runId}'`;
}

// Per record of a batch (thousands per commit): each test is made first and the message only
// when it fails — building `where` strings for every valid record was most of this function's cost.
function checkInstance(runId: string, record: TaskInstanceWrite): void {
  if (!isNonEmptyString(record.key)) throw invalid(`a task-instance key in run '${runId}' must be a non-empty string`);
  if (!isNonEmptyString(record.taskId)) throw invalid(`${instanceWhere(runId, record)}: taskId must be a non-empty string`);
  if (!isTaskInstanceState(record.state)) throw invalid(`${instanceWhere(runId, record)}: state '${String(record.state)}' is not a task-instance state`);
  if (record.manuallySetFrom !== null && !isTaskInstanceState(record.manuallySetFrom)) {
    throw invalid(`${instanceWhere(runId, record)}: manuallySetFrom must be a task-instance state or null`);
  }
  for (const field of countFields) {
    if (!isVersion(record[field])) throw invalid(`${instanceWhere(runId, record)}: ${field} must be a non-negative integer`);
  }
  // The invariants a read refuses (rowChecks.ts) are refused on write too: a record the store
  // would not give back must never be stored.
  const attempts = attemptProblem(record);
  if (attempts !== undefined) {
    const field = attempts.column === 'max_attempts' ? 'maxAttempts' : attempts.column;
    throw invalid(`${instanceWhere(runId, record)}: ${field} ${showValue(attempts.value)} ${attempts.problem}`);
  }
  if (record.mapIndex !== undefined && !isVersion(record.mapIndex)) throw invalid(`${instanceWhere(runId, record)}: mapIndex must be a non-negative integer`);
  if (!isTime(record.createdAt)) checkTime(record.createdAt, `${instanceWhere(runId, record)}: createdAt`);
  if (!isTime(record.updatedAt)) checkTime(record.updatedAt, `${instanceWhere(runId, record)}: updatedAt`);
  if (record.startedAt !== undefined && !isTime(record.startedAt)) checkTime(record.startedAt, `${instanceWhere(runId, record)}: startedAt`);
  if (record.endedAt !== undefined && !isTime(record.endedAt)) checkTime(record.endedAt, `${instanceWhere(runId, record)}: endedAt`);
  if (record.timer !== undefined) {
    checkTime(record.timer.deadline, `${instanceWhere(runId, record)}: timer.deadline`);
    if (!timerActions.has(record.timer.action)) throw invalid(`${instanceWhere(runId, record)}: timer.action '${String(record.timer.action)}' is unknown`);
  }
  if (record.error !== undefined && !(record.error instanceof Error)) throw invalid(`${instanceWhere(runId, record)}: error must be an Error`);
  if (record.customContext !== undefined) checkOptionalStringRecord(record.customContext, `${instanceWhere(runId, record)}: customContext`);
}

/** Checks a whole batch before anything of it is serialized or written. */
export function checkBatch(batch: CommitBatch): void {
  const { runId } = batch;
  if (!isNonEmptyString(runId)) throw invalid('batch.runId must be a non-empty string');
  if (batch.run !== undefined) {
    checkRun(batch.run);
    if (batch.run.runId !== runId) throw invalid(`batch.run.runId '${batch.run.runId}' differs from batch.runId '${runId}'`);
  }
  for (const del of batch.deleteInstances ?? []) {
    if (!isNonEmptyString(del.key)) throw invalid(`a deleted key in run '${runId}' must be a non-empty string`);
    if (!isVersion(del.expectedVersion) || del.expectedVersion < 1) {
      throw invalid(`deleting '${del.key}' in run '${runId}': expectedVersion must be an integer ≥ 1 (the version last read)`);
    }
  }
  for (const upsert of batch.instances ?? []) {
    checkInstance(runId, upsert.record);
    if (upsert.expectedVersion !== undefined && !isVersion(upsert.expectedVersion)) {
      throw invalid(`task instance '${upsert.record.key}' of run '${runId}': expectedVersion must be a non-negative integer`);
    }
  }
  for (const t of batch.transitions ?? []) {
    if (!isNonEmptyString(t.key)) throw invalid(`a transition key in run '${runId}' must be a non-empty string`);
    if (!isTaskInstanceState(t.from) || !isTaskInstanceState(t.to)) {
      throw invalid(`transition of '${t.key}' in run '${runId}': from/to must be task-instance states`);
    }
    if (!isNonEmptyString(t.event)) throw invalid(`transition of '${t.key}' in run '${runId}': event must be an event type`);
    if (!isTime(t.at)) checkTime(t.at, `transition of '${t.key}' in run '${runId}': at`);
  }
  for (const r of batch.results ?? []) {
    if (!isNonEmptyString(r.key)) throw invalid(`a result key in run '${runId}' must be a non-empty string`);
    if (!isVersion(r.attempt) || r.attempt < 1) throw invalid(`result of '${r.key}' in run '${runId}': attempt must be an integer ≥ 1`);
    if (!isTime(r.at)) checkTime(r.at, `result of '${r.key}' in run '${runId}': at`);
  }
  checkShape(runId, batch.shape);
  checkLogs(runId, batch.logs);
  for (const c of batch.controls ?? []) {
    if (!isVersion(c.id) || c.id < 1) throw invalid(`a control settlement in run '${runId}': id must be an integer ≥ 1`);
    if (c.status !== 'applied' && c.status !== 'refused') throw invalid(`control request ${c.id} of run '${runId}': status must be 'applied' or 'refused'`);
    if (typeof c.message !== 'string') throw invalid(`control request ${c.id} of run '${runId}': message must be a string`);
    checkTime(c.at, `control request ${c.id} of run '${runId}': at`);
  }
  if (batch.leaseToken !== undefined && (!isVersion(batch.leaseToken) || batch.leaseToken < 1)) {
    throw invalid(`batch.leaseToken of run '${runId}' must be an integer ≥ 1`);
  }
}

/** Checks a lease request before anything is read or written. */
export function checkLeaseRequest(request: LeaseRequest): void {
  if (!isNonEmptyString(request.runId)) throw invalid('lease request: runId must be a non-empty string');
  const { owner } = request;
  if (owner === null || typeof owner !== 'object' || !isNonEmptyString(owner.ownerId) || typeof owner.host !== 'string' || !Number.isSafeInteger(owner.pid)) {
    throw invalid(`lease request for run '${request.runId}': owner must be { ownerId, host, pid }`);
  }
  if (!(typeof request.ttlMs === 'number' && request.ttlMs > 0 && Number.isFinite(request.ttlMs))) {
    throw invalid(`lease request for run '${request.runId}': ttlMs must be a positive number of ms`);
  }
  checkTime(request.now, `lease request for run '${request.runId}': now`);
}

/**
 * What acquiring a lease does, given the run's current lease: granted (a new token when the owner
 * changes; the same token, renewed, for its own owner), or refused with `RunOwnedError` when
 * another owner's lease is live at `request.now`.
 */
export function decideLease(current: StoredLease | undefined, request: LeaseRequest): LeaseGrant {
  const { runId, owner, ttlMs, now } = request;
  const live = current !== undefined && current.releasedAt === undefined && current.expiresAt > now;
  const sameOwner = current !== undefined && current.releasedAt === undefined && current.owner.ownerId === owner.ownerId;
  const replacing = request.replace !== undefined && current !== undefined && request.replace.token === current.token;
  if (live && !sameOwner && !replacing) {
    throw new RunOwnedError({ runId, owner: current.owner, heartbeatAt: current.heartbeatAt, expiresAt: current.expiresAt, now });
  }
  const token = sameOwner ? current.token : (current?.token ?? 0) + 1;
  const lease: StoredLease = {
    runId,
    owner: { ownerId: owner.ownerId, host: owner.host, pid: owner.pid },
    token,
    acquiredAt: sameOwner ? current.acquiredAt : now,
    heartbeatAt: now,
    expiresAt: now + ttlMs,
    releasedAt: undefined,
  };
  const tookOverFrom = current !== undefined && current.releasedAt === undefined && !sameOwner ? current : undefined;
  return { lease, tookOverFrom };
}

/** Refuses a write whose lease token is not the run's current, held lease (`LeaseLostError`). */
export function checkFence(runId: string, token: number | undefined, current: StoredLease | undefined): void {
  if (token === undefined) return;
  if (current === undefined || current.releasedAt !== undefined || current.token !== token) {
    throw new LeaseLostError({ runId, token, current });
  }
}

/** Checks a control request before it is stored. */
export function checkControlRequest(request: ControlRequestWrite): void {
  if (!isNonEmptyString(request.runId)) throw invalid('control request: runId must be a non-empty string');
  const actions = ['set-state', 'clear', 'resume-task', 'send-event', 'cancel'];
  if (!actions.includes(request.action)) throw invalid(`control request for run '${request.runId}': action must be one of ${actions.join(', ')}`);
  if (request.action !== 'cancel' && !isNonEmptyString(request.taskKey)) {
    throw invalid(`control request '${request.action}' for run '${request.runId}': taskKey must be a non-empty string`);
  }
  if (request.action === 'set-state' && request.state !== 'success' && request.state !== 'failed' && request.state !== 'skipped') {
    throw invalid(`control request 'set-state' for run '${request.runId}': state must be success, failed or skipped`);
  }
  checkTime(request.requestedAt, `control request for run '${request.runId}': requestedAt`);
}

/** Checks a checkpoint before it is saved. */
export function checkCheckpoint(checkpoint: CheckpointWrite): void {
  if (!isNonEmptyString(checkpoint.runId)) throw invalid('checkpoint.runId must be a non-empty string');
  if (!isNonEmptyString(checkpoint.key)) throw invalid(`checkpoint.key in run '${checkpoint.runId}' must be a non-empty string`);
  checkTime(checkpoint.savedAt, `checkpoint of '${checkpoint.key}' in run '${checkpoint.runId}': savedAt`);
}

/** Checks the options of `listRuns`. */
export function checkListRunsOptions(options: ListRunsOptions): void {
  const { limit } = options;
  if (limit !== undefined && (typeof limit !== 'number' || Number.isNaN(limit) || limit < 0)) {
    throw new StoreError(`listRuns: limit must be a non-negative number (or Infinity), got ${String(limit)}.`);
  }
}

/** A run record with exactly the documented fields, in a fixed order. */
export function runRecord(run: StoredRun): StoredRun {
  return {
    runId: run.runId,
    flowId: run.flowId,
    inputFingerprint: run.inputFingerprint,
    state: run.state,
    reason: run.reason,
    input: run.input,
    labels: run.labels,
    taskIds: run.taskIds === undefined ? undefined : [...run.taskIds],
    flowHash: run.flowHash,
    machineVersion: run.machineVersion,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
  };
}

/** A stored task instance with exactly the documented fields, in a fixed order. */
export function instanceRecord(runId: string, record: TaskInstanceWrite, version: number): StoredTaskInstance {
  return {
    runId,
    key: record.key,
    taskId: record.taskId,
    mapIndex: record.mapIndex,
    parentKey: record.parentKey,
    callInput: record.callInput,
    customContext: record.customContext,
    state: record.state,
    attempt: record.attempt,
    maxAttempts: record.maxAttempts,
    retries: record.retries,
    manuallySetFrom: record.manuallySetFrom,
    deferTimedOut: record.deferTimedOut,
    version,
    machineVersion: record.machineVersion,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    startedAt: record.startedAt,
    endedAt: record.endedAt,
    failureKind: record.failureKind,
    error: record.error,
    parked: record.parked,
    awaitsEvent: record.awaitsEvent,
    interruptions: record.interruptions,
    maxInterruptions: record.maxInterruptions,
    timer: record.timer === undefined ? undefined : { deadline: record.timer.deadline, action: record.timer.action },
    resumeData: record.resumeData,
    eventPayload: record.eventPayload,
  };
}

/** The error every method of a closed store rejects with. */
export function closedError(store: string): StoreError {
  return new StoreError(`The ${store} is closed: create a new one to read or write runs.`);
}

/** The error of a write to a run that does not exist. */
export function unknownRunError(runId: string, what: string): StoreError {
  return new StoreError(
    `Cannot ${what}: run '${runId}' does not exist in the store. Create it first (a commit whose batch has ` +
      '`run`). Nothing was written.',
  );
}
