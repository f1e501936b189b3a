// The types of the values that flow between tasks, computed from task references and trigger
// rules. Types only: nothing here exists at run time.
import type { Frozen } from '../frozen.ts';
import type { TriggerRule } from './triggerRules.ts';
import type { TaskKind, TaskRef, TaskReference } from '../taskRef.ts';

/**
 * What `after` accepts: one task reference or id, or a list of them.
 *
 * @example
 * ```ts
 * f.task('report', summarize, { after: [extract, 'clean'] });
 * ```
 */
export type AfterOption = TaskReference | readonly TaskReference[];

/**
 * Trigger rules under which a task runs only when every upstream instance succeeded: each
 * upstream value is there.
 *
 * @example
 * ```ts
 * f.task('load', ({ upstream }) => save(upstream.clean), { after: [clean] }); // all_success: readonly Row[]
 * ```
 */
export type AllSucceededRule = 'all_success';

/**
 * Trigger rules under which a task runs only when no upstream instance succeeded (every one
 * failed, or every one was skipped): no upstream value is there.
 *
 * @example
 * ```ts
 * f.task('alert', ({ upstream }) => page(upstream.load), { after: [load], trigger: 'all_failed' }); // undefined
 * ```
 */
export type NoneSucceededRule = 'all_failed' | 'all_skipped';

/**
 * The result type a task reference carries (`any` for an id given as a string).
 *
 * @example
 * ```ts
 * type R = ResultOf<typeof extract>; // Row[]
 * ```
 */
export type ResultOf<TRef> = TRef extends TaskRef<infer TResult, string, TaskKind, any> ? TResult : any;

/**
 * The element type of a list result (`any` when the result is not known to be a list).
 *
 * @example
 * ```ts
 * type E = ElementOf<Row[]>; // Row
 * ```
 */
export type ElementOf<TList> = TList extends readonly (infer TElement)[] ? TElement : any;

/**
 * The id a task reference carries (for an id given as a string, the string).
 *
 * @example
 * ```ts
 * type I = IdOf<typeof extract>; // 'extract'
 * ```
 */
export type IdOf<TRef> = TRef extends string ? TRef : TRef extends { readonly id: infer TId extends string } ? TId : never;

/**
 * What a downstream task receives for one upstream, as the runtime passes it:
 * - a task's value is its result when it succeeded, otherwise `undefined`;
 * - a mapped task's value is always a list: its instances' results in `mapIndex` order, `undefined`
 *   in the places of the instances that did not succeed (`[]` when it never expanded).
 *
 * `TRule` decides which of these can happen when the task runs: under `all_success` every
 * upstream succeeded, under `all_failed`/`all_skipped` none did, under every other rule either.
 *
 * @example
 * ```ts
 * import type { UpstreamValue } from 'taskmachine';
 * type Rows = UpstreamValue<typeof extract, 'all_success'>;   // Frozen<Row[]>
 * type MaybeRows = UpstreamValue<typeof extract, 'all_done'>; // Frozen<Row[]> | undefined
 * type Scores = UpstreamValue<typeof score, 'all_done'>;      // readonly (number | undefined)[]
 * ```
 */
export type UpstreamValue<TRef, TRule extends TriggerRule> = TRef extends string
  ? any
  : TRef extends TaskRef<infer TResult, string, infer TKind, any>
    ? [TRule] extends [AllSucceededRule]
      ? Frozen<TResult>
      : TKind extends 'map'
        ? readonly (([TRule] extends [NoneSucceededRule] ? never : Frozen<ElementOf<TResult>>) | undefined)[]
        : [TRule] extends [NoneSucceededRule]
          ? undefined
          : Frozen<TResult> | undefined
    : never;

type RefsIn<TAfter> = TAfter extends readonly unknown[] ? TAfter[number] : TAfter;

/**
 * The `upstream` argument of a task with `after: TAfter` and trigger rule `TRule`: one read-only
 * key per upstream id (an id not listed is a compile error), each typed by {@link UpstreamValue}.
 *
 * @example
 * ```ts
 * // after: [extract] (result Row[]), trigger 'all_done':
 * type U = UpstreamOf<readonly [TaskRef<Row[], 'extract', 'task'>], 'all_done'>;
 * //   { readonly extract: readonly Readonly<Row>[] | undefined }
 * ```
 */
export type UpstreamOf<TAfter, TRule extends TriggerRule> = {
  readonly [TRef in RefsIn<TAfter> as IdOf<TRef>]: UpstreamValue<TRef, TRule>;
};

/**
 * The `upstream` of a mapped task: the list it maps over is always there (its instances run only
 * when that task succeeded), the `after` upstreams follow the trigger rule.
 *
 * @example
 * ```ts
 * f.map('score', clean, ({ upstream }) => upstream.clean.length, { after: [config], trigger: 'all_done' });
 * // upstream: { readonly clean: readonly Row[] } & { readonly config: Config | undefined }
 * ```
 */
export type MappedUpstreamOf<TOver, TAfter, TRule extends TriggerRule> = UpstreamOf<TAfter, TRule> & {
  readonly [TRef in TOver as IdOf<TRef>]: UpstreamValue<TRef, AllSucceededRule>;
};

/**
 * The element type a mapped task's `item` has when it maps over `TOver`.
 *
 * @example
 * ```ts
 * type Item = ItemOf<typeof clean>; // { readonly id: number; … } (a Row, read-only)
 * ```
 */
export type ItemOf<TOver> = TOver extends string ? any : Frozen<ElementOf<ResultOf<TOver>>>;

/**
 * What `run.result(ref)` gives: a task's result when it succeeded (otherwise `undefined`), a mapped
 * task's list of results with `undefined` for instances that did not succeed.
 *
 * @example
 * ```ts
 * type Scores = RunResultOf<typeof score>; // readonly (number | undefined)[]
 * ```
 */
export type RunResultOf<TRef> = UpstreamValue<TRef, TriggerRule>;
