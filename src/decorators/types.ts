import type { TaskArgs } from '../context/taskArgs.ts';
import type { TaskInstanceChange } from '../taskInstanceRecord.ts';

/**
 * A task function as a decorator's `wrap` hook sees it: it takes the task's arguments and returns
 * its result or a promise of it.
 *
 * @example
 * ```ts
 * const logged = (fn: WrappableTaskFn): WrappableTaskFn => async (args) => {
 *   args.ctx.log('starting');
 *   return await fn(args);
 * };
 * ```
 */
export type WrappableTaskFn = (args: TaskArgs) => unknown;

/**
 * A type-level function from a task's result type to the result its decorator leaves (most
 * decorators leave it as it is; `catchErrors` wraps it). Implement it as an interface whose `out`
 * reads `this['result']`:
 *
 * @example
 * ```ts
 * interface Timestamped extends ResultTransform {
 *   readonly out: { readonly value: this['result']; readonly at: number };
 * }
 * ```
 */
export interface ResultTransform {
  /** The task's result type (set when the transform is applied). */
  readonly result: unknown;
  /** The decorated task's result type. */
  readonly out: unknown;
}

/**
 * The {@link ResultTransform} of decorators that leave the result as it is (the default).
 *
 * @example
 * ```ts
 * type Same = ApplyResultTransform<KeepResult, number>; // number
 * ```
 */
export interface KeepResult extends ResultTransform {
  readonly out: this['result'];
}

/**
 * Applies a {@link ResultTransform} to a result type.
 *
 * @example
 * ```ts
 * type R = ApplyResultTransform<CaughtErrors<'err'>, number>; // { readonly value: number | undefined } & { readonly err: Error | null }
 * ```
 */
export type ApplyResultTransform<TTransform, TResult> = TTransform extends ResultTransform
  ? (TTransform & { readonly result: TResult })['out']
  : TResult;

/**
 * A task's result type after its decorators (applied in order, as their `onAttemptSettled` hooks
 * run); a list of decorators that is not a tuple leaves it as it is.
 *
 * @example
 * ```ts
 * type R = DecoratedResult<number, readonly [Decorator<{ var: string }, CaughtErrors<'err'>>]>;
 * //   { readonly value: number | undefined; readonly err: Error | null }
 * ```
 */
export type DecoratedResult<TResult, TDecorators> = TDecorators extends readonly [infer First, ...infer Rest]
  ? DecoratedResult<First extends Decorator<any, infer TTransform> ? ApplyResultTransform<TTransform, TResult> : TResult, Rest>
  : TResult;

/**
 * When a hook runs: `launch` (definition time: `stepInit`), `dispatch` (the runtime hands the task
 * instance out: `taskCreated`, `onTaskFinished`, `runFinished`), `task` (inside an attempt:
 * `beforeAttempt`, `wrap`, `onAttemptSettled`).
 *
 * @example
 * ```ts
 * import type { HookPhase, SystemContext } from 'taskmachine';
 * const when: Record<HookPhase, string> = { launch: 'in flow()', dispatch: 'in the runtime', task: 'in an attempt' };
 * const trace = (sys: SystemContext, hook: string) => console.log(`${hook} ${when[sys.phase]}: ${sys.taskId}`);
 * ```
 */
export type HookPhase = 'launch' | 'dispatch' | 'task';

/**
 * The immutable context every decorator hook receives. A new one is made per attempt (and per
 * dispatch-time call), so concurrent task instances never share one: there is no process-wide
 * mutable singleton to race on.
 *
 * @example
 * ```ts
 * beforeAttempt(sys) {
 *   sys.publish('audit', 'startedAt', Date.now());       // attempt scope
 *   const limits = sys.getPublished('resources', 'request'); // step scope, from stepInit
 * }
 * ```
 */
export interface SystemContext {
  readonly phase: HookPhase;
  readonly flowId: string;
  /** `undefined` at definition time. */
  readonly runId: string | undefined;
  readonly taskId: string;
  /** `undefined` at definition time. */
  readonly taskKey: string | undefined;
  readonly mapIndex: number | undefined;
  /** The attempt number (1-based); 0 outside an attempt. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /**
   * True when the task instance's result was reused from an earlier run instead of running: a
   * resumed run calls `onTaskFinished(true)` with it for every decorated instance it restored as
   * `success`, so decorators can account for reused work.
   */
  readonly isCloned: boolean;
  /**
   * Publishes a value under `(namespace, key)`: in `stepInit` for every instance of the task (step
   * scope); during an attempt for that attempt only (attempt scope: invisible to other attempts and
   * other task instances).
   */
  publish(namespace: string, key: string, value: unknown): void;
  /** Reads a published value: the attempt's own first, then the step's. */
  getPublished(namespace: string, key: string): unknown;
  /**
   * Writes a line to the run's log (`runFlow`'s `log` option, which the CLI prints), formatted
   * like `console.log`; in `stepInit` (no run yet) to `console.warn`; for an attempt on a worker,
   * to the worker's log (not stored, not sent to the driver). A decorator that reports
   * something uses it, so a service that routes the run's log gets the decorator's lines too.
   *
   * @example
   * ```ts
   * onAttemptSettled(result, sys) { if (!result.ok) sys.log(`${sys.taskKey}: attempt ${sys.attempt} failed`); }
   * ```
   */
  log(...parts: unknown[]): void;
}

