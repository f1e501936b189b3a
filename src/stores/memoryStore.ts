// The memory store: the whole Store contract on plain maps, for tests and for runs that need no
// durability. It stays over 400 lines for the same reason as the SQL stores: its ~25 methods share
// one closure (the maps, the closed flag), and it serializes values the way they do so that a flow
// tested on it behaves as on SQLite; its checks, rows and queries already live in shared files.
import type { TaskInstanceState } from '../../machines/index.ts';
import type { CommitBatch, CommitResult } from './batch.ts';
import {
  checkBatch,
  checkCheckpoint,
  checkControlRequest,
  checkFence,
  checkLeaseRequest,
  checkListRunsOptions,
  closedError,
  decideLease,
  instanceRecord,
  runRecord,
  unknownRunError,
} from './batchChecks.ts';
import type { CheckpointWrite, StoredCheckpoint } from './checkpointRecord.ts';
import type { ControlRequestWrite, StoredControlRequest } from './controlRecord.ts';
import { LeaseLostError, StoreConflictError, StoreError } from './errors.ts';
import type { LeaseGrant, LeaseRequest, StoredLease } from './leaseRecord.ts';
import type { ListRunsOptions, LoadedRun, ReadTransitionLogOptions, RunSummary } from './queries.ts';
import type { StoredResult } from './resultRecord.ts';
import type { StoredRun } from './runRecord.ts';
import { deserializeValue, serializeValue } from './serialization.ts';
import type { Store } from './store.ts';
import type { StoredTaskInstance } from './taskInstanceRecord.ts';
import type { StoredTransition } from './transitionLog.ts';
import { checkedCountState, checkedInstances, checkedLoadedRun, checkedRun, type RowSource } from './rowChecks.ts';
import type { FlowShape } from '../flow/flowShape.ts';
import { checkTaskLogQuery, encodeShape } from './shapeAndLogChecks.ts';
import type { StoredTaskLogLine, TaskLogQuery } from './taskLogRecord.ts';
import { checkTaskInstanceQuery, countsFromRows, cursorPosition, type TaskInstanceCounts, type TaskInstancePage, type TaskInstanceQuery } from './instanceQueries.ts';

interface MemoryInstance {
  readonly version: number;
  /** When the key was first written (a store-wide counter): the order pages follow. */
  readonly writeOrder: number;
  readonly state: TaskInstanceState;
  /** The record with its value fields (callInput, customContext, error, resumeData, eventPayload) left undefined: plain primitives. */
  readonly record: StoredTaskInstance;
  /** The value fields, serialized (`null` for undefined). */
  readonly callInputText: string | null;
  readonly customContextText: string | null;
  readonly errorText: string | null;
  readonly resumeDataText: string | null;
  readonly eventPayloadText: string | null;
}

interface MemoryResult {
  readonly key: string;
  readonly attempt: number;
  readonly at: number;
  readonly valueText: string;
}

interface MemoryRun {
  /** Creation order, to order runs created in the same millisecond. */
  readonly order: number;
  /** The fields `listRuns` filters and orders on. */
  meta: Pick<StoredRun, 'flowId' | 'state' | 'createdAt'>;
  /** The run record without its task list, as superjson text. */
  runText: string;
  /**
   * The run's task list as JSON text, apart: it grows with the run (10k ids for 10k tasks) and
   * holds only strings, which plain JSON keeps as they are (superjson would walk every id).
   */
  taskIdsText: string | undefined;
  readonly instances: Map<string, MemoryInstance>;
  readonly log: StoredTransition[];
  results: MemoryResult[];
  /** `resultId`s of `results`, for the duplicate check. */
  readonly resultIds: Set<string>;
  readonly checkpoints: Map<string, { readonly savedAt: number; readonly valueText: string }>;
  /** The run's shape as JSON text (`undefined`: none stored). */
  shapeText: string | undefined;
  /** Task log lines, in seq order (seq = index + 1). */
  readonly logs: StoredTaskLogLine[];
}

const runMeta = (run: StoredRun): MemoryRun['meta'] => ({ flowId: run.flowId, state: run.state, createdAt: run.createdAt });

const serializeOptional = (value: unknown): string | null => (value === undefined ? null : serializeValue(value));
const deserializeOptional = (text: string | null): unknown => (text === null ? undefined : deserializeValue(text));

