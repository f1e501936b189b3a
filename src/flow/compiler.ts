import { type FlowDefinitionProblem } from '../errors.ts';
import { suggest } from '../suggest.ts';
import { checkDecorators } from '../decorators/defineDecorator.ts';
import { createSystemContext, type PublishedValues } from '../decorators/systemContext.ts';
import { CompiledTask, DEFAULT_SETTINGS, EMPTY_HINTS, NOTHING_PUBLISHED, hasDefaultSettings, sharedSettings } from './compiledTask.ts';
import { FlowGraph } from './graph.ts';
import { triggerRules, type TriggerRule } from './triggerRules.ts';
import type { TaskDefinition, TaskFn, TaskKind, TaskOptions, TaskRef, TaskReference } from './types.ts';

/** What flow ids and task ids may look like. */
export const ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/;
const HINT_KEY_PATTERN = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.\/-]+$/;
const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'after',
  'trigger',
  'retries',
  'retryDelay',
  'retryBackoff',
  'maxRetryDelay',
  'timeout',
  'resumeAfter',
  'maxInterruptions',
  'hints',
  'setup',
  'decorators',
]);

interface PendingRef {
  readonly task: number;
  readonly taskId: string;
  readonly ref: string;
  readonly what: string;
}

const DROPPED = -1;

/**
 * Compiles each task as it is defined, so nothing the build function passes (options objects,
 * `after` lists) is kept until the end: with 100k tasks, keeping them meant tens of MB copied by
 * the garbage collector and left in old space. References to tasks defined later (by id) are
 * resolved in `finish()`, which also builds the graph and looks for cycles. Problems are collected,
 * never thrown, so every one is reported together.
 */
export class FlowCompiler {
  readonly #flowId: string;
  readonly #problems: FlowDefinitionProblem[];
  readonly #indexById = new Map<string, number>();
  readonly #tasks: CompiledTask[] = [];
  /** Where each task's upstreams start in `#edges` (CSR, see FlowGraph). */
  readonly #upStart: number[] = [];
  /** Upstream indices of all tasks, in one list; a negative entry `-(k + 2)` is `#pending[k]`. */
  readonly #edges: number[] = [];
  readonly #pending: PendingRef[] = [];

  constructor(flowId: string, problems: FlowDefinitionProblem[]) {
    this.#flowId = flowId;
    this.#problems = problems;
  }