/**
 * What an attempt produced, as `onAttemptSettled` sees it.
 *
 * @example
 * ```ts
 * import { defineDecorator, type AttemptResult } from 'taskmachine';
 * const failed = (result: AttemptResult) => !result.ok && !result.control; // not SkipTask, a deferral, …
 * export const failureLog = defineDecorator({ name: 'failure-log', defaults: {}, hooks: {
 *   onAttemptSettled(result, sys) {
 *     if (failed(result)) console.warn(`${sys.taskKey}: attempt ${sys.attempt} failed`);
 *   },
 * } });
 * ```
 */
export type AttemptResult =
  | { readonly ok: true; readonly value: unknown }
  | {
      readonly ok: false;
      readonly error: Error;
      /** Whether the runtime will retry after this attempt (attempts remain and the error is retryable). */
      readonly willRetry: boolean;
      /**
       * True for control flow rather than failure (`SkipTask`, `TaskCheckpointed`, `ctx().defer`,
       * `ctx().reschedule`): `handled` is ignored for these.
       */
      readonly control: boolean;
    };

/**
 * What `onAttemptSettled` may return: `handled: true` turns a failed attempt into a success
 * (`value` becomes the result); on a successful attempt `value` replaces the result.
 *
 * @example
 * ```ts
 * import { defineDecorator, type AttemptResult, type SettledVerdict } from 'taskmachine';
 * // A missing source file counts as no rows: the failed attempt becomes a success with [].
 * const emptyIfMissing = (result: AttemptResult): SettledVerdict =>
 *   !result.ok && (result.error as NodeJS.ErrnoException).code === 'ENOENT' ? { handled: true, value: [] } : undefined;
 * const optional = defineDecorator({ name: 'optional', defaults: {}, hooks: { onAttemptSettled: emptyIfMissing } });
 * ```
 */
export type SettledVerdict = void | { readonly handled?: boolean; readonly value?: unknown };

/**
 * Retry and timeout settings a decorator contributes to its task at definition time.
 *
 * @example
 * ```ts
 * import { defineDecorator, type TaskPolicy } from 'taskmachine';
 * export const flaky = defineDecorator({
 *   name: 'flaky',
 *   defaults: { retries: 3 },
 *   policy: ({ retries }): TaskPolicy => ({ retries, retryDelay: 1_000, retryBackoff: 2, timeout: 60_000 }),
 *   hooks: {},
 * });
 * f.task('fetch', fetchPrices, { decorators: [flaky({ retries: 5 })] });
 * ```
 */
export interface TaskPolicy {
  /** Retries wanted; the task gets the largest of its own option and every decorator's. */
  readonly retries?: number;
  /** Forbid any retry, whatever the task and other decorators say. */
  readonly forbidRetries?: boolean;
  readonly retryDelay?: number;
  readonly retryBackoff?: number;
  readonly maxRetryDelay?: number;
  /** Time an attempt may run, in ms; the task gets the shortest of its own option and every decorator's. */
  readonly timeout?: number;
}

/**
 * Tools a decorator's actor gets for reacting to transitions.
 *
 * @example
 * ```ts
 * import { defineDecorator, type DecoratorActorScope } from 'taskmachine';
 * export const queueTime = defineDecorator({ name: 'queue-time', defaults: {}, hooks: {
 *   onTransition({ taskInstance: { key }, previousState, state }, { clock, local }: DecoratorActorScope) {
 *     if (state === 'queued') local.set(key, clock.now());
 *     if (previousState === 'queued') console.log(`${key} waited ${clock.now() - (local.get(key) as number)} ms`);
 *   },
 * } });
 * ```
 */
export interface DecoratorActorScope {
  /** The run's clock (injected in tests). */
  readonly clock: { now(): number; setTimeout(fn: () => void, ms: number): unknown; clearTimeout(handle: unknown): void };
  /** Sends an event back to the runtime, e.g. to end an attempt with a timeout. */
  send(event: DecoratorEvent): void;
  /** The actor's own state (one per decorator per task per run), e.g. its timers by task key. */
  readonly local: Map<string, unknown>;
}

/**
 * Events a decorator actor may send to the runtime.
 *
 * @example
 * ```ts
 * import type { DecoratorEvent } from 'taskmachine';
 * // In `onTransition(change, scope)`, when an attempt starts running: end it if it is still running in a minute.
 * const { key, attempts } = change.taskInstance;
 * const abort: DecoratorEvent = { type: 'ABORT_ATTEMPT', taskKey: key, attempt: attempts, error: new Error('stuck') };
 * scope.local.set(key, scope.clock.setTimeout(() => scope.send(abort), 60_000));
 * ```
 */
export type DecoratorEvent = {
  /** Ends the attempt now with `error` (its signal is aborted with it); ignored once settled. */
  readonly type: 'ABORT_ATTEMPT';
  readonly taskKey: string;
  readonly attempt: number;
  readonly error: Error;
};

