// The shape of a flow definition: its task graph as plain data (no functions), what a stored run
// keeps so that `status`, `viz run` and a web UI can draw it without importing the flow's code, and
// its hash, which tells whether two definitions have the same shape.
import { createHash } from 'node:crypto';
import { graphOf } from './graph.ts';
import type { TriggerRule } from './triggerRules.ts';
import type { Flow, TaskKind } from './types.ts';

/**
 * One task of a {@link FlowShape}. Options at their default are left out, so the shape of a large
 * flow stays small and adding a new option with a default changes no stored hash.
 *
 * @example
 * ```ts
 * const score: TaskShape = { id: 'score', kind: 'map', upstream: ['clean'], mapOver: 'clean', retries: 2 };
 * ```
 */
export interface TaskShape {
  /** The task's id. */
  readonly id: string;
  /** `task`, `map` (one instance per item of `mapOver`'s list) or `subtask` (runs only when called). */
  readonly kind: TaskKind;
  /** Ids of its upstream tasks, in order (for a mapped task the list's task comes first): the edges `upstream → id`. */
  readonly upstream: readonly string[];
  /** For a mapped task: the id of the task whose result list it maps over. */
  readonly mapOver?: string;
  /** Its trigger rule, when not `all_success`. */
  readonly trigger?: TriggerRule;
  /** `retries`, when not 0. */
  readonly retries?: number;
  /** `timeout` in ms, when set. */
  readonly timeout?: number;
  /** `true` for a setup task. */
  readonly setup?: true;
  /** Names of its decorators, in order, when it has any. */
  readonly decorators?: readonly string[];
}

/**
 * A flow definition's task graph as plain JSON data: task ids, kinds, edges, trigger rules, map
 * parents, and the options that change how a task runs (retries, timeout, setup, decorator names).
 * A stored run keeps the shape of the definition that drives it, so it can be drawn without the
 * flow's code. Task functions, hints and gate code are not part of it.
 *
 * @example
 * ```ts
 * import { flow, flowShape } from 'taskmachine';
 * const shape = flowShape(flow('etl', (f) => { const a = f.task('a', () => 1); f.task('b', () => 2, { after: a }); }));
 * shape; // { flowId: 'etl', tasks: [{ id: 'a', kind: 'task', upstream: [] }, { id: 'b', kind: 'task', upstream: ['a'] }], version: 1 }
 * ```
 */
export interface FlowShape {
  /** The shape format's version (1). */
  readonly version: 1;
  /** The flow's id. */
  readonly flowId: string;
  /** Every task, in definition order. */
  readonly tasks: readonly TaskShape[];
}

/**
 * The shape of a compiled flow (what `flow()` returns): see {@link FlowShape}. The shape is frozen
 * (deeply): it is valid by construction, so stores and {@link flowHash} can trust it without
 * walking it again; copy it to change it.
 *
 * @example
 * ```ts
 * import { flowShape } from 'taskmachine';
 * for (const task of flowShape(etl).tasks) console.log(task.id, '←', task.upstream.join(', '));
 * ```
 */
export function flowShape(flow: Flow): FlowShape {
  const graph = graphOf(flow);
  const { upStart, up } = graph;
  const ids = flow.tasks.map((task) => task.id);
  const tasks = new Array<TaskShape>(ids.length);
  // Imperative on purpose: a 100k-task flow's shape is made when each of its runs is created.
  for (let index = 0; index < ids.length; index++) {
    const task = flow.tasks[index]!;
    const upstream = new Array<string>(upStart[index + 1]! - upStart[index]!);
    for (let k = upStart[index]!; k < upStart[index + 1]!; k++) upstream[k - upStart[index]!] = ids[up[k]!]!;
    // Keys in sorted order, so the canonical JSON the hash reads is plain JSON.stringify.
    const shape = {} as Mutable<TaskShape>;
    if (task.decorators.length > 0) shape.decorators = task.decorators.map((decorator) => decorator.name);
    shape.id = task.id;
    shape.kind = task.kind;
    if (task.mapOver >= 0) shape.mapOver = ids[task.mapOver]!;
    if (task.retries !== 0) shape.retries = task.retries;
    if (task.setup) shape.setup = true;
    if (task.timeout !== undefined) shape.timeout = task.timeout;
    if (task.trigger !== 'all_success') shape.trigger = task.trigger;
    shape.upstream = Object.freeze(upstream);
    if (shape.decorators !== undefined) Object.freeze(shape.decorators);
    tasks[index] = Object.freeze(shape);
  }
  const made: FlowShape = Object.freeze({ flowId: flow.id, tasks: Object.freeze(tasks), version: 1 });
  madeShapes.set(made, undefined);
  return made;
}

/**
 * Shapes {@link flowShape} made (frozen, keys sorted, valid), with their canonical JSON once it was
 * written: a run's first batch needs both the hash and the stored text of the same shape, and
 * walking a 100k-task shape to check it costs as much as making it.
 */
