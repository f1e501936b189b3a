import type { TaskInstanceEventType, TaskInstanceState } from '../../machines/index.ts';

/**
 * One state change of a task instance, as the runtime appends it to the transition log.
 *
 * @example
 * ```ts
 * import type { TransitionWrite } from 'taskmachine/stores';
 * const t: TransitionWrite = { key: 'extract', from: 'queued', to: 'running', event: 'START', at: Date.now() };
 * ```
 */
export interface TransitionWrite {
  /** Task-instance key. */
  readonly key: string;
  /** State before. */
  readonly from: TaskInstanceState;
  /** State after. */
  readonly to: TaskInstanceState;
  /** The lifecycle event that caused it. */
  readonly event: TaskInstanceEventType;
  /** When it happened (epoch ms). */
  readonly at: number;
}

/**
 * An entry of a run's append-only transition log. `seq` is assigned by the store: 1, 2, 3, … per
 * run, in append order (the order within a batch is kept), so it orders changes across instances.
 *
 * @example
 * ```ts
 * for (const t of await store.readTransitionLog('nightly')) {
 *   console.log(`#${t.seq} ${t.key}: ${t.from} → ${t.to} (${t.event})`);
 * }
 * ```
 */
export interface StoredTransition extends TransitionWrite {
  /** The run it belongs to. */
  readonly runId: string;
  /** Position in the run's log, from 1. */
  readonly seq: number;
}
