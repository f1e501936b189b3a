import { FlowDefinitionError, type FlowDefinitionProblem } from '../errors.ts';
import { checkDecorators } from '../decorators/defineDecorator.ts';
import { createSystemContext, type PublishedValues } from '../decorators/systemContext.ts';
import { triggerRules, type TriggerRule } from './triggerRules.ts';
import { FlowGraph, setGraphOf } from './graph.ts';
import type {
  Flow,
  TaskDefinition,
  TaskFn,
  TaskKind,
  TaskOptions,
  TaskRef,
  TaskReference,
} from './types.ts';

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

const ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/;
const HINT_KEY_PATTERN = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.\/-]+$/;
const NO_INDICES: readonly number[] = Object.freeze([]);
const EMPTY_HINTS: Readonly<Record<string, unknown>> = Object.freeze({});
/** Shared by every task whose decorators publish nothing at definition time (no Map per task). */
const NOTHING_PUBLISHED: PublishedValues = new Map();
const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'after',
  'trigger',
  'retries',
  'retryDelay',
  'retryBackoff',
  'maxRetryDelay',
  'timeout',
  'resumeAfter',
  'hints',
  'setup',
  'decorators',
]);

/**
 * What `f.task`, `f.map` and `f.subtask` return: the task's reference, which also carries what was
 * passed until flow() has compiled it (one object per task instead of a draft and a reference; both
 * would otherwise stay alive for the whole build). Only `id`, `kind` and `flowId` are visible.
 */
class DraftTask implements TaskRef<any> {
  readonly id: string;
  readonly kind: TaskKind;
  readonly flowId: string;
  #fn: unknown;
  #options: TaskOptions;
  #over: TaskReference | undefined;

  constructor(id: string, kind: TaskKind, flowId: string, fn: unknown, options: TaskOptions, over: TaskReference | undefined) {
    this.id = id;
    this.kind = kind;
    this.flowId = flowId;
    this.#fn = fn;
    this.#options = options;
    this.#over = over;
    Object.freeze(this);
  }

  get fn(): unknown {
    return this.#fn;
  }
  get options(): TaskOptions {
    return this.#options;
  }
  get over(): TaskReference | undefined {
    return this.#over;
  }

  /** Drops what was passed once compiled: a reference the user keeps must not keep it alive. */
  static release(draft: DraftTask): void {
    draft.#fn = undefined;
    draft.#options = EMPTY_OPTIONS;
    draft.#over = undefined;
  }
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

