// What a task function receives (its arguments), apart from the flow types so that decorators,
// which wrap task functions, can name it without importing the flow builder's types.
import type { TaskContext } from './taskContext.ts';

/**
 * What a task function receives.
 *
 * `upstream` maps each upstream task id to its result (a mapped upstream gives the ordered list of
 * its instances' results). Defined with task references in `after`, its type is computed from them
 * and the trigger rule (see `UpstreamOf` in `flow/upstream.ts`); with ids given as strings, their values are `any`.
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
