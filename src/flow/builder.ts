import type { DecoratedResult, Decorator } from '../decorators/types.ts';
import type { TriggerRule } from './triggerRules.ts';
import type { MappedTaskArgs, TaskArgs, TaskKind, TaskOptions, TaskRef, TaskReference } from './types.ts';
import type { AfterOption, ItemOf, MappedUpstreamOf, UpstreamOf } from './upstream.ts';

/**
 * A list a mapped task can map over: a task whose result is a list, or a task id.
 *
 * @example
 * ```ts
 * f.map('score', clean, ({ item }) => model(item));   // a reference: item is typed from clean's result
 * f.map('tag', 'clean', ({ item }) => tagRow(item));  // an id: item is `any`
 * ```
 */
export type MapSource = TaskRef<readonly unknown[], string, TaskKind, any> | string;

/**
 * Defines the tasks of a flow. Handed to the `build` function of {@link flow}; only usable while
 * `build` runs.
 *
 * Each method returns a {@link TaskRef} carrying the task's id and result type. Passing references
 * (rather than ids) to `after` types `upstream`: one key per upstream, typed by its result and by
 * the trigger rule (a rule that lets the task run after an upstream failed or was skipped makes
 * that upstream's value possibly `undefined`). `f.map` types `item` from its list's elements.
 *
 * @example
 * ```ts
 * import { flow, type FlowBuilder } from 'taskmachine';
 * export const etl = flow('etl', (f: FlowBuilder<{ day: string }>) => {
 *   const extract = f.task('extract', ({ input }) => fetchRows(input.day), { retries: 2 });
 *   const score = f.map('score', extract, ({ item }) => model(item));
 *   return { extract, score };
 * });
 * ```
 */
export interface FlowBuilder<TInput = any> {
  /**
   * Adds a task: one task instance per run, keyed by `id`.
   *
   * @example
   * ```ts
   * const extract = f.task('extract', async ({ input }) => fetchRows(input.day), { retries: 2 });
   * f.task('clean', ({ upstream }) => upstream.extract.filter(ok), { after: [extract] });
   * //                 upstream: { readonly extract: readonly Readonly<Row>[] }; upstream.nope is an error
   * ```
   */
  task<
    TResult,
    const TId extends string = string,
    const TAfter extends AfterOption = readonly [],
    TRule extends TriggerRule = 'all_success',
    const TDecorators extends readonly Decorator<any, any>[] = readonly [],
  >(
    id: TId,
    fn: (args: TaskArgs<TInput, UpstreamOf<TAfter, TRule>, undefined>) => TResult | PromiseLike<TResult>,
    options?: TaskOptions<TAfter, TRule, TDecorators>,
  ): TaskRef<DecoratedResult<Awaited<TResult>, TDecorators>, TId, 'task', CallInputOf<TInput, TAfter>>;
  /**
   * Adds a mapped task: when `over` has succeeded, one task instance per item of its result list,
   * keyed `id[0]`, `id[1]`, …; each receives `item` (typed from the list's elements) and
   * `mapIndex`. An empty list skips the task. Downstream tasks receive the ordered list of results.
   *
   * @example
   * ```ts
   * const score = f.map('score', clean, async ({ item }) => model(item)); // item: Readonly<Row>
   * f.task('report', ({ upstream }) => summarize(upstream.score), { after: [score] }); // readonly Score[]
   * ```
   */
  map<
    TResult,
    const TId extends string = string,
    const TOver extends MapSource = string,
    const TAfter extends AfterOption = readonly [],
    TRule extends TriggerRule = 'all_success',
    const TDecorators extends readonly Decorator<any, any>[] = readonly [],
  >(
    id: TId,
    over: TOver,
    fn: (args: MappedTaskArgs<TInput, MappedUpstreamOf<TOver, TAfter, TRule>, ItemOf<TOver>>) => TResult | PromiseLike<TResult>,
    options?: TaskOptions<TAfter, TRule, TDecorators>,
  ): TaskRef<DecoratedResult<Awaited<TResult>, TDecorators>[], TId, 'map', NotCallable>;
  /**
   * Adds a task that is not part of the DAG: it runs only when another task calls it with
   * `await ctx.call(ref, input)`, as a child task instance with its own lifecycle and retries.
   * Annotate `input` in `fn` to type what `call` must pass.
   *
   * @example
   * ```ts
   * const fetchPage = f.subtask('fetchPage', ({ input }: { input: { url: string } }) => get(input.url), { retries: 3 });
   * f.task('crawl', ({ ctx }) => Promise.all(urls.map((url) => ctx.call(fetchPage, { url }))));
   * ```
   */
  subtask<TResult, TCallInput = any, const TId extends string = string, const TDecorators extends readonly Decorator<any, any>[] = readonly []>(
    id: TId,
    fn: (args: TaskArgs<TCallInput, {}, undefined>) => TResult | PromiseLike<TResult>,
    options?: Omit<TaskOptions<AfterOption, TriggerRule, TDecorators>, 'after' | 'trigger'>,
  ): TaskRef<DecoratedResult<Awaited<TResult>, TDecorators>, TId, 'subtask', TCallInput>;
}

