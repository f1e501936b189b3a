import { taskContextStorage, type TaskContext } from '../../context/taskContext.ts';
import type { AttemptResult } from '../../decorators/types.ts';
import { EXECUTOR_KEYS } from '../../decorators/executorContract.ts';
import { DeferralTimeoutError, describeValue, toError, UnstorableValueError } from '../../errors.ts';
import type { TaskArgs } from '../../flow/types.ts';
import { AttemptContext, type AttemptHost } from './attemptContext.ts';
import { classifyAttempt, isControlFlow, type AttemptOutcome } from './attemptOutcome.ts';
import type { AttemptRun } from '../instances/taskInstance.ts';
import type { AttemptScopes } from './attemptScopes.ts';
import { hooksFailed, type DecoratorPipeline } from './decoratorPipeline.ts';

/**
 * The `ctx` of task arguments until the executor sets the attempt's context (the arguments are
 * made before it; a task never sees this value).
 */
export const NO_CONTEXT_YET: TaskContext = undefined as unknown as TaskContext;

/** What the attempt executor reports to the run that uses it. */
export interface AttemptExecutorHost {
  /** How an attempt ended, after its decorators had their say: once per attempt not discarded. */
  report(run: AttemptRun, outcome: AttemptOutcome): void;
  /** The attempt stopped running (its result is known; its decorators may still be settling it). */
  released(run: AttemptRun): void;
  /** Decorator hooks settling an attempt started (+1) or ended (−1). */
  settling(delta: 1 | -1): void;
  /**
   * The result as the run keeps it (see `KeptValues`), or the error that fails the attempt when it
   * cannot be kept (a run with a store: a value that cannot be stored).
   */
  keepResult(run: AttemptRun, value: unknown): { ok: true; value: unknown } | { ok: false; error: Error };
  /** Whether the machine would retry after a failure of this attempt (for `onAttemptSettled`). */
  wouldRetry(run: AttemptRun, failFast: boolean): boolean;
  /** Something changed outside a scheduler turn (an attempt settled asynchronously). */
  requestTurn(): void;
  /** The runtime's own log lines. */
  log(line: string): void;
}

/**
 * Where attempts run: in this process ({@link AttemptExecutor}, `executor: 'local'`) or on worker
 * processes (`WorkerExecutor`, `executor: 'workers'`). Either way one attempt goes in and one
 * {@link AttemptOutcome} comes back through the host's `report`; the run applies the transition.
 *
 * @example
 * ```ts
 * const executor: Executor = settings.executor === 'workers' ? workerExecutor : localExecutor;
 * scheduler.useExecutor(executor);
 * ```
 */
export interface Executor {
  /** Starts the attempt. */
  start(run: AttemptRun, args: TaskArgs, customContext: Readonly<Record<string, string>>): void;
  /** Ends the attempt now, failed with `error` (a timeout, a cancelled run, a decorator's request). */
  endNow(run: AttemptRun, error: Error): void;
  /** Abandons the attempt for a manual change: its outcome is never reported. */
  discard(run: AttemptRun, reason: Error): void;
  /** Every later attempt runs inside these scopes (run listeners' `aroundAttempt`). */
  useScopes(scopes: AttemptScopes | undefined): void;
  /** The run let go or ended: nothing more is started or reported. */
  stop?(): void;
}

/**
 * Runs attempts: one attempt in (its instance, input and upstream values, context), one
 * {@link AttemptOutcome} out. It sets up `ctx()` and the abort signal, runs the decorator pipeline
 * around the task function (`taskCreated`, `beforeAttempt`, `wrap`, `onAttemptSettled`) and
 * classifies what came back. It never applies a lifecycle transition: the run maps the outcome to
 * an event. An attempt can also be ended from outside (a timeout, a cancelled run, a decorator's
 * request: {@link endNow}) or abandoned by a manual change ({@link discard}); whichever comes
 * first settles it, and later results are ignored.
 */
export class AttemptExecutor implements Executor {
  readonly #host: AttemptExecutorHost;
  readonly #pipeline: DecoratorPipeline;
  readonly #contextHost: AttemptHost;
  /** Tasks whose resource request was reported already. */
  readonly #reportedResources = new Set<number>();
  /** The run listeners' `aroundAttempt` scopes; `undefined` (the usual case) costs one check per attempt. */
  #scopes: AttemptScopes | undefined;

  constructor(host: AttemptExecutorHost, pipeline: DecoratorPipeline, contextHost: AttemptHost) {
    this.#host = host;
    this.#pipeline = pipeline;
    this.#contextHost = contextHost;
  }

  /** Every later attempt's task function runs inside these scopes (set when the run begins). */
  useScopes(scopes: AttemptScopes | undefined): void {
    this.#scopes = scopes;
  }