/**
 * The hooks of a decorator, in the order they run: `stepInit` (definition time, per task) →
 * `taskCreated` (once per task instance) → per attempt `beforeAttempt` → `wrap` (chained: the last
 * decorator is outermost) → `onAttemptSettled` (exactly once per attempt) → `onTaskFinished` →
 * `runFinished` (once per decorator per run). `onTransition` makes the decorator an actor
 * subscribed to every transition of the task instances it decorates. Every hook is optional; async
 * hooks are awaited.
 *
 * A hook that throws: in `taskCreated`, `beforeAttempt` or `onAttemptSettled`, the other
 * decorators' hook still runs and the errors are gathered in an `AggregateError` that fails the
 * attempt; in `wrap`, the attempt fails with the error (later decorators' `wrap` and the task
 * function are not called); in `onTaskFinished`, `runFinished` or `onTransition`, the error is
 * only logged (`taskmachine: decorator '<name>' hook failed: …`, `… onTransition threw: …`) and the
 * run goes on unchanged; in `stepInit`, it is a problem of the `FlowDefinitionError`.
 *
 * @example
 * ```ts
 * import { defineDecorator, type DecoratorHooks } from 'taskmachine';
 * const auditHooks: DecoratorHooks<{ channel: string }> = {
 *   beforeAttempt: (sys) => sys.publish('audit', 'startedAt', Date.now()),
 *   onTaskFinished: (ok, sys, { channel }) => notify(channel, `${sys.taskKey} ${ok ? 'succeeded' : 'failed'}`),
 * };
 * export const audit = defineDecorator({ name: 'audit', defaults: { channel: 'ops' }, hooks: auditHooks });
 * ```
 */
export interface DecoratorHooks<TParams> {
  stepInit?(sys: SystemContext, params: TParams): void;
  taskCreated?(sys: SystemContext, params: TParams): void | Promise<void>;
  beforeAttempt?(sys: SystemContext, params: TParams): void | Promise<void>;
  /**
   * Wraps the task function for one attempt: return a function that calls `fn` (or not). Async
   * wrappers are fine; what the returned function returns (or its promise resolves to) is the
   * attempt's result.
   *
   * @example
   * ```ts
   * wrap: (fn, sys) => async (args) => {
   *   const started = performance.now();
   *   try {
   *     return await fn(args);
   *   } finally {
   *     metrics.observe(sys.taskId, performance.now() - started);
   *   }
   * },
   * ```
   */
  wrap?(fn: WrappableTaskFn, sys: SystemContext, params: TParams): WrappableTaskFn;
  onAttemptSettled?(result: AttemptResult, sys: SystemContext, params: TParams): SettledVerdict | Promise<SettledVerdict>;
  onTaskFinished?(ok: boolean, sys: SystemContext, params: TParams): void | Promise<void>;
  runFinished?(error: Error | undefined, sys: SystemContext, params: TParams): void | Promise<void>;
  onTransition?(change: TaskInstanceChange, scope: DecoratorActorScope, params: TParams): void;
}

/**
 * A decorator applied to a task: made by the factory that {@link defineDecorator} returns.
 * Its parameters are checked when the flow is defined.
 *
 * @example
 * ```ts
 * import { retry, timeout, type Decorator } from 'taskmachine';
 * const standard: readonly Decorator<any>[] = [retry({ times: 3, delay: 1_000 }), timeout({ minutes: 5 })];
 * f.task('load', loadRows, { decorators: standard });
 * ```
 */
export interface Decorator<TParams = Record<string, unknown>, TTransform extends ResultTransform = KeepResult> {
  readonly name: string;
  readonly params: Readonly<TParams>;
  /** @internal */
  readonly definition: DecoratorDefinition<TParams>;
  /** Phantom field carrying what the decorator makes of the task's result type; never set. */
  readonly __transform?: TTransform;
}

/**
 * What {@link defineDecorator} takes.
 *
 * @example
 * ```ts
 * const audit = defineDecorator({
 *   name: 'audit',
 *   defaults: { channel: 'ops' },
 *   hooks: { onTaskFinished: (ok, sys, p) => notify(p.channel, `${sys.taskKey} ok=${ok}`) },
 * });
 * f.task('load', load, { decorators: [audit({ channel: 'data' })] });
 * ```
 */
export interface DecoratorDefinition<TParams> {
  /** Unique name, used in errors and for `allowMultiple`. */
  readonly name: string;
  /** Every parameter with its default; a key not listed here is an error at definition time. */
  readonly defaults: TParams;
  /**
   * Whether a task may carry this decorator more than once.
   * @default false
   */
  readonly allowMultiple?: boolean;
  /** Checks the parameters; return one message per problem (empty or nothing when fine). */
  readonly validate?: (params: TParams, task: { id: string; kind: string }) => readonly string[] | void;
  /** Retry/timeout policy this decorator contributes to its task. */
  readonly policy?: (params: TParams) => TaskPolicy;
  readonly hooks: DecoratorHooks<TParams>;
}
