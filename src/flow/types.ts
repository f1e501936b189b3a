import type { TaskContext } from '../context/taskContext.ts';
import type { TriggerRule } from './triggerRules.ts';
import type { AfterOption, UpstreamOf } from './upstream.ts';
import type { Decorator } from '../decorators/types.ts';
import type { PublishedValues } from '../decorators/systemContext.ts';

/**
 * What a task function receives.
 *
 * `upstream` maps each upstream task id to its result (a mapped upstream gives the ordered list of
 * its instances' results). Defined with task references in `after`, its type is computed from them
 * and the trigger rule (see {@link UpstreamOf}); with ids given as strings, their values are `any`.
 *
 * @example
 * ```ts
 * const extract = f.task('extract', async ({ input }) => fetchRows(input.day));
 * f.task('clean', ({ upstream, ctx }) => {
 *   ctx.log(`cleaning ${upstream.extract.length} rows`); // upstream.extract: readonly Row[]
 *   return upstream.extract.filter(ok);
 * }, { after: [extract] });
 * ```
 */
export interface TaskArgs<TInput = any, TUpstream extends object = Readonly<Record<string, any>>, TItem = any> {
  /** The run's input (for a task started with `ctx().call`, the call's input). */
  input: TInput;
  /** Results of the upstream tasks, by task id: a null-prototype object, like `Object.groupBy`'s results. */
  upstream: TUpstream;
  /** For a mapped task instance: the item of the list it was mapped over. */
  item?: TItem;
  /** For a mapped task instance: its index in the list, 0-based. */
  mapIndex?: number;
  /**
   * The attempt's context, the same object `ctx()` returns in the task's own code (inside a
   * `withCustomContext` scope, `ctx()` gives that scope's copy).
   */
  ctx: TaskContext;
}

/**
 * What a mapped task's function receives: {@link TaskArgs} with `item` (typed from the list it maps
 * over) and `mapIndex` always set.
 *
 * @example
 * ```ts
 * const score = f.map('score', clean, ({ item, mapIndex }) => model(item, mapIndex)); // item: Readonly<Row>
 * ```
 */
export interface MappedTaskArgs<TInput = any, TUpstream extends object = Readonly<Record<string, any>>, TItem = any>
  extends TaskArgs<TInput, TUpstream, TItem> {
  item: TItem;
  mapIndex: number;
}

/**
 * A task's function: may return a value (or a promise of one) or throw.
 *
 * @example
 * ```ts
 * const load: TaskFn<{ day: string }, number> = async ({ input }) => countRows(input.day);
 * ```
 */
export type TaskFn<TInput = any, TResult = unknown, TArgs extends TaskArgs<TInput, any, any> = TaskArgs<TInput>> = (
  args: TArgs,
) => TResult | PromiseLike<TResult>;

/**
 * Options of a task. Durations are in milliseconds.
 *
 * @example
 * ```ts
 * f.task('extract', fetchRows, { retries: 2, retryDelay: 1_000, retryBackoff: 2, timeout: 30_000 });
 * ```
 */
export interface TaskOptions<
  TAfter extends AfterOption = AfterOption,
  TRule extends TriggerRule = TriggerRule,
  TDecorators extends readonly Decorator<any, any>[] = readonly Decorator<any, any>[],