  add(kind: TaskKind, id: string, fn: unknown, givenOptions: TaskOptions, over: TaskReference | undefined): TaskRef<any> {
    const problems = this.#problems;
    const index = this.#tasks.length;
    const taskId = String(id);
    if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
      problems.push({
        taskId,
        message: `task id ${JSON.stringify(id)} is invalid: use letters, digits, '_', '.', ':' or '-' ('[', ']', '/', '#' and spaces are reserved for task keys)`,
      });
    } else if (this.#indexById.has(id)) {
      problems.push({ taskId: id, message: 'duplicate task id: every task in a flow needs its own id' });
    } else {
      this.#indexById.set(id, index);
    }
    this.#upStart.push(this.#edges.length);
    if (typeof fn !== 'function') {
      problems.push({ taskId, message: `the task function must be a function, got ${describe(fn)}` });
    }
    const options = checkOptions(taskId, givenOptions, problems);
    let mapOver = -1;
    if (kind === 'map') {
      mapOver = this.#resolve(index, taskId, over, 'the list to map over');
      this.#addEdge(index, mapOver);
    }
    const { decorators, problems: decoratorProblems } = checkDecorators({ id: taskId, kind }, options.decorators);
    problems.push(...decoratorProblems);
    const policy = mergePolicies(options, decorators);
    const published =
      decoratorProblems.length === 0 && decorators.some((d) => d.definition.hooks.stepInit !== undefined)
        ? runStepInit(this.#flowId, taskId, decorators, policy.retries, problems)
        : NOTHING_PUBLISHED;
    const after = options.after === undefined ? [] : Array.isArray(options.after) ? options.after : [options.after];
    if (kind === 'subtask' && after.length > 0) {
      problems.push({ taskId, message: "a subtask has no upstreams ('after'): it runs when called" });
    }
    for (const ref of after) this.#addEdge(index, this.#resolve(index, taskId, ref, 'upstream'));
    const settings =
      decorators.length === 0 && hasDefaultSettings(options)
        ? DEFAULT_SETTINGS
        : sharedSettings({
      trigger: options.trigger ?? 'all_success',
      retries: policy.retries,
      retryDelay: policy.retryDelay,
      retryBackoff: policy.retryBackoff,
      maxRetryDelay: policy.maxRetryDelay,
      timeout: policy.timeout,
      resumeAfter: options.resumeAfter,
      maxInterruptions: options.maxInterruptions,
      hints: options.hints === undefined ? EMPTY_HINTS : Object.freeze({ ...options.hints }),
      setup: options.setup ?? false,
      decorators,
      published,
    });
    // The compiled task is also the reference the build function gets: one object per task.
    const task = new CompiledTask(taskId, kind, this.#flowId, index, fn as TaskFn, settings, mapOver);
    this.#tasks.push(task);
    return task;
  }

  /** The upstream's index, a pending marker (an id not defined yet), or DROPPED after a problem. */
  #resolve(index: number, taskId: string, ref: unknown, what: string): number {
    const refId = typeof ref === 'string' ? ref : isTaskRef(ref) ? ref.id : undefined;
    if (refId === undefined) {
      this.#problems.push({ taskId, message: `${what} must be a task reference or a task id, got ${describe(ref)}` });
      return DROPPED;
    }
    if (isTaskRef(ref) && ref.flowId !== this.#flowId) {
      this.#problems.push({ taskId, message: `${what} '${refId}' belongs to flow '${ref.flowId}', not to this flow` });
      return DROPPED;
    }
    const upstream = this.#indexById.get(refId);
    if (upstream === undefined) {
      this.#pending.push({ task: index, taskId, ref: refId, what });
      return -(this.#pending.length + 1);
    }
    return this.#check(index, taskId, upstream, refId, what);
  }

  #check(index: number, taskId: string, upstream: number, refId: string, what: string): number {
    if (upstream === index) {
      this.#problems.push({ taskId, message: 'a task cannot run after itself' });
      return DROPPED;
    }
    if (this.#tasks[upstream]!.kind === 'subtask') {
      this.#problems.push({
        taskId,
        message: `${what} '${refId}' is a subtask: it runs only when called with ctx().call(), so nothing can run after it`,
      });
      return DROPPED;
    }
    return upstream;
  }

  #addEdge(index: number, upstream: number): void {
    if (upstream === DROPPED) return;
    if (upstream >= 0 && this.#edges.indexOf(upstream, this.#upStart[index]) !== -1) return;
    this.#edges.push(upstream);
  }

  /** Resolves forward references, builds the graph, finds cycles; freezes every task. */
  finish(): { tasks: readonly TaskDefinition[]; indexById: ReadonlyMap<string, number>; graph: FlowGraph } {
    const tasks = this.#tasks;
    const edges = this.#edges;
    const resolved = this.#pending.map(({ task, taskId, ref, what }) => {
      const upstream = this.#indexById.get(ref);
      if (upstream === undefined) {
        const near = suggest(ref, [...this.#indexById.keys()]);
        this.#problems.push({ taskId, message: `${what} '${ref}' is not a task of this flow (unknown task id)${near === undefined ? '' : `; did you mean '${near}'?`}` });
        return DROPPED;
      }
      return this.#check(task, taskId, upstream, ref, what);
    });
    // Compact: pending entries replaced by their index, dropped and repeated ones removed.
    const upStart = new Int32Array(tasks.length + 1);
    const up: number[] = [];
    for (let task = 0; task < tasks.length; task++) {
      upStart[task] = up.length;
      const end = task + 1 < tasks.length ? this.#upStart[task + 1]! : edges.length;
      for (let k = this.#upStart[task]!; k < end; k++) {
        const entry = edges[k]!;
        const upstream = entry >= 0 ? entry : resolved[-entry - 2]!;
        if (upstream !== DROPPED && up.indexOf(upstream, upStart[task]) === -1) up.push(upstream);
      }
    }
    upStart[tasks.length] = up.length;
    const graph = new FlowGraph(upStart, Int32Array.from(up));
    for (const task of tasks) {
      // A map over a task defined later: its list's index is known only now.
      CompiledTask.attach(task, graph, task.mapOver < DROPPED ? resolved[-task.mapOver - 2]! : task.mapOver);
    }
    for (const cycle of findCycles(tasks, graph)) {
      this.#problems.push({
        message: `cycle: ${[...cycle, cycle[0]].join(' → ')} (a task cannot depend on itself, even indirectly)`,
      });
    }
    return { tasks: Object.freeze(tasks), indexById: this.#indexById, graph };
  }
}

function checkOptions(taskId: string, options: TaskOptions, problems: FlowDefinitionProblem[]): TaskOptions {
  if (options === null || typeof options !== 'object') {
    problems.push({ taskId, message: `options must be an object, got ${describe(options)}` });
    return {};
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      problems.push({ taskId, message: `unknown option '${key}'; known options: ${[...KNOWN_OPTIONS].join(', ')}` });
    }
  }
  const { retries, retryDelay, retryBackoff, maxRetryDelay, timeout, resumeAfter, trigger, hints, maxInterruptions } = options;
  if (retries !== undefined && !(Number.isInteger(retries) && retries >= 0)) {
    problems.push({ taskId, message: `retries must be a whole number ≥ 0, got ${describe(retries)}` });
  }
  if (maxInterruptions !== undefined && !(Number.isInteger(maxInterruptions) && maxInterruptions >= 0)) {
    problems.push({ taskId, message: `maxInterruptions must be a whole number ≥ 0, got ${describe(maxInterruptions)}` });
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
 * The task's retry and timeout settings after its decorators: the largest retry count wins, a
 * decorator that forbids retries wins over everything, explicit task options win for delays, and
 * the shortest timeout (task option or decorator) wins.
 */
function mergePolicies(options: TaskOptions, decorators: readonly { definition: { policy?: (p: any) => any }; params: unknown }[]) {
  let retries = options.retries ?? 0;
  let forbid = false;
  let retryDelay = options.retryDelay;
  let retryBackoff = options.retryBackoff;
  let maxRetryDelay = options.maxRetryDelay;
  let timeout = options.timeout;
  for (const decorator of decorators) {
    const policy = decorator.definition.policy?.(decorator.params);
    if (policy === undefined) continue;
    if (policy.forbidRetries) forbid = true;
    if (typeof policy.retries === 'number') retries = Math.max(retries, policy.retries);
    retryDelay ??= policy.retryDelay;
    retryBackoff ??= policy.retryBackoff;
    maxRetryDelay ??= policy.maxRetryDelay;
    if (typeof policy.timeout === 'number') timeout = timeout === undefined ? policy.timeout : Math.min(timeout, policy.timeout);
  }
  return {
    timeout,
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
      // (When the flow is defined there is no run, and so no run's log.)
      (line) => console.warn(line),
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

