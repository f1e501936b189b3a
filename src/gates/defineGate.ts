import type { TaskInstanceRecord } from '../records.ts';

/**
 * What a gate's `prepare` receives besides the task instance.
 *
 * @example
 * ```ts
 * import { defineGate, type GateContext } from 'taskmachine';
 * export const glacier = defineGate({
 *   name: 'glacier',
 *   async prepare(ti, { hints, signal, log }: GateContext) {
 *     if (hints['glacier/skip'] === true) return log('restore skipped by hint');
 *     await restoreObjects(ti.taskId, { signal });
 *   },
 * });
 * ```
 */
export interface GateContext {
  /** Aborted when another gate of the attempt fails, the run is cancelled, or the instance is cleared or set by hand. */
  readonly signal: AbortSignal;
  /** The task's hints; a gate reads its own namespace (`'glacier/maxWait'`) for opt-outs and deadlines. */
  readonly hints: Readonly<Record<string, unknown>>;
  /** Logs a line attributed to this gate and task instance. */
  readonly log: (...parts: unknown[]) => void;
}

/**
 * A readiness gate: prepares a task's world (restore from cold storage, wait for a quota, warm a
 * cache) before the task may start. Every registered gate starts when a task instance enters
 * `queued` — before a concurrency slot is free — and they run concurrently, off the scheduler's
 * path; the instance starts only when all of them resolved for this attempt.
 *
 * @example
 * ```ts
 * import { defineGate, type Gate } from 'taskmachine';
 * const quotaGate = (pool: string): Gate =>
 *   defineGate({ name: `quota:${pool}`, prepare: (ti, { signal }) => acquireQuota(pool, ti.key, { signal }) });
 * await runFlow(etl, { input, gates: [quotaGate('gpu')] });
 * ```
 */
export interface Gate {
  readonly name: string;
  prepare(taskInstance: TaskInstanceRecord, context: GateContext): Promise<void>;
}

/**
 * Defines a readiness gate. Gates must be idempotent: a resumed run starts them again for the
 * task instances that were queued.
 *
 * Failure rules: when a gate rejects, the others' signals are aborted at once. A task error
 * (`FailTask`, …) keeps its identity; anything else becomes a `GateError` with the original as
 * `cause`. A `RetryableError` (or one in the `cause` chain) sends the attempt to `up_for_retry` and
 * consumes a retry — never an unbounded loop; anything else fails the task.
 *
 * @example
 * ```ts
 * import { defineGate, RetryableError } from 'taskmachine';
 * export const quota = defineGate({
 *   name: 'quota',
 *   async prepare(ti, { hints, signal }) {
 *     if (hints['quota/skip'] === true) return;
 *     await acquireQuota(ti.taskId, { signal });
 *   },
 * });
 * await runFlow(etl, { gates: [quota] });
 * ```
 */
export function defineGate(gate: Gate): Gate {
  if (gate === null || typeof gate !== 'object' || typeof gate.name !== 'string' || gate.name === '') {
    throw new TypeError('defineGate({ name, prepare }): name must be a non-empty string');
  }
  if (typeof gate.prepare !== 'function') {
    throw new TypeError(`defineGate('${gate.name}'): prepare must be a function (taskInstance, { signal, hints, log }) => Promise<void>`);
  }
  return Object.freeze({ name: gate.name, prepare: gate.prepare });
}

const globalGates = new Set<Gate>();

/**
 * Registers a gate for every run started afterwards in this process. Returns a function that
 * unregisters it.
 *
 * @example
 * ```ts
 * import { registerGate } from 'taskmachine';
 * const unregister = registerGate(coldStorage);
 * ```
 */
export function registerGate(gate: Gate): () => void {
  defineGate(gate); // validates
  globalGates.add(gate);
  return () => {
    globalGates.delete(gate);
  };
}

/** @internal The globally registered gates, in registration order. */
export function globalGateList(): Gate[] {
  return [...globalGates];
}