> {
  /**
   * Tasks this one runs after (its upstreams). A task reference from this flow, or its id. With
   * references, `upstream` is typed from them (see {@link UpstreamOf}).
   * @default []
   */
  after?: TAfter;
  /**
   * When the task may run, given how its upstreams ended (Airflow's trigger rules). Rules that let
   * the task run with upstreams that did not succeed make their values possibly `undefined` in
   * `upstream`'s type.
   * @default 'all_success'
   */
  trigger?: TRule;
  /**
   * Retries after a failed attempt: `retries: N` means at most N + 1 attempts.
   * @default 0
   */
  retries?: number;
  /**
   * Delay before the first retry, in ms.
   * @default 0
   */
  retryDelay?: number;
  /**
   * Factor the delay is multiplied by for each further retry (1 keeps it constant).
   * @default 1
   */
  retryBackoff?: number;
  /**
   * Upper bound of the retry delay, in ms.
   * @default Infinity
   */
  maxRetryDelay?: number;
  /**
   * Time an attempt may run, in ms. When exceeded, `ctx().signal` is aborted with a
   * `TaskTimeoutError` (retryable) and whatever the attempt does later is discarded.
   * @default undefined (no timeout)
   */
  timeout?: number;
  /**
   * After `throw new TaskCheckpointed(data)`, resume the task automatically after this many ms.
   * When not set, only `handle.resumeTask(key)` resumes it.
   * @default undefined (manual resume)
   */
  resumeAfter?: number;
  /**
   * Interrupted attempts (the process running them crashed, was killed or was shut down) this
   * task's instances run again after, without using a retry; one more interruption fails the
   * instance with failure kind `interrupted` (a task that kills its process every time cannot loop
   * forever).
   * @default the run's `maxInterruptions` (3)
   */
  maxInterruptions?: number;
  /**
   * Namespaced hints for readiness gates and decorators, e.g. `{ 'glacier/maxWait': 60_000 }`.
   * @default {}
   */
  hints?: Readonly<Record<string, unknown>>;
  /**
   * Marks a setup task: `all_done_setup_success` downstream tasks need one of their setup
   * upstreams to succeed.
   * @default false
   */
  setup?: boolean;
  /**
   * Decorators applied to this task's attempts, in order: hooks run first to last, and the last
   * decorator's `wrap` is outermost. A decorator that changes the result (`catchErrors`) changes
   * the type the task's reference carries.
   * @default []
   */
  decorators?: TDecorators;
}

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

/** How a task is instantiated. */
export type TaskKind = 'task' | 'map' | 'subtask';

/** A task as the runtime sees it: defaults applied, dependencies resolved to indices. */
export interface TaskDefinition {
  readonly id: string;
  readonly index: number;
  readonly kind: TaskKind;
  readonly fn: TaskFn;
  readonly trigger: TriggerRule;
  readonly retries: number;
  readonly retryDelay: number;
  readonly retryBackoff: number;
  readonly maxRetryDelay: number;
  readonly timeout: number | undefined;
  readonly resumeAfter: number | undefined;
  /** The task's own `maxInterruptions`; `undefined` takes the run's. */
  readonly maxInterruptions: number | undefined;
  readonly hints: Readonly<Record<string, unknown>>;
  readonly setup: boolean;
  readonly decorators: readonly Decorator<any>[];
  /** Values decorators published in `stepInit` (step scope). */
  readonly published: PublishedValues;
  /** Indices of the upstream tasks (for a mapped task, the list's task comes first). */
  readonly upstream: readonly number[];
  /** Indices of the downstream tasks. */
  readonly downstream: readonly number[];
  /** For a mapped task: the index of the task whose result list it maps over; otherwise -1. */
  readonly mapOver: number;
}

/**
 * A validated flow definition, made by {@link flow}. Immutable; run it with `runFlow` or
 * `startFlow`. `TTasks` is what its `build` function returned (the task references it chose to
 * expose, `void` when it returned nothing): they are `refs`, and they type the run records.
 *
 * @example
 * ```ts
 * import { flow } from 'taskmachine';
 * const hello = flow('hello', (f) => ({ greet: f.task('greet', ({ input }) => `hello ${input.name}`) }));
 * hello.tasks.map((t) => t.id); // ['greet']
 * const run = await runFlow(hello, { input: { name: 'Ada' } });
 * run.result(hello.refs.greet);  // 'hello Ada' (typed string | undefined)
 * ```
 */
export interface Flow<TInput = any, TTasks = unknown> {
  /** The flow's id. */
  readonly id: string;
  /** Its tasks in definition order. */
  readonly tasks: readonly TaskDefinition[];
  /** Task lookup by id. */
  readonly task: (id: string) => TaskDefinition | undefined;
  /**
   * What `build` returned: the task references it exposes (for `run.result(flow.refs.x)`, or for
   * another module to call them), `undefined` when it returned nothing.
   * @default undefined
   */
  readonly refs: TTasks;
  /** Phantom field carrying the input type; never set. */
  readonly __input?: TInput;
}