  const drafts: DraftTask[] = [];
  let open = true;
  const add = (kind: TaskKind, taskId: string, fn: unknown, options: TaskOptions | undefined, over?: TaskReference): TaskRef<any> => {
    if (!open) {
      throw new Error(
        `flow '${flowId}': f.${kind}('${taskId}') was called after flow() returned; define every task inside the build function`,
      );
    }
    const draft = new DraftTask(taskId, kind, flowId, fn, options ?? EMPTY_OPTIONS, over);
    drafts.push(draft);
    return draft;
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

  const { tasks, indexById, graph } = compile(flowId, drafts, problems);
  for (const draft of drafts) DraftTask.release(draft);
  if (problems.length > 0) throw new FlowDefinitionError(flowId, problems);
  const compiled = frozenFlow<TInput>(flowId, tasks, indexById);
  setGraphOf(compiled, graph);
  return compiled;
}

// Its own function so that the lookup closure's scope holds only the index: a closure created
// inside flow() would share flow()'s scope and keep every draft alive as long as the definition.
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

function compile(
  flowId: string,
  drafts: DraftTask[],
  problems: FlowDefinitionProblem[],
): { tasks: readonly TaskDefinition[]; indexById: ReadonlyMap<string, number>; graph: FlowGraph } {
  const indexById = new Map<string, number>();
  drafts.forEach((draft, index) => {
    if (typeof draft.id !== 'string' || !ID_PATTERN.test(draft.id)) {
      problems.push({
        taskId: String(draft.id),
        message: `task id ${JSON.stringify(draft.id)} is invalid: use letters, digits, '_', '.', ':' or '-' ('[', ']', '/', '#' and spaces are reserved for task keys)`,
      });
    } else if (indexById.has(draft.id)) {
      problems.push({ taskId: draft.id, message: 'duplicate task id: every task in a flow needs its own id' });
    } else {
      indexById.set(draft.id, index);
    }
  });

  const resolve = (ref: unknown, taskId: string, what: string): number => {
    const refId = typeof ref === 'string' ? ref : isTaskRef(ref) ? ref.id : undefined;
    if (refId === undefined) {
      problems.push({ taskId, message: `${what} must be a task reference or a task id, got ${describe(ref)}` });
      return -1;
    }
    if (isTaskRef(ref) && ref.flowId !== flowId) {
      problems.push({ taskId, message: `${what} '${refId}' belongs to flow '${ref.flowId}', not to this flow` });
      return -1;
    }
    const index = indexById.get(refId);
    if (index === undefined) {
      problems.push({ taskId, message: `${what} '${refId}' is not a task of this flow (unknown task id)` });
      return -1;
    }
    if (drafts[index]!.kind === 'subtask') {
      problems.push({
        taskId,
        message: `${what} '${refId}' is a subtask: it runs only when called with ctx().call(), so nothing can run after it`,
      });
      return -1;
    }
    return index;
  };

  // Upstream indices of all tasks in one flat list (CSR, see FlowGraph): no small array per task.
  const upStart = new Int32Array(drafts.length + 1);
  const edges: number[] = [];
  const tasks = drafts.map((draft, index): CompiledTask => {
    upStart[index] = edges.length;
    const taskId = String(draft.id);
    if (typeof draft.fn !== 'function') {
      problems.push({ taskId, message: `the task function must be a function, got ${describe(draft.fn)}` });
    }
    const options = checkOptions(taskId, draft, problems);
    let mapOver = -1;
    if (draft.kind === 'map') {
      mapOver = resolve(draft.over, taskId, 'the list to map over');
      if (mapOver >= 0) edges.push(mapOver);
    }
    const { decorators, problems: decoratorProblems } = checkDecorators({ id: taskId, kind: draft.kind }, options.decorators);
    problems.push(...decoratorProblems);
    const policy = mergePolicies(options, decorators);
    const published =
      decoratorProblems.length === 0 && decorators.some((d) => d.definition.hooks.stepInit !== undefined)
        ? runStepInit(flowId, taskId, decorators, policy.retries, problems)
        : NOTHING_PUBLISHED;
    const after = options.after === undefined ? [] : Array.isArray(options.after) ? options.after : [options.after];
    if (draft.kind === 'subtask' && after.length > 0) {
      problems.push({ taskId, message: "a subtask has no upstreams ('after'): it runs when called" });
    }
    for (const ref of after) {
      const resolved = resolve(ref, taskId, 'upstream');
      if (resolved === index) problems.push({ taskId, message: 'a task cannot run after itself' });
      else if (resolved >= 0 && edges.indexOf(resolved, upStart[index]) === -1) edges.push(resolved);
    }
    const settings = sharedSettings({
      trigger: options.trigger ?? 'all_success',
      retries: policy.retries,
      retryDelay: policy.retryDelay,
      retryBackoff: policy.retryBackoff,
      maxRetryDelay: policy.maxRetryDelay,
      timeout: options.timeout,
      resumeAfter: options.resumeAfter,
      hints: options.hints === undefined ? EMPTY_HINTS : Object.freeze({ ...options.hints }),
      setup: options.setup ?? false,
      decorators,
      published,
    });
    return new CompiledTask(taskId, index, draft.kind, draft.fn as TaskFn, settings, mapOver);
  });
  upStart[drafts.length] = edges.length;
  const graph = new FlowGraph(upStart, Int32Array.from(edges));
  for (const task of tasks) CompiledTask.attach(task, graph);
  for (const cycle of findCycles(tasks, graph)) {
    problems.push({
      message: `cycle: ${[...cycle, cycle[0]].join(' → ')} (a task cannot depend on itself, even indirectly)`,
    });
  }
  for (const task of tasks) Object.freeze(task);
  return { tasks: Object.freeze(tasks), indexById, graph };
}

/** The settings part of a task definition: most tasks of a flow have the same, so they share it. */
type TaskSettings = Pick<
  TaskDefinition,
  'trigger' | 'retries' | 'retryDelay' | 'retryBackoff' | 'maxRetryDelay' | 'timeout' | 'resumeAfter' | 'hints' | 'setup' | 'decorators' | 'published'
>;

const settingsCache = new Map<string, Readonly<TaskSettings>>();

/**
 * One frozen settings object per distinct combination of plain settings (tasks with hints,
 * decorators or published values keep their own): a 100k-task flow where every task has the
 * defaults holds one settings object, not 100k.
 */
function sharedSettings(settings: TaskSettings): Readonly<TaskSettings> {
  if (settings.hints !== EMPTY_HINTS || settings.decorators.length > 0 || settings.published !== NOTHING_PUBLISHED) {
    return Object.freeze(settings);
  }
  const key = `${settings.trigger}|${settings.retries}|${settings.retryDelay}|${settings.retryBackoff}|${settings.maxRetryDelay}|${settings.timeout}|${settings.resumeAfter}|${settings.setup}`;
  let shared = settingsCache.get(key);
  if (shared === undefined) {
    if (settingsCache.size >= 1024) settingsCache.clear();
    shared = Object.freeze({ ...settings });
    settingsCache.set(key, shared);
  }
  return shared;
}

/**
 * A compiled task: its identity and graph position, and its settings read through from the
 * (usually shared) settings object. Frozen once its downstream list is known.
 */
class CompiledTask implements TaskDefinition {
  readonly id: string;
  readonly index: number;
  readonly kind: TaskKind;
  readonly fn: TaskFn;
  readonly mapOver: number;
  readonly #settings: Readonly<TaskSettings>;
  #graph: FlowGraph | undefined = undefined;