/** A run record without its task list (kept apart as plain JSON, see `MemoryRun.taskIdsText`). */
function withoutTaskIds(run: StoredRun): Omit<StoredRun, 'taskIds'> {
  if (run.taskIds === undefined) return run;
  const { taskIds: _taskIds, ...rest } = run;
  return rest;
}

function toMemoryInstance(record: StoredTaskInstance): Omit<MemoryInstance, 'writeOrder'> {
  return {
    version: record.version,
    state: record.state,
    record: { ...record, callInput: undefined, customContext: undefined, error: undefined, resumeData: undefined, eventPayload: undefined },
    callInputText: serializeOptional(record.callInput),
    customContextText: serializeOptional(record.customContext),
    errorText: serializeOptional(record.error),
    resumeDataText: serializeOptional(record.resumeData),
    eventPayloadText: serializeOptional(record.eventPayload),
  };
}

function fromMemoryInstance(stored: MemoryInstance): StoredTaskInstance {
  const { record } = stored;
  return {
    ...record,
    callInput: deserializeOptional(stored.callInputText),
    customContext: deserializeOptional(stored.customContextText) as StoredTaskInstance['customContext'],
    error: deserializeOptional(stored.errorText) as Error | undefined,
    timer: record.timer === undefined ? undefined : { ...record.timer },
    resumeData: deserializeOptional(stored.resumeDataText),
    eventPayload: deserializeOptional(stored.eventPayloadText),
  };
}

const copyLease = (lease: StoredLease): StoredLease => ({ ...lease, owner: { ...lease.owner } });

const resultId = (key: string, attempt: number): string => `${attempt}\u0000${key}`;

// Every read is validated as the other stores' are, so all three answer a bad record alike (the
// memory store's records are checked on write, so only a bug could make one fail here).
const rows: RowSource = { store: 'the memory store' };

/**
 * A {@link Store} kept in memory, with the same semantics as `sqliteStore` (atomic batches,
 * compare-and-set, the same serializer): for tests and for runs that need no durability. Every
 * value is stored serialized, so callers can never mutate stored state through an object they
 * wrote or read. Nothing survives the process.
 *
 * @example
 * ```ts
 * import { runFlow } from 'taskmachine';
 * import { memoryStore } from 'taskmachine/stores';
 * const store = memoryStore();
 * await runFlow(etl, { runId: 'r1', store });
 * (await store.loadRun('r1'))?.instances.length;
 * ```
 */
