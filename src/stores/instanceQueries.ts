import { isTaskInstanceState, type TaskInstanceState } from '../../machines/index.ts';
import { StoreError } from './errors.ts';
import type { StoredTaskInstance } from './taskInstanceRecord.ts';

/**
 * Which task instances of a run `queryTaskInstances` returns: a filter and one page of them, in
 * the order they were first written. What `status`, the web UI and other tools read, at a cost
 * that grows with the page, not the run.
 *
 * @example
 * ```ts
 * let page = await store.queryTaskInstances('nightly', { states: ['failed'], limit: 50 });
 * while (page.next !== undefined) page = await store.queryTaskInstances('nightly', { states: ['failed'], cursor: page.next });
 * ```
 */
export interface TaskInstanceQuery {
  /**
   * Only instances in these states.
   * @default undefined (every state)
   */
  readonly states?: readonly TaskInstanceState[];
  /**
   * Only instances of this task (a mapped task's instances `id[0]`, `id[1]`, … included).
   * @default undefined (every task)
   */
  readonly taskId?: string;
  /**
   * Only instances whose key starts with this (e.g. `score[` or a parent's key and `/`).
   * @default undefined
   */
  readonly keyPrefix?: string;
  /**
   * Most instances on the page (1 to 10,000).
   * @default 100
   */
  readonly limit?: number;
  /**
   * Where the page starts: the `next` of the page before; the first page without it.
   * @default undefined (the first page)
   */
  readonly cursor?: string;
  /**
   * Also return the result of each instance on the page that succeeded (its latest attempt's).
   * @default false
   */
  readonly withResults?: boolean;
}

/**
 * One page of a run's task instances.
 *
 * @example
 * ```ts
 * const { instances, results, next } = await store.queryTaskInstances('r1', { withResults: true });
 * for (const i of instances) console.log(i.key, i.state, results?.get(i.key));
 * ```
 */
export interface TaskInstancePage {
  /** The instances, in first-write order. */
  readonly instances: readonly StoredTaskInstance[];
  /** With `withResults`: the latest result of each instance on the page that has one. */
  readonly results?: ReadonlyMap<string, unknown>;
  /** The cursor of the next page; `undefined` when this was the last. */
  readonly next: string | undefined;
}

/**
 * How many task instances of a run are in each state, overall and per task (what `status` shows
 * first), counted by the store (SQL aggregation) without reading the instances.
 *
 * @example
 * ```ts
 * const counts = await store.countTaskInstances('r1');
 * console.log(counts.total, counts.byState.failed ?? 0, counts.byTask.find((t) => t.taskId === 'score')?.total);
 * ```
 */
export interface TaskInstanceCounts {
  readonly total: number;
  /** Instances per state (states with none are absent). */
  readonly byState: Readonly<Partial<Record<TaskInstanceState, number>>>;
  /** Per task id, in the order the task's first instance was written. */
  readonly byTask: ReadonlyArray<{
    readonly taskId: string;
    readonly total: number;
    readonly byState: Readonly<Partial<Record<TaskInstanceState, number>>>;
  }>;
}

/** The most instances one page may hold. */
export const MAX_PAGE = 10_000;

/** A query's limit, checked (a `StoreError` naming the problem otherwise). */
export function checkTaskInstanceQuery(query: TaskInstanceQuery): number {
  const limit = query.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new StoreError(`queryTaskInstances: limit must be a whole number from 1 to ${MAX_PAGE}, got ${String(query.limit)}`);
  }
  for (const state of query.states ?? []) {
    if (!isTaskInstanceState(state)) throw new StoreError(`queryTaskInstances: unknown task instance state ${JSON.stringify(state)}`);
  }
  return limit;
}

/** The position a cursor names (an integer the store made), or a `StoreError`. */
export function cursorPosition(cursor: string | undefined): number {
  if (cursor === undefined) return -1;
  const position = Number(cursor);
  if (!/^\d+$/.test(cursor) || !Number.isSafeInteger(position)) {
    throw new StoreError(`queryTaskInstances: the cursor '${cursor}' was not made by this store; pass the 'next' of a page`);
  }
  return position;
}

/** Counts grouped by (task id, state) rows, in first-appearance order, as a `TaskInstanceCounts`. */
export function countsFromRows(
  rows: Iterable<{ taskId: string; state: string; n: number }>,
  checkState: (taskId: string, state: string) => TaskInstanceState,
): TaskInstanceCounts {
  let total = 0;
  const byState: Partial<Record<TaskInstanceState, number>> = {};
  const byTask = new Map<string, { taskId: string; total: number; byState: Partial<Record<TaskInstanceState, number>> }>();
  for (const { taskId, state: stored, n } of rows) {
    // (A state that is not one is refused, naming the run and task: never counted as nothing.)
    const state = checkState(taskId, stored);
    total += n;
    byState[state] = (byState[state] ?? 0) + n;
    let task = byTask.get(taskId);
    if (task === undefined) byTask.set(taskId, (task = { taskId, total: 0, byState: {} }));
    task.total += n;
    task.byState[state] = (task.byState[state] ?? 0) + n;
  }
  return { total, byState, byTask: [...byTask.values()] };
}
