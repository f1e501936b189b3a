import { AsyncLocalStorage } from 'node:async_hooks';
import { copyRunningThisTask, registerCopy, thisCopyRoot, twoCopiesMessage } from './packageCopies.ts';
import type { Frozen } from '../frozen.ts';
import type { TaskKind, TaskRef } from '../taskRef.ts';

/**
 * Options of `ctx().defer()`: park the task in `deferred` without holding a concurrency slot.
 * Give at least one of `until`, `event` or `timeout`.
 *
 * @example
 * ```ts
 * f.task('approve', ({ ctx }) => ctx.defer({ event: true, timeout: 3_600_000 })); // wait for handle.sendEvent(key, payload)
 * ```
 */
export interface DeferOptions {
  /**
   * Resume at this time (epoch ms or a `Date`).
   * @default undefined
   */
  until?: number | Date;
  /**
   * Resume when `handle.sendEvent(taskKey, payload)` is called; the payload is `ctx().event` in
   * the next run of the task.
   * @default false
   */
  event?: boolean;
  /**
   * Fail the task (a `DeferralTimeoutError`, retryable) if it was not resumed after this many ms.
   * @default undefined (no timeout)
   */
  timeout?: number;
}

/**
 * A task checkpoint: the last value saved by any earlier attempt of this task instance.
 *
 * @example
 * ```ts
 * f.task('backfill', async ({ ctx }) => {
 *   const from = ((await ctx.checkpoint.load()) as number | undefined) ?? 0; // where a failed attempt got to
 *   for (let day = from; day < 30; day++) {
 *     await loadDay(day);
 *     await ctx.checkpoint.save(day + 1);
 *   }
 * }, { retries: 3 });
 * ```
 */
export interface TaskCheckpoint {
  /** The value saved last by an earlier attempt (a failed one included), or `undefined`. */
  load(): Promise<unknown>;
  /** Saves a value for later attempts (overwrites the previous one). */
  save(value: unknown): Promise<void>;
}

/**
 * What a running task attempt knows about itself. Immutable; a task function gets it as `ctx` in
 * its arguments, and code deeper down reads it with {@link ctx}.
 *
 * @example
 * ```ts
 * f.task('fetch', async ({ ctx }) => {
 *   const { attempt, maxAttempts, signal } = ctx;
 *   ctx.log(`attempt ${attempt} of ${maxAttempts}`);
 *   return fetch(url, { signal });
 * });
 * ```
 */
export interface TaskContext {
  /** The flow's id. */
  readonly flowId: string;
  /** The run's id. */
  readonly runId: string;
  /** The task's id. */
  readonly taskId: string;
  /** The task instance's key: the id, `id[mapIndex]` for mapped instances, `parent/id#n` for called ones. */
  readonly taskKey: string;
  /** Index of a mapped task instance, `undefined` otherwise. */
  readonly mapIndex: number | undefined;
  /** The attempt number, 1-based. */
  readonly attempt: number;
  /** How many attempts this task instance may take in all. */
  readonly maxAttempts: number;
  /** Aborted when the attempt times out, the run is cancelled, or the instance is cleared or set by hand. */
  readonly signal: AbortSignal;
  /** Logs a line attributed to this attempt. */
  readonly log: (...parts: unknown[]) => void;
  /** The task's namespaced hints. */
  readonly hints: Readonly<Record<string, unknown>>;
  /** The custom context (string map) in force: the run's, merged with `withCustomContext` scopes. */
  readonly customContext: Readonly<Record<string, string>>;
  /** The task checkpoint of this task instance. */
  readonly checkpoint: TaskCheckpoint;
  /** A directory path reserved for this task instance's large outputs (not created for you). */
  readonly rawDataPath: string;
  /** The data given to `TaskCheckpointed` when this task instance was checkpointed, or `undefined`. */
  readonly resumeData: unknown;
  /** The payload of the `sendEvent` that resumed this task instance from a deferral, or `undefined`. */
  readonly event: unknown;
  /** Environment variables from the task's `environment` decorators (`{}` when none). */
  readonly env: Readonly<Record<string, string>>;
  /** Run id + task key: the same across attempts and resumes; use it for idempotent side effects. */
  readonly idempotencyKey: string;
  /** Parks the task in `deferred` (holds no slot); the attempt number does not change. Never returns. */
  defer(options: DeferOptions): never;
  /** Parks the task in `up_for_reschedule` for `delay` ms (a sensor poke). Never returns. */
  reschedule(delay: number): never;
  /**
   * Runs another task of the flow as a child task instance, with its own lifecycle and retries,
   * and resolves to its result (deeply frozen, as every value handed between tasks). Keyed
   * `parentKey/taskId#n` (n counts calls of that task in this attempt), so a later attempt or
   * resume reuses a child that already succeeded. `input` is typed by the called task's `input`
   * (annotate it in `f.subtask`); it may be left out when that accepts `undefined`.
   *
   * @example
   * ```ts
   * const render = f.subtask('render', ({ input }: { input: readonly number[] }) => `total ${sum(input)}`);
   * f.task('report', ({ ctx, upstream }) => ctx.call(render, upstream.price), { after: [price] }); // Promise<string>
   * ```
   */
  call<TResult, TCallInput>(
    task: TaskRef<TResult, string, TaskKind, TCallInput>,
    ...input: undefined extends TCallInput ? [input?: TCallInput] : [input: TCallInput]
  ): Promise<Frozen<TResult>>;
}

/**
 * @internal The method by which a task context makes a copy of itself with more custom context
 * (`withCustomContext`); the runtime's context implements it.
 */
export const deriveContext: unique symbol = Symbol('taskmachine.deriveContext');

/** @internal A task context that can derive a copy with more custom context. */
export interface DerivableContext extends TaskContext {
  [deriveContext](extra: Readonly<Record<string, string>>): TaskContext;
}

/** @internal The AsyncLocalStorage every attempt runs in. */
export const taskContextStorage = new AsyncLocalStorage<TaskContext>();
registerCopy(taskContextStorage);

/**
 * The context of the task attempt this code runs in, or `undefined` outside any task: for code
 * deeper in a task's call stack (the task function itself gets it as `ctx` in its arguments).
 * Backed by `AsyncLocalStorage`: concurrent tasks never see each other's context. Called in a task
 * that another copy of taskmachine runs (a global CLI running a flow file that imports a local
 * copy), it throws an error naming both copies.
 *
 * @example
 * ```ts
 * import { ctx } from 'taskmachine';
 * ctx(); // undefined at module scope
 * function log(line: string) {
 *   ctx()?.log(line); // inside a task: that attempt's log
 * }
 * f.task('a', ({ ctx }) => ctx.taskKey); // 'a'
 * ```
 */
export function ctx(): TaskContext | undefined {
  const context = taskContextStorage.getStore();
  if (context !== undefined) return context;
  // Outside a task, or in a task run by another copy of taskmachine (a global CLI running a flow
  // file that imports a local copy): then say so, rather than leave `undefined` to fail later.
  const runningCopy = copyRunningThisTask(taskContextStorage);
  if (runningCopy !== undefined) throw new Error(twoCopiesMessage('ctx() is called in a task another copy of taskmachine runs', runningCopy, thisCopyRoot));
  return undefined;
}

/**
 * The custom context in force (`{}` outside a task).
 *
 * @example
 * ```ts
 * import { getCustomContext } from 'taskmachine';
 * getCustomContext(); // {} outside a task
 * ```
 */
export function getCustomContext(): Readonly<Record<string, string>> {
  return taskContextStorage.getStore()?.customContext ?? EMPTY;
}

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
