import { FlowDefinitionError, type FlowDefinitionProblem } from '../errors.ts';
import { FlowCompiler, ID_PATTERN } from './compiler.ts';
import { setGraphOf } from './graph.ts';
import type { FlowBuilder, FlowTasks } from './builder.ts';
import type { Flow, TaskDefinition, TaskKind, TaskOptions, TaskRef, TaskReference } from './types.ts';

export type { FlowBuilder, FlowTasks, MapSource, RefsOf, CallInputOf, NotCallable } from './builder.ts';

const EMPTY_OPTIONS: TaskOptions = Object.freeze({});

/**
 * Defines a flow: a DAG of tasks with ids, functions, dependencies and options. The definition is
 * validated at once; every problem found (cycles, unknown or duplicate ids, bad options, …) is
 * thrown together as a {@link FlowDefinitionError}, so nothing runs on a bad definition.
 *
 * @example
 * ```ts
 * import { flow, type FlowBuilder } from 'taskmachine';
 * export default flow('etl', (f: FlowBuilder<{ day: string }>) => {
 *   const extract = f.task('extract', async ({ input }) => fetchRows(input.day), { retries: 2 });
 *   const clean = f.task('clean', ({ upstream }) => upstream.extract.filter(ok), { after: [extract] });
 *   const score = f.map('score', clean, ({ item }) => model(item));
 *   return { extract, clean, score }; // optional: flow.refs, and typed run.tasks['score[3]'] and handle keys
 * });
 * ```
 *
 * The input type comes from `flow<Input>(…)` or from annotating `f` as `FlowBuilder<Input>`; the
 * second also lets TypeScript infer the task references `build` returns (an explicit type argument
 * turns that inference off).
 */
export function flow<TInput = any, const TTasks extends FlowTasks | void = void>(
  id: string,
  build: (f: FlowBuilder<TInput>) => TTasks,
): Flow<TInput, TTasks> {
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
  const add = (kind: TaskKind, taskId: string, fn: unknown, options: TaskOptions | undefined, over?: TaskReference): TaskRef<any, any, any> => {
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
  let refs: TTasks;
  try {
    refs = build(builder);
  } finally {
    open = false;
  }

  const { tasks, indexById, graph } = compiler.finish();
  if (problems.length > 0) throw new FlowDefinitionError(flowId, problems);
  const compiled = frozenFlow<TInput, TTasks>(flowId, tasks, indexById, refs);
  madeHere.add(compiled);
  setGraphOf(compiled, graph);
  return compiled;
}

/** The flows this copy of taskmachine made (another copy's flow cannot run here: see loadFlow). */
const madeHere = new WeakSet<object>();

/**
 * @internal Whether `flow()` of this copy of taskmachine made `definition` (a flow made by another
 * copy loaded in the same process does not share its task context or control-flow errors).
 */
export function isFlowOfThisCopy(definition: object): boolean {
  return madeHere.has(definition);
}

// Its own function so that the lookup closure's scope holds only the index: a closure created
// inside flow() would share flow()'s scope (the compiler, the builder) for as long as the definition.
function frozenFlow<TInput, TRefs>(
  flowId: string,
  tasks: readonly TaskDefinition[],
  indexById: ReadonlyMap<string, number>,
  refs: TRefs,
): Flow<TInput, TRefs> {
  return Object.freeze({
    id: flowId,
    tasks,
    refs,
    task: (taskId: string) => {
      const index = indexById.get(taskId);
      return index === undefined ? undefined : tasks[index];
    },
  });
}