const madeShapes = new WeakMap<FlowShape, string | undefined>();

/** Whether {@link flowShape} made this shape (so it needs no check). */
export function madeByFlowShape(shape: FlowShape): boolean {
  return madeShapes.has(shape);
}

/** The text a store keeps for a shape: its canonical JSON when flowShape made it (written once), else plain JSON. */
export function storedShapeJson(shape: FlowShape): string {
  return madeShapes.has(shape) ? canonicalShapeJson(shape) : JSON.stringify(shape);
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The shape as canonical JSON: object keys sorted, no spaces, so equal shapes give equal text
 * (whatever order their objects were built in).
 *
 * @example
 * ```ts
 * import { canonicalShapeJson, flowShape } from 'taskmachine';
 * canonicalShapeJson(flowShape(etl)); // '{"flowId":"etl","tasks":[…],"version":1}'
 * ```
 */
export function canonicalShapeJson(shape: FlowShape): string {
  if (madeShapes.has(shape)) {
    let json = madeShapes.get(shape);
    if (json === undefined) madeShapes.set(shape, (json = JSON.stringify(shape)));
    return json;
  }
  // A shape whose keys are already in sorted order (as flowShape makes them, and as a store gives
  // them back) is written by JSON.stringify: fast on a 100k-task flow. Anything else is sorted.
  return isSorted(shape) ? JSON.stringify(shape) : canonical(shape);
}

function isSorted(shape: FlowShape): boolean {
  const top = Object.keys(shape);
  if (top.length !== 3 || top[0] !== 'flowId' || top[1] !== 'tasks' || top[2] !== 'version') return false;
  if (typeof shape.flowId !== 'string' || !Array.isArray(shape.tasks) || typeof shape.version !== 'number') return false;
  for (const task of shape.tasks) {
    if (typeof task !== 'object' || task === null || Array.isArray(task)) return false;
    const keys = Object.keys(task);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (!taskKeySet.has(key) || (i > 0 && keys[i - 1]! >= key)) return false;
      const value = (task as unknown as Record<string, unknown>)[key];
      if (value === undefined || (typeof value === 'object' && value !== null && !(Array.isArray(value) && value.every((item) => typeof item === 'string')))) return false;
    }
  }
  return true;
}

/** The keys of a task shape, sorted. */
const taskKeys = ['decorators', 'id', 'kind', 'mapOver', 'retries', 'setup', 'timeout', 'trigger', 'upstream'] as const;
const taskKeySet: ReadonlySet<string> = new Set(taskKeys);

/** Any JSON value with object keys sorted (the general path of {@link canonicalShapeJson}). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The flow definition hash: `sha256:` and the SHA-256 (hex) of the shape's canonical JSON. Two
 * definitions with the same tasks, edges and options have the same hash whatever their code does;
 * changing the graph or an option in the shape changes it. A stored run records it (`flowHash`),
 * so a process can tell whether the definition it loaded is the one the run was started with.
 *
 * @example
 * ```ts
 * import { flowHash, flowShape } from 'taskmachine';
 * const hash = flowHash(flowShape(etl)); // 'sha256:3f1c…'
 * if (run.flowHash !== undefined && run.flowHash !== hash) throw new Error('another definition');
 * ```
 */
export function flowHash(shape: FlowShape): string {
  return `sha256:${createHash('sha256').update(canonicalShapeJson(shape)).digest('hex')}`;
}

const hashes = new WeakMap<Flow, string>();

/**
 * A flow's definition hash, `flowHash(flowShape(flow))` — the one a stored run records
 * (`runs.flow_hash`) and workers compare — remembered per flow object (a flow is immutable). Its
 * tasks, edges, trigger rules and options are in it; task code is not, so a changed task body with
 * the same graph and options is not told apart.
 *
 * @example
 * ```ts
 * import { definitionHash } from 'taskmachine/workers';
 * definitionHash(etl); // 'sha256:3f1c…'
 * ```
 */
export function definitionHash(flow: Flow): string {
  return definitionHashWith(flow, () => flowShape(flow));
}

/**
 * A definition hash as people read it: `sha256:` and its first 12 hex digits (as a short git
 * commit id), enough to tell two definitions apart in a log line that fits a terminal.
 *
 * @example
 * ```ts
 * shortHash('sha256:54fc17c406ca397751b03c69…'); // 'sha256:54fc17c406ca'
 * ```
 */
export function shortHash(hash: string): string {
  return hash.startsWith('sha256:') ? hash.slice(0, 'sha256:'.length + 12) : hash;
}

/**
 * {@link definitionHash} for a caller that makes the flow's shape anyway (opening a run): `shape`
 * is called only when the hash is not remembered yet, and must return `flowShape(flow)`.
 */
export function definitionHashWith(flow: Flow, shape: () => FlowShape): string {
  let hash = hashes.get(flow);
  if (hash === undefined) {
    hash = flowHash(shape());
    hashes.set(flow, hash);
  }
  return hash;
}
