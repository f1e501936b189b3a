// Checks and encodings every store shares for two parts of a batch that are not task instances:
// the run's shape (its task graph, plain JSON) and task log lines. Writes are checked before
// anything is written; a stored shape is checked when it is read, like every row (rowChecks.ts).
import { madeByFlowShape, storedShapeJson, type FlowShape } from '../flow/flowShape.ts';
import { StoreError } from './errors.ts';
import { rowError, type RowSource } from './rowChecks.ts';
import type { TaskLogQuery, TaskLogWrite } from './taskLogRecord.ts';

const isNonEmptyString = (value: unknown): value is string => typeof value === 'string' && value.length > 0;
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** What is wrong with a shape, or `undefined` when it is a {@link FlowShape}. */
export function shapeProblem(shape: unknown): string | undefined {
  if (!isObject(shape)) return 'is not an object';
  if (shape['version'] !== 1) return `has version ${JSON.stringify(shape['version'])}, not 1`;
  if (!isNonEmptyString(shape['flowId'])) return 'has no flowId (a non-empty string)';
  const tasks = shape['tasks'];
  if (!Array.isArray(tasks)) return 'has no tasks array';
  for (const [index, task] of tasks.entries()) {
    if (!isObject(task) || !isNonEmptyString(task['id'])) return `tasks[${index}] has no id (a non-empty string)`;
    if (!Array.isArray(task['upstream']) || !task['upstream'].every(isNonEmptyString)) return `task '${String(task['id'])}' has no upstream list of task ids`;
    if (!isNonEmptyString(task['kind'])) return `task '${String(task['id'])}' has no kind`;
  }
  return undefined;
}

/** Refuses a batch's shape that is not a {@link FlowShape} (a `StoreError` naming what is wrong). */
export function checkShape(runId: string, shape: FlowShape | undefined): void {
  // A shape flowShape made is frozen and valid by construction: a 100k-task shape is not walked again.
  if (shape === undefined || madeByFlowShape(shape)) return;
  const problem = shapeProblem(shape);
  if (problem !== undefined) {
    throw new StoreError(`Invalid store write: the shape of run '${runId}' ${problem} (make it with flowShape(flow) from taskmachine). Nothing was written.`);
  }
}

/** A shape as the SQLite and PostgreSQL stores keep it (`runs.shape`): plain JSON text. */
export function encodeShape(shape: FlowShape): string {
  return storedShapeJson(shape);
}

/**
 * A stored shape read back (`runs.shape` in PostgreSQL, `run_shapes.shape` in SQLite): `undefined`
 * for NULL, else the shape, or a `StoreRowError` naming the run and where the text is.
 */
export function decodeShape(column: unknown, runId: string, source: RowSource, table: 'runs' | 'run_shapes' = 'runs'): FlowShape | undefined {
  if (column === null || column === undefined) return undefined;
  let shape: unknown;
  let problem: string | undefined;
  try {
    shape = JSON.parse(String(column));
    problem = shapeProblem(shape);
  } catch (error) {
    problem = `is not JSON (${(error as Error).message})`;
  }
  if (problem !== undefined) {
    const text = String(column);
    throw rowError(source, { table, runId }, { column: 'shape', value: text.length > 80 ? `${text.slice(0, 80)}…` : text, problem: `${problem}, so it is not a run shape` });
  }
  return shape as FlowShape;
}

/** Refuses a batch's log line that is malformed (a `StoreError` naming it). */
export function checkLogs(runId: string, logs: readonly TaskLogWrite[] | undefined): void {
  for (const log of logs ?? []) {
    const where = `a log line of '${String(log.key)}' in run '${runId}'`;
    if (!isNonEmptyString(log.key)) throw invalid(`a log line in run '${runId}' has no key (a non-empty string)`);
    if (!isNonEmptyString(log.taskId)) throw invalid(`${where}: taskId must be a non-empty string`);
    if (!Number.isSafeInteger(log.attempt) || log.attempt < 1) throw invalid(`${where}: attempt must be an integer ≥ 1`);
    if (typeof log.at !== 'number' || !Number.isFinite(log.at)) throw invalid(`${where}: at must be an epoch-ms number`);
    if (typeof log.line !== 'string') throw invalid(`${where}: line must be a string`);
  }
}

/** Checks `readTaskLogs`' query; resolves `limit` (Infinity when not given) and `afterSeq`. */
export function checkTaskLogQuery(query: TaskLogQuery): { limit: number; afterSeq: number } {
  const { limit = Infinity, afterSeq = 0, attempt } = query;
  if (typeof limit !== 'number' || Number.isNaN(limit) || limit < 0) throw new StoreError(`readTaskLogs: limit must be a non-negative number (or Infinity), got ${String(limit)}.`);
  if (typeof afterSeq !== 'number' || Number.isNaN(afterSeq)) throw new StoreError(`readTaskLogs: afterSeq must be a number, got ${String(afterSeq)}.`);
  if (attempt !== undefined && (!Number.isSafeInteger(attempt) || attempt < 1)) throw new StoreError(`readTaskLogs: attempt must be an integer ≥ 1, got ${String(attempt)}.`);
  return { limit: Math.floor(limit), afterSeq: Math.floor(afterSeq) };
}

function invalid(what: string): StoreError {
  return new StoreError(`Invalid store write: ${what}. Nothing was written.`);
}