  /** Starts the attempt. The task function runs now (synchronous results are reported at once). */
  start(run: AttemptRun, args: TaskArgs, customContext: Readonly<Record<string, string>>): void {
    const instance = run.instance;
    if (instance.startFailure !== undefined) {
      this.#settle(run, false, instance.startFailure);
      return;
    }
    if (instance.context.deferTimedOut) {
      this.#settle(run, false, new DeferralTimeoutError(`task instance '${instance.key}' was not resumed before its deferral timeout`));
      return;
    }
    const context = new AttemptContext(this.#contextHost, run, customContext);
    args.ctx = context;
    if (instance.task.decorators.length > 0) {
      void this.#runDecorated(run, context, args);
      return;
    }
    let result: unknown;
    try {
      const scopes = this.#scopes;
      result =
        scopes === undefined
          ? taskContextStorage.run(context, instance.task.fn, args)
          : scopes.run(run, () => taskContextStorage.run(context, instance.task.fn, args));
    } catch (error) {
      this.#settle(run, false, error);
      return;
    }
    let thenable: boolean;
    try {
      thenable = isThenable(result);
    } catch (error) {
      // A returned Proxy or object whose `then` getter throws cannot even be told from a promise:
      // its attempt fails for good (it would return the same), the run goes on.
      const problem = { path: '$.then', problem: `a property whose getter throws (${describeValue(error)})` };
      this.#settle(run, false, new UnstorableValueError(`task instance '${instance.key}' returned a value that`, problem));
      return;
    }
    if (thenable) {
      Promise.resolve(result as PromiseLike<unknown>).then(
        (value) => this.#settleLater(run, true, value),
        (error: unknown) => this.#settleLater(run, false, error),
      );
    } else {
      this.#settle(run, true, result);
    }
  }

  /** Ends the attempt now, failed with `error` (its signal is aborted with it). */
  endNow(run: AttemptRun, error: Error): void {
    if (run.settled) return;
    run.abort(error);
    this.#settle(run, false, error);
  }

  /**
   * Abandons the attempt for a manual change: its signal is aborted with `reason`, its decorators
   * still see it end (`onAttemptSettled`, once), and its outcome is never reported.
   */
  discard(run: AttemptRun, reason: Error): void {
    run.abort(reason);
    run.discarded = true;
    this.#settle(run, false, reason);
  }

  /** An attempt of a decorated task: taskCreated (first time), beforeAttempt, wrap, the function. */
  async #runDecorated(run: AttemptRun, context: AttemptContext, args: TaskArgs): Promise<void> {
    try {
      this.#reportResources(run);
      const errors = await this.#pipeline.beforeAttempt(run);
      if (run.settled) return;
      if (errors.length > 0) {
        this.#settleLater(run, false, new AggregateError(errors, hooksFailed(errors, `before attempt ${run.attempt} of '${run.instance.key}'`)));
        return;
      }
      const fn = this.#pipeline.wrap(run);
      const scopes = this.#scopes;
      const result = scopes === undefined ? taskContextStorage.run(context, fn, args) : scopes.run(run, () => taskContextStorage.run(context, fn, args));
      this.#settleLater(run, true, await result);
    } catch (error) {
      this.#settleLater(run, false, error);
    }
  }

  /** Settles outside the scheduler's turn: the run takes another. */
  #settleLater(run: AttemptRun, ok: boolean, value: unknown): void {
    this.#settle(run, ok, value);
    this.#host.requestTurn();
  }

  /**
   * Ends the attempt (once): the result, as the run keeps it (a result that cannot be kept is the
   * attempt's failure, seen as such by decorators too), goes through the decorators, then to the run.
   */
  #settle(run: AttemptRun, ok: boolean, value: unknown): void {
    if (run.settled) return;
    run.settled = true;
    if (ok) {
      const kept = this.#host.keepResult(run, value);
      if (kept.ok) value = kept.value;
      else [ok, value] = [false, kept.error];
    }
    this.#host.released(run);
    if (run.instance.task.decorators.length === 0) {
      if (!run.discarded) this.#host.report(run, classifyAttempt(ok, value));
      return;
    }
    this.#host.settling(1);
    void this.#settleDecorated(run, ok, value).finally(() => this.#host.settling(-1));
  }

  async #settleDecorated(run: AttemptRun, ok: boolean, value: unknown): Promise<void> {
    try {
      let result: AttemptResult;
      if (ok) {
        result = { ok: true, value };
      } else {
        const control = isControlFlow(value);
        const outcome = classifyAttempt(false, value);
        const failFast = outcome.kind === 'failed' && outcome.failFast;
        result = { ok: false, error: toError(value), control, willRetry: !control && this.#host.wouldRetry(run, failFast) };
      }
      let settled = await this.#pipeline.settle(run, result, value);
      if (run.discarded) return;
      if (settled.ok && settled.value !== value) {
        // A decorator replaced the result (or recovered a failure with a value): kept like any result.
        const kept = this.#host.keepResult(run, settled.value);
        settled = kept.ok ? { ok: true, value: kept.value } : { ok: false, error: kept.error };
      }
      this.#host.report(run, classifyAttempt(settled.ok, settled.ok ? settled.value : settled.error));
    } catch (error) {
      this.#host.log(`taskmachine: internal error settling '${run.instance.key}': ${toError(error).stack}`);
    }
  }

  #reportResources(run: AttemptRun): void {
    const task = run.instance.task;
    if (this.#reportedResources.has(task.index)) return;
    this.#reportedResources.add(task.index);
    const { namespace, key } = EXECUTOR_KEYS.resources;
    const request = task.published.get(namespace)?.get(key);
    if (request !== undefined && request !== null && typeof request === 'object') {
      const parts = Object.entries(request).map(([name, amount]) => `${name}=${String(amount)}`);
      this.#host.log(`[${task.id}] resources requested: ${parts.join(' ')} (the local executor reports them; it does not enforce them)`);
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}
