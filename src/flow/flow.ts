import { FlowDefinitionError, type FlowDefinitionProblem } from '../errors.ts';
import { FlowCompiler, ID_PATTERN } from './compiler.ts';
import { setGraphOf } from './graph.ts';
import type { Flow, TaskDefinition, TaskFn, TaskKind, TaskOptions, TaskRef, TaskReference } from './types.ts';

/**
 * Defines the tasks of a flow. Handed to the `build` function of {@link flow}; only usable while
 * `build` runs.
 */
export interface FlowBuilder<TInput = any> {
  /**
   * Adds a task: one task instance per run, keyed by `id`.
   *
   * @example
   * ```ts
   * const extract = f.task('extract', async ({ input }) => fetchRows(input.day), { retries: 2 });
   * f.task('clean', ({ upstream }) => upstream.extract.filter(Boolean), { after: [extract] });
   * ```
   */
  task<TResult>(id: string, fn: TaskFn<TInput, TResult>, options?: TaskOptions): TaskRef<Awaited<TResult>>;
  /**
   * Adds a mapped task: when `over` has succeeded, one task instance per item of its result list,
   * keyed `id[0]`, `id[1]`, …; each receives `item` and `mapIndex`. An empty list skips the task.
   * Downstream tasks receive the ordered list of results.
   *
   * @example
   * ```ts
   * const score = f.map('score', clean, async ({ item }) => model(item));
   * f.task('report', ({ upstream }) => summarize(upstream.score), { after: [score] });
   * ```
   */
  map<TResult>(
    id: string,
    over: TaskReference,
    fn: TaskFn<TInput, TResult>,
    options?: TaskOptions,
  ): TaskRef<Awaited<TResult>[]>;
  /**
   * Adds a task that is not part of the DAG: it runs only when another task calls it with
   * `await ctx().call(ref, input)`, as a child task instance with its own lifecycle and retries.
   *
   * @example
   * ```ts
   * const fetchPage = f.subtask('fetchPage', ({ input }) => get(input.url), { retries: 3 });
   * f.task('crawl', async () => Promise.all(urls.map((url) => ctx()!.call(fetchPage, { url }))));
   * ```
   */
  subtask<TResult, TCallInput = any>(
    id: string,
    fn: TaskFn<TCallInput, TResult>,
    options?: Omit<TaskOptions, 'after' | 'trigger'>,
  ): TaskRef<Awaited<TResult>>;
}

const EMPTY_OPTIONS: TaskOptions = Object.freeze({});

/**
 * Defines a flow: a DAG of tasks with ids, functions, dependencies and options. The definition is
 * validated at once; every problem found (cycles, unknown or duplicate ids, bad options, …) is
 * thrown together as a {@link FlowDefinitionError}, so nothing runs on a bad definition.
 *
 * @example
 * ```ts
 * import { flow } from 'taskmachine';
 * export default flow('etl', (f) => {
 *   const extract = f.task('extract', async ({ input }) => fetchRows(input.day), { retries: 2 });
 *   const clean = f.task('clean', ({ upstream }) => upstream.extract.filter(ok), { after: [extract] });
 *   f.map('score', clean, ({ item }) => model(item));
 * });
 * ```
 */
export function flow<TInput = any>(id: string, build: (f: FlowBuilder<TInput>) => void): Flow<TInput> {
  const problems: FlowDefinitionProblem[] = [];
  const flowId = typeof id === 'string' ? id : String(id);
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    problems.push({
      message: `flow id ${JSON.stringify(id)} is invalid: use letters, digits, '_', '.', ':' or '-' (not starting with '.', ':' or '-')`,
    });
  }
  if (typeof build !== 'function') {
    throw new FlowDefinitionError(flowId, [
      ...problems,
      { message: 'the second argument of flow() must be a function that defines the tasks: flow(id, (f) => { f.task(...) })' },
    ]);
  }

  const compiler = new FlowCompiler(flowId, problems);
  let open = true;
  const add = (kind: TaskKind, taskId: string, fn: unknown, options: TaskOptions | undefined, over?: TaskReference): TaskRef<any> => {
    if (!open) {
      throw new Error(
        `flow '${flowId}': f.${kind}('${taskId}') was called after flow() returned; define every task inside the build function`,
      );
    }
    return compiler.add(kind, taskId, fn, options ?? EMPTY_OPTIONS, over);
  };
  const builder: FlowBuilder<TInput> = {
    task: (taskId, fn, options) => add('task', taskId, fn, options),
    map: (taskId, over, fn, options) => add('map', taskId, fn, options, over),
    subtask: (taskId, fn, options) => add('subtask', taskId, fn, options as TaskOptions | undefined),
  };
  try {
    build(builder);
  } finally {
    open = false;
  }

  const { tasks, indexById, graph } = compiler.finish();
  if (problems.length > 0) throw new FlowDefinitionError(flowId, problems);
  const compiled = frozenFlow<TInput>(flowId, tasks, indexById);
  setGraphOf(compiled, graph);
  return compiled;
}

// Its own function so that the lookup closure's scope holds only the index: a closure created
// inside flow() would share flow()'s scope (the compiler, the builder) for as long as the definition.
function frozenFlow<TInput>(flowId: string, tasks: readonly TaskDefinition[], indexById: ReadonlyMap<string, number>): Flow<TInput> {
  return Object.freeze({
    id: flowId,
    tasks,
    task: (taskId: string) => {
      const index = indexById.get(taskId);
      return index === undefined ? undefined : tasks[index];
    },
  });
}