  constructor(id: string, index: number, kind: TaskKind, fn: TaskFn, settings: Readonly<TaskSettings>, mapOver: number) {
    this.id = id;
    this.index = index;
    this.kind = kind;
    this.fn = fn;
    this.#settings = settings;
    this.mapOver = mapOver;
  }

  /** Gives the task its flow's graph, once every task of the flow is known. */
  static attach(task: CompiledTask, graph: FlowGraph): void {
    task.#graph = graph;
  }

  /** A new frozen array each time; the runtime reads the flow's graph directly. */
  get upstream(): readonly number[] {
    return this.#graph === undefined ? NO_INDICES : this.#graph.upstreamOf(this.index);
  }
  /** A new frozen array each time; the runtime reads the flow's graph directly. */
  get downstream(): readonly number[] {
    return this.#graph === undefined ? NO_INDICES : this.#graph.downstreamOf(this.index);
  }

  get trigger(): TriggerRule {
    return this.#settings.trigger;
  }
  get retries(): number {
    return this.#settings.retries;
  }
  get retryDelay(): number {
    return this.#settings.retryDelay;
  }
  get retryBackoff(): number {
    return this.#settings.retryBackoff;
  }
  get maxRetryDelay(): number {
    return this.#settings.maxRetryDelay;
  }
  get timeout(): number | undefined {
    return this.#settings.timeout;
  }
  get resumeAfter(): number | undefined {
    return this.#settings.resumeAfter;
  }
  get hints(): Readonly<Record<string, unknown>> {
    return this.#settings.hints;
  }
  get setup(): boolean {
    return this.#settings.setup;
  }
  get decorators(): TaskSettings['decorators'] {
    return this.#settings.decorators;
  }
  get published(): PublishedValues {
    return this.#settings.published;
  }

  /** The plain fields, for `JSON.stringify` and logging. */
  toJSON(): Omit<TaskDefinition, 'fn' | 'published'> {
    const { published: _published, ...settings } = this.#settings;
    return { id: this.id, index: this.index, kind: this.kind, ...settings, upstream: this.upstream, downstream: this.downstream, mapOver: this.mapOver };
  }
}

function checkOptions(taskId: string, draft: DraftTask, problems: FlowDefinitionProblem[]): TaskOptions {
  const options = draft.options;
  if (options === null || typeof options !== 'object') {
    problems.push({ taskId, message: `options must be an object, got ${describe(options)}` });
    return {};
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      problems.push({ taskId, message: `unknown option '${key}'; known options: ${[...KNOWN_OPTIONS].join(', ')}` });
    }
  }
  const { retries, retryDelay, retryBackoff, maxRetryDelay, timeout, resumeAfter, trigger, hints } = options;
  if (retries !== undefined && !(Number.isInteger(retries) && retries >= 0)) {
    problems.push({ taskId, message: `retries must be a whole number ≥ 0, got ${describe(retries)}` });
  }
  if (retryDelay !== undefined && !(Number.isFinite(retryDelay) && retryDelay >= 0)) {
    problems.push({ taskId, message: `retryDelay must be a number of ms ≥ 0, got ${describe(retryDelay)}` });
  }
  if (retryBackoff !== undefined && !(Number.isFinite(retryBackoff) && retryBackoff >= 1)) {
    problems.push({ taskId, message: `retryBackoff must be a factor ≥ 1, got ${describe(retryBackoff)}` });
  }
  if (maxRetryDelay !== undefined && !(typeof maxRetryDelay === 'number' && maxRetryDelay >= 0)) {
    problems.push({ taskId, message: `maxRetryDelay must be a number of ms ≥ 0, got ${describe(maxRetryDelay)}` });
  }
  if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) {
    problems.push({ taskId, message: `timeout must be a positive number of ms, got ${describe(timeout)}` });
  }
  if (resumeAfter !== undefined && !(Number.isFinite(resumeAfter) && resumeAfter >= 0)) {
    problems.push({ taskId, message: `resumeAfter must be a number of ms ≥ 0, got ${describe(resumeAfter)}` });
  }
  if (trigger !== undefined && !triggerRules.includes(trigger as TriggerRule)) {
    problems.push({
      taskId,
      message: `unknown trigger rule ${describe(trigger)}; use one of: ${triggerRules.join(', ')}`,
    });
  }
  if (hints !== undefined) {
    if (hints === null || typeof hints !== 'object') {
      problems.push({ taskId, message: `hints must be an object, got ${describe(hints)}` });
    } else {
      for (const key of Object.keys(hints)) {
        if (!HINT_KEY_PATTERN.test(key)) {
          problems.push({
            taskId,
            message: `hint '${key}' has no namespace: write it as '<namespace>/<name>', e.g. 'glacier/${key}'`,
          });
        }
      }
    }
  }
  return options;
}


