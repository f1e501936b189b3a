// A handle on a task of a flow, the one type the flow builder, task contexts (`ctx().call`) and run
// records all name: a file of its own below them, so none of them imports another for it.

/**
 * A task reference from `f.task`, `f.map` or `f.subtask`, or a task id.
 *
 * @example
 * ```ts
 * const upstreams: TaskReference[] = [extract, 'clean'];
 * ```
 */
export type TaskReference = TaskRef<any, string, TaskKind, any> | string;

/**
 * A handle on a task defined in a flow: pass it to `after`, `f.map`, `ctx().call` or
 * `run.result`. It carries the task's id, kind, result type (for a mapped task: the list of its
 * instances' results) and the input `ctx().call` must give it.
 *
 * @example
 * ```ts
 * const extract = f.task('extract', async () => [{ id: 1 }]); // TaskRef<{ id: number }[], 'extract', 'task'>
 * extract.id; // 'extract'
 * ```
 */
export interface TaskRef<TResult = unknown, TId extends string = string, TKind extends TaskKind = TaskKind, TCallInput = any> {
  /** The task's id, unique in its flow. */
  readonly id: TId;
  /** `task` (a DAG node), `map` (one instance per item), or `subtask` (runs only when called). */
  readonly kind: TKind;
  /** The flow this task belongs to. */
  readonly flowId: string;
  /** Phantom field carrying the result type; never set. */
  readonly __result?: TResult;
  /** Phantom field carrying the input `ctx().call` gives the task; never set. */
  readonly __callInput?: (input: TCallInput) => void;
}

/**
 * How a task is instantiated: `task` (one instance per run), `map` (one per item of a list) or
 * `subtask` (one per `ctx.call`).
 *
 * @example
 * ```ts
 * const callable = etl.tasks.filter((task) => task.kind === 'subtask').map((task) => task.id);
 * ```
 */
export type TaskKind = 'task' | 'map' | 'subtask';
