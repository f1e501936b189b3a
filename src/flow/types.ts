import type { TaskArgs } from '../context/taskArgs.ts';
import type { TaskKind } from '../taskRef.ts';
import type { TriggerRule } from './triggerRules.ts';
import type { AfterOption, UpstreamOf } from './upstream.ts';
import type { Decorator } from '../decorators/types.ts';
import type { PublishedValues } from '../decorators/systemContext.ts';

export type { MappedTaskArgs, TaskArgs } from '../context/taskArgs.ts';
export type { TaskKind, TaskRef, TaskReference } from '../taskRef.ts';

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
 * A task as the runtime sees it: defaults applied, dependencies resolved to indices.
 *
 * @example
 * ```ts
 * const load = etl.task('load'); // TaskDefinition | undefined
 * load?.retries; // 0 unless the task (or a decorator) asked for retries
 * etl.tasks.map((task) => `${task.id} after ${task.upstream.map((i) => etl.tasks[i]!.id).join(', ')}`);
 * ```
 */
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
