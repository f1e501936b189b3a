import type { TaskInstanceState } from '../../machines/index.ts';
import type { CommitBatch, CommitResult } from './batch.ts';
import { checkBatch, checkCheckpoint, checkListRunsOptions, closedError, instanceRecord, runRecord, unknownRunError } from './batchChecks.ts';
import type { CheckpointWrite, StoredCheckpoint } from './checkpointRecord.ts';
import { StoreConflictError } from './errors.ts';
import type { ListRunsOptions, LoadedRun, ReadTransitionLogOptions, RunSummary } from './queries.ts';
import type { StoredResult } from './resultRecord.ts';
import type { StoredRun } from './runRecord.ts';
import { deserializeValue, serializeValue } from './serialization.ts';
import type { Store } from './store.ts';
import type { StoredTaskInstance } from './taskInstanceRecord.ts';
import type { StoredTransition } from './transitionLog.ts';

interface MemoryInstance {
  readonly version: number;
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
  runText: string;
  readonly instances: Map<string, MemoryInstance>;
  readonly log: StoredTransition[];
  results: MemoryResult[];
  /** `resultId`s of `results`, for the duplicate check. */
  readonly resultIds: Set<string>;
  readonly checkpoints: Map<string, { readonly savedAt: number; readonly valueText: string }>;
}

const runMeta = (run: StoredRun): MemoryRun['meta'] => ({ flowId: run.flowId, state: run.state, createdAt: run.createdAt });

const serializeOptional = (value: unknown): string | null => (value === undefined ? null : serializeValue(value));
const deserializeOptional = (text: string | null): unknown => (text === null ? undefined : deserializeValue(text));

function toMemoryInstance(record: StoredTaskInstance): MemoryInstance {
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

const resultId = (key: string, attempt: number): string => `${attempt}\u0000${key}`;

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
  let nextOrder = 0;
  let closed = false;

  function open(): void {
    if (closed) throw closedError('memory store');
  }

  function readRun(entry: MemoryRun): StoredRun {
    return deserializeValue<StoredRun>(entry.runText);
  }

  function summary(entry: MemoryRun): RunSummary {
    const { input: _input, ...rest } = readRun(entry);
    const counts: Partial<Record<TaskInstanceState, number>> = {};
    for (const instance of entry.instances.values()) counts[instance.state] = (counts[instance.state] ?? 0) + 1;
    return { ...rest, taskCounts: counts };
  }

  return {
    async commit(batch: CommitBatch): Promise<CommitResult> {
      open();
      checkBatch(batch);
      const { runId } = batch;
      // Serialize everything first (as the SQLite store does): a value that cannot be stored fails
      // before anything is checked or changed.
      const run = batch.run === undefined ? undefined : runRecord(batch.run);
      const runText = run === undefined ? undefined : serializeValue(run);
      const upserts = (batch.instances ?? []).map(({ record, expectedVersion = 0 }) => ({
        expectedVersion,
        prepared: toMemoryInstance(instanceRecord(runId, record, 0)),
      }));
      const resultTexts = (batch.results ?? []).map((r) => serializeValue(r.value));

      const entry = runs.get(runId);
      if (entry === undefined && run === undefined) throw unknownRunError(runId, 'commit the batch');

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
        staged.set(key, { ...prepared, version, record: { ...prepared.record, version } });
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
        target = { order: nextOrder++, meta: runMeta(run!), runText: runText!, instances: new Map(), log: [], results: [], resultIds: new Set(), checkpoints: new Map() };
        runs.set(runId, target);
      } else if (run !== undefined) {
        target.meta = runMeta(run);
        target.runText = runText!;
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
      return {
        run: readRun(entry),
        instances: [...entry.instances.values()].map(fromMemoryInstance),
        results: entry.results.map(
          (r): StoredResult => ({ runId, key: r.key, attempt: r.attempt, value: deserializeValue(r.valueText), at: r.at }),
        ),
      };
    },

    async readTransitionLog(runId: string, options: ReadTransitionLogOptions = {}): Promise<readonly StoredTransition[]> {
      open();
      const { afterSeq = 0 } = options;
      return (runs.get(runId)?.log ?? []).filter((t) => t.seq > afterSeq).map((t) => ({ ...t }));
    },

    async saveCheckpoint(checkpoint: CheckpointWrite): Promise<void> {
      open();
      checkCheckpoint(checkpoint);
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
      return runs.delete(runId);
    },

    async close(): Promise<void> {
      closed = true;
      runs.clear();
    },
  };
}