/**
 * The task's retry settings after its decorators: the largest retry count wins, a decorator that
 * forbids retries wins over everything, and explicit task options win for delays.
 */
function mergePolicies(options: TaskOptions, decorators: readonly { definition: { policy?: (p: any) => any }; params: unknown }[]) {
  let retries = options.retries ?? 0;
  let forbid = false;
  let retryDelay = options.retryDelay;
  let retryBackoff = options.retryBackoff;
  let maxRetryDelay = options.maxRetryDelay;
  for (const decorator of decorators) {
    const policy = decorator.definition.policy?.(decorator.params);
    if (policy === undefined) continue;
    if (policy.forbidRetries) forbid = true;
    if (typeof policy.retries === 'number') retries = Math.max(retries, policy.retries);
    retryDelay ??= policy.retryDelay;
    retryBackoff ??= policy.retryBackoff;
    maxRetryDelay ??= policy.maxRetryDelay;
  }
  return {
    retries: forbid ? 0 : retries,
    retryDelay: retryDelay ?? 0,
    retryBackoff: retryBackoff ?? 1,
    maxRetryDelay: maxRetryDelay ?? Number.POSITIVE_INFINITY,
  };
}

/** Runs every decorator's `stepInit` (definition time) and returns what they published. */
function runStepInit(
  flowId: string,
  taskId: string,
  decorators: readonly { name: string; params: unknown; definition: { hooks: { stepInit?: (sys: any, params: any) => void } } }[],
  retries: number,
  problems: FlowDefinitionProblem[],
): PublishedValues {
  const step: PublishedValues = new Map();
  for (const decorator of decorators) {
    const stepInit = decorator.definition.hooks.stepInit;
    if (stepInit === undefined) continue;
    const sys = createSystemContext(
      { phase: 'launch', flowId, runId: undefined, taskId, taskKey: undefined, mapIndex: undefined, attempt: 0, maxAttempts: retries + 1, isCloned: false },
      { step, attempt: undefined, write: 'step' },
    );
    try {
      stepInit(sys, decorator.params);
    } catch (error) {
      problems.push({ taskId, message: `decorator '${decorator.name}': stepInit threw: ${(error as Error).message}` });
    }
  }
  return step;
}

/** Every elementary cycle reachable by DFS, each reported once, starting at its first task. */
function findCycles(tasks: readonly TaskDefinition[], graph: FlowGraph): string[][] {
  const { down, downStart } = graph;
  const color = new Uint8Array(tasks.length); // 0 unvisited, 1 on stack, 2 done
  const stack: number[] = [];
  const cycles: string[][] = [];
  const seen = new Set<string>();
  // Iterative DFS so that a deep chain of 100k tasks cannot overflow the call stack.
  for (let root = 0; root < tasks.length; root++) {
    if (color[root] !== 0) continue;
    const iterators: number[] = [0];
    stack.push(root);
    color[root] = 1;
    while (stack.length > 0) {
      const node = stack[stack.length - 1]!;
      const position = downStart[node]! + iterators[iterators.length - 1]!++;
      const next = position < downStart[node + 1]! ? down[position]! : undefined;
      if (next === undefined) {
        color[node] = 2;
        stack.pop();
        iterators.pop();
      } else if (color[next] === 1) {
        const cycle = stack.slice(stack.indexOf(next)).map((index) => tasks[index]!.id);
        const key = [...cycle].sort().join('\u0000');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(cycle);
        }
      } else if (color[next] === 0) {
        color[next] = 1;
        stack.push(next);
        iterators.push(0);
      }
    }
  }
  return cycles;
}

function isTaskRef(value: unknown): value is TaskRef<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as TaskRef).id === 'string' && 'flowId' in value;
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