/**
 * What `ctx.call` must give a task of the DAG: the flow's input for a task without upstreams;
 * {@link NotCallable} (it cannot be called) for a task with upstreams, whose function expects
 * upstream values a call does not give (a child's `upstream` is empty). A mapped task, which
 * expects an item, is not callable either. Call subtasks instead.
 *
 * @example
 * ```ts
 * const a = f.task('a', ({ input }) => input.day);             // ctx.call(a, { day }) is fine
 * const b = f.task('b', ({ upstream }) => upstream.a, { after: [a] }); // ctx.call(b, …) does not compile
 * ```
 */
export type CallInputOf<TInput, TAfter> = [TAfter] extends [readonly []] ? TInput : NotCallable;

/**
 * The call input of a task that `ctx.call` cannot run (a task with upstreams, a mapped task): no
 * value has it, so a call does not compile, and the error names the reason.
 *
 * @example
 * ```ts
 * ctx.call(score, items); // error: … 'ctx.call: this task expects upstream values or an item a call does not give; call a subtask'
 * ```
 */
export interface NotCallable {
  readonly 'ctx.call: this task expects upstream values or an item a call does not give; call a subtask': never;
}

/**
 * What a flow's `build` function may return: the references of the tasks to type `run.tasks` by.
 *
 * @example
 * ```ts
 * import { flow, type FlowBuilder, type FlowTasks } from 'taskmachine';
 * // A helper that makes flows of one kind and keeps the references their build returns:
 * const daily = <const T extends FlowTasks>(id: string, build: (f: FlowBuilder<{ day: string }>) => T) =>
 *   flow(`daily-${id}`, build);
 * ```
 */
export type FlowTasks = TaskReference | readonly TaskReference[] | { readonly [name: string]: TaskReference };

/**
 * The task references in what a `build` function returned: the `TTasks` that type a run of the
 * flow (`startFlow(etl)` returns a `FlowRunHandle<RefsOf<typeof etl.refs>>`).
 *
 * @example
 * ```ts
 * import type { FlowRunHandle, RefsOf } from 'taskmachine';
 * type EtlHandle = FlowRunHandle<RefsOf<typeof etl.refs>>;
 * const rerunScores = (handle: EtlHandle) => handle.clear('score[0]', { downstream: true });
 * ```
 */
export type RefsOf<TTasks> = TTasks extends string
  ? never
  : TTasks extends TaskRef<any, string, any, any>
    ? TTasks
    : TTasks extends readonly unknown[]
      ? Extract<TTasks[number], TaskRef<any, string, any, any>>
      : TTasks extends object
        ? Extract<TTasks[keyof TTasks], TaskRef<any, string, any, any>>
        : never;