export function memoryStore(): Store {
  const runs = new Map<string, MemoryRun>();
  const leases = new Map<string, StoredLease>();
  const controls = new Map<string, Map<number, string>>();
  let nextControlId = 1;
  let nextOrder = 0;
  let nextWrite = 0;
  let closed = false;

  function controlsOf(runId: string): Map<number, string> {
    let map = controls.get(runId);
    if (map === undefined) controls.set(runId, (map = new Map()));
    return map;
  }

  function readControl(text: string): StoredControlRequest {
    return deserializeValue<StoredControlRequest>(text);
  }

  function open(): void {
    if (closed) throw closedError('memory store');
  }

  function readRun(entry: MemoryRun): StoredRun {
    const run = deserializeValue<StoredRun>(entry.runText);
    return checkedRun(entry.taskIdsText === undefined ? run : { ...run, taskIds: JSON.parse(entry.taskIdsText) as string[] }, rows);
  }

  function summary(entry: MemoryRun): RunSummary {
    const { input: _input, ...rest } = readRun(entry);
    const counts: Partial<Record<TaskInstanceState, number>> = {};
    for (const instance of entry.instances.values()) counts[instance.state] = (counts[instance.state] ?? 0) + 1;
    const lease = leases.get(rest.runId);
    return { ...rest, taskCounts: counts, lease: lease === undefined ? undefined : copyLease(lease) };
  }

  return {
    async commit(batch: CommitBatch): Promise<CommitResult> {
      open();
      checkBatch(batch);
      const { runId } = batch;
      // Serialize everything first (as the SQLite store does): a value that cannot be stored fails
      // before anything is checked or changed.
      const run = batch.run === undefined ? undefined : runRecord(batch.run);
      const runText = run === undefined ? undefined : serializeValue(withoutTaskIds(run));
      const taskIdsText = run?.taskIds === undefined ? undefined : JSON.stringify(run.taskIds);
      const upserts = (batch.instances ?? []).map(({ record, expectedVersion = 0 }) => ({
        expectedVersion,
        prepared: toMemoryInstance(instanceRecord(runId, record, 0)),
      }));
      const resultTexts = (batch.results ?? []).map((r) => serializeValue(r.value));
      const shapeText = batch.shape === undefined ? undefined : encodeShape(batch.shape);

      checkFence(runId, batch.leaseToken, leases.get(runId));
      const entry = runs.get(runId);
      if (entry === undefined && run === undefined) throw unknownRunError(runId, 'commit the batch');
      const runControls = controls.get(runId);
      const settled = (batch.controls ?? []).map((c) => {
        const text = runControls?.get(c.id);
        const request = text === undefined ? undefined : readControl(text);
        if (request === undefined || request.status !== 'pending') {
          throw new StoreError(`Control request ${c.id} of run '${runId}' is not pending (${request === undefined ? 'no such request' : request.status}); nothing of the batch was written.`);
        }
        return { id: c.id, text: serializeValue({ ...request, status: c.status, message: c.message, settledAt: c.at }) };
      });

      // Stage every compare-and-set against the stored state plus the batch's earlier writes.
      const staged = new Map<string, MemoryInstance | null>();
      const current = (key: string): MemoryInstance | undefined => {
        const s = staged.get(key);
        if (s !== undefined) return s ?? undefined;
        return entry?.instances.get(key);
      };
      const deletedKeys = new Set<string>();
      for (const del of batch.deleteInstances ?? []) {
        const actual = current(del.key)?.version ?? 0;
        if (actual !== del.expectedVersion) {
          throw new StoreConflictError({ kind: 'version', runId, key: del.key, expectedVersion: del.expectedVersion, actualVersion: actual });
        }
        staged.set(del.key, null);
        deletedKeys.add(del.key);
      }
      const versions = new Map<string, number>();
      for (const { expectedVersion, prepared } of upserts) {
        const { key } = prepared.record;
        const actual = current(key)?.version ?? 0;
        if (actual !== expectedVersion) {
          throw new StoreConflictError({ kind: 'version', runId, key, expectedVersion, actualVersion: actual });
        }
        const version = actual + 1;
        staged.set(key, { ...prepared, version, writeOrder: current(key)?.writeOrder ?? nextWrite++, record: { ...prepared.record, version } });
        versions.set(key, version);
      }

      const seen = new Set<string>();
      const results: MemoryResult[] = [];
      for (const [index, r] of (batch.results ?? []).entries()) {
        const id = resultId(r.key, r.attempt);
        const stored = !deletedKeys.has(r.key) && entry?.resultIds.has(id) === true;
        if (stored || seen.has(id)) {
          const version = current(r.key)?.version ?? 0;
          throw new StoreConflictError({ kind: 'result', runId, key: r.key, attempt: r.attempt, expectedVersion: version, actualVersion: version });
        }
        seen.add(id);
        results.push({ key: r.key, attempt: r.attempt, at: r.at, valueText: resultTexts[index]! });
      }

      // Apply: nothing below can fail.
      let target = entry;
      if (target === undefined) {
        target = {
          order: nextOrder++,
          meta: runMeta(run!),
          runText: runText!,
          taskIdsText,
          instances: new Map(),
          log: [],
          results: [],
          resultIds: new Set(),
          checkpoints: new Map(),
          shapeText: undefined,
          logs: [],
        };
        runs.set(runId, target);
      } else if (run !== undefined) {
        target.meta = runMeta(run);
        target.runText = runText!;
        target.taskIdsText = taskIdsText;
      }
      for (const key of deletedKeys) {
        target.instances.delete(key);
        target.checkpoints.delete(key);
        for (const x of target.results) if (x.key === key) target.resultIds.delete(resultId(x.key, x.attempt));
        target.results = target.results.filter((x) => x.key !== key);
      }
      for (const [key, value] of staged) if (value !== null) target.instances.set(key, value);
      for (const t of batch.transitions ?? []) {
        target.log.push({ runId, key: t.key, seq: target.log.length + 1, from: t.from, to: t.to, event: t.event, at: t.at });
      }
      for (const r of results) {
        target.results.push(r);
        target.resultIds.add(resultId(r.key, r.attempt));
      }
      if (shapeText !== undefined) target.shapeText = shapeText;
      for (const l of batch.logs ?? []) {
        target.logs.push({ runId, seq: target.logs.length + 1, key: l.key, taskId: l.taskId, attempt: l.attempt, at: l.at, line: l.line });
      }
      for (const { id, text } of settled) controlsOf(runId).set(id, text);
      return { versions, lastSeq: target.log.length };
    },

    async getRun(runId: string): Promise<StoredRun | undefined> {
      open();
      const entry = runs.get(runId);
      return entry === undefined ? undefined : readRun(entry);
    },

    async listRuns(options: ListRunsOptions = {}): Promise<readonly RunSummary[]> {
      open();
      checkListRunsOptions(options);
      const { flowId, state, limit = Infinity } = options;
      const matching = [...runs.values()].filter(
        (entry) => (flowId === undefined || entry.meta.flowId === flowId) && (state === undefined || entry.meta.state === state),
      );
      matching.sort((a, b) => b.meta.createdAt - a.meta.createdAt || b.order - a.order);
      return matching.slice(0, Math.max(0, limit)).map(summary);
    },

    async loadRun(runId: string): Promise<LoadedRun | undefined> {
      open();
      const entry = runs.get(runId);
      if (entry === undefined) return undefined;
      return checkedLoadedRun(
        {
          run: readRun(entry),
          instances: [...entry.instances.values()].map(fromMemoryInstance),
          results: entry.results.map(
            (r): StoredResult => ({ runId, key: r.key, attempt: r.attempt, value: deserializeValue(r.valueText), at: r.at }),
          ),
        },
        rows,
      );
    },

    async queryTaskInstances(runId: string, query: TaskInstanceQuery = {}): Promise<TaskInstancePage> {
      open();
      const limit = checkTaskInstanceQuery(query);
      const after = cursorPosition(query.cursor);
      const entry = runs.get(runId);
      if (entry === undefined) return { instances: [], next: undefined };
      const states = query.states === undefined ? undefined : new Set(query.states);
      const page: MemoryInstance[] = [];
      let more = false;
      for (const stored of [...entry.instances.values()].sort((a, b) => a.writeOrder - b.writeOrder)) {
        if (stored.writeOrder <= after) continue;
        const { record } = stored;
        if (states !== undefined && !states.has(record.state)) continue;
        if (query.taskId !== undefined && record.taskId !== query.taskId) continue;
        if (query.keyPrefix !== undefined && !record.key.startsWith(query.keyPrefix)) continue;
        if (page.length === limit) {
          more = true;
          break;
        }
        page.push(stored);
      }
      const instances = checkedInstances(runId, page.map(fromMemoryInstance), rows);
      let results: Map<string, unknown> | undefined;
      if (query.withResults === true) {
        const wanted = new Set(instances.filter((i) => i.state === 'success').map((i) => i.key));
        results = new Map();
        for (const r of entry.results) if (wanted.has(r.key)) results.set(r.key, deserializeValue(r.valueText));
      }
      return { instances, ...(results === undefined ? {} : { results }), next: more ? String(page.at(-1)!.writeOrder) : undefined };
    },

    async countTaskInstances(runId: string): Promise<TaskInstanceCounts> {
      open();
      const entry = runs.get(runId);
      return countsFromRows(
        [...(entry?.instances.values() ?? [])].sort((a, b) => a.writeOrder - b.writeOrder).map((stored) => ({ taskId: stored.record.taskId, state: stored.state, n: 1 })),
        (taskId, state) => checkedCountState(rows, runId, taskId, state),
      );
    },

    async readTransitionLog(runId: string, options: ReadTransitionLogOptions = {}): Promise<readonly StoredTransition[]> {
      open();
      const { afterSeq = 0 } = options;
      return (runs.get(runId)?.log ?? []).filter((t) => t.seq > afterSeq).map((t) => ({ ...t }));
    },

    async getRunShape(runId: string): Promise<FlowShape | undefined> {
      open();
      const text = runs.get(runId)?.shapeText;
      return text === undefined ? undefined : (JSON.parse(text) as FlowShape);
    },

    async readTaskLogs(runId: string, query: TaskLogQuery = {}): Promise<readonly StoredTaskLogLine[]> {
      open();
      const { limit, afterSeq } = checkTaskLogQuery(query);
      const found: StoredTaskLogLine[] = [];
      for (const line of runs.get(runId)?.logs ?? []) {
        if (found.length >= limit) break;
        if (line.seq <= afterSeq) continue;
        if (query.key !== undefined && line.key !== query.key) continue;
        if (query.taskId !== undefined && line.taskId !== query.taskId) continue;
        if (query.attempt !== undefined && line.attempt !== query.attempt) continue;
        found.push({ ...line });
      }
      return found;
    },

    async saveCheckpoint(checkpoint: CheckpointWrite): Promise<void> {
      open();
      checkCheckpoint(checkpoint);
      checkFence(checkpoint.runId, checkpoint.leaseToken, leases.get(checkpoint.runId));
      const entry = runs.get(checkpoint.runId);
      if (entry === undefined) throw unknownRunError(checkpoint.runId, `save the checkpoint of '${checkpoint.key}'`);
      entry.checkpoints.set(checkpoint.key, { savedAt: checkpoint.savedAt, valueText: serializeValue(checkpoint.value) });
    },

    async loadCheckpoint(runId: string, key: string): Promise<StoredCheckpoint | undefined> {
      open();
      const stored = runs.get(runId)?.checkpoints.get(key);
      if (stored === undefined) return undefined;
      return { runId, key, value: deserializeValue(stored.valueText), savedAt: stored.savedAt };
    },

    async deleteRun(runId: string): Promise<boolean> {
      open();
      controls.delete(runId);
      return runs.delete(runId);
    },

    async acquireLease(request: LeaseRequest): Promise<LeaseGrant> {
      open();
      checkLeaseRequest(request);
      const grant = decideLease(leases.get(request.runId), request);
      leases.set(request.runId, grant.lease);
      return { lease: copyLease(grant.lease), tookOverFrom: grant.tookOverFrom };
    },

    async renewLease(lease: StoredLease, now: number, ttlMs: number): Promise<StoredLease> {
      open();
      const current = leases.get(lease.runId);
      if (current === undefined || current.releasedAt !== undefined || current.token !== lease.token) {
        throw new LeaseLostError({ runId: lease.runId, token: lease.token, current });
      }
      const renewed = { ...current, heartbeatAt: now, expiresAt: now + ttlMs };
      leases.set(lease.runId, renewed);
      return copyLease(renewed);
    },

    async releaseLease(lease: StoredLease, now: number): Promise<void> {
      open();
      const current = leases.get(lease.runId);
      if (current === undefined || current.releasedAt !== undefined || current.token !== lease.token) return;
      leases.set(lease.runId, { ...current, releasedAt: now });
    },

    async getLease(runId: string): Promise<StoredLease | undefined> {
      open();
      const lease = leases.get(runId);
      return lease === undefined ? undefined : copyLease(lease);
    },

    async requestControl(request: ControlRequestWrite): Promise<StoredControlRequest> {
      open();
      checkControlRequest(request);
      if (!runs.has(request.runId)) throw unknownRunError(request.runId, `store a control request (${request.action})`);
      const stored: StoredControlRequest = {
        runId: request.runId,
        action: request.action,
        ...(request.taskKey !== undefined ? { taskKey: request.taskKey } : {}),
        ...(request.state !== undefined ? { state: request.state } : {}),
        ...(request.payload !== undefined ? { payload: request.payload } : {}),
        requestedAt: request.requestedAt,
        ...(request.requestedBy !== undefined ? { requestedBy: request.requestedBy } : {}),
        id: nextControlId,
        status: 'pending',
        message: undefined,
        settledAt: undefined,
      };
      const text = serializeValue(stored);
      nextControlId += 1;
      controlsOf(request.runId).set(stored.id, text);
      return readControl(text);
    },

    async pendingControls(runId: string): Promise<readonly StoredControlRequest[]> {
      open();
      return [...(controls.get(runId)?.values() ?? [])].map(readControl).filter((r) => r.status === 'pending').sort((a, b) => a.id - b.id);
    },

    async getControl(runId: string, id: number): Promise<StoredControlRequest | undefined> {
      open();
      const text = controls.get(runId)?.get(id);
      return text === undefined ? undefined : readControl(text);
    },

    async close(): Promise<void> {
      closed = true;
      runs.clear();
      leases.clear();
      controls.clear();
    },
  };
}
