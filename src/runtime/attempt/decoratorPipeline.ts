import { createSystemContext, type PublishedValues, type SystemContextFields } from '../../decorators/systemContext.ts';
import type { AttemptResult, Decorator, HookPhase, SystemContext } from '../../decorators/types.ts';
import { toError } from '../../errors.ts';
import type { Flow, TaskDefinition, TaskFn } from '../../flow/types.ts';
import type { FlowRunRecord } from '../../records.ts';
import type { AttemptRun, TaskInstance } from '../instances/taskInstance.ts';

/** What the attempt counts as after every `onAttemptSettled` has had its say. */
export type SettledOutcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * The one place decorator hooks are called, in their fixed order: `taskCreated` (once per task
 * instance) and `beforeAttempt` → `wrap` → `onAttemptSettled` (exactly once per attempt) →
 * `onTaskFinished` → `runFinished`. Each hook runs even when an earlier decorator's threw; the
 * errors are gathered — except `wrap`: a throw while building the wrapper stops the chain and fails
 * the attempt with it (docs/decorators.md lists what a throw does in each hook). (`stepInit` runs when the flow is defined; `onTransition` is a decorator
 * actor's, see `subscribers/decoratorActors.ts`.)
 */
export class DecoratorPipeline {
  readonly #flow: Flow;
  readonly #runId: string;
  readonly #log: (line: string) => void;

  constructor(flow: Flow, runId: string, log: (line: string) => void) {
    this.#flow = flow;
    this.#runId = runId;
    this.#log = log;
  }

  /**
   * `taskCreated` on the instance's first attempt, then `beforeAttempt`. Returns the hooks' errors
   * (the attempt fails with them); the attempt's system context is left in `run.sys`.
   */
  async beforeAttempt(run: AttemptRun): Promise<Error[]> {
    const instance = run.instance;
    const { decorators, published } = instance.task;
    const errors: Error[] = [];
    if (!instance.created) {
      instance.created = true;
      const sys = hookContext(this.#fields(instance, 'dispatch'), published, undefined, this.#log);
      errors.push(...(await runHooks(decorators, (d) => d.definition.hooks.taskCreated?.(sys, d.params))).errors);
    }
    const sys = this.attemptContext(run);
    errors.push(...(await runHooks(decorators, (d) => d.definition.hooks.beforeAttempt?.(sys, d.params))).errors);
    return errors;
  }

  /** The system context the hooks of this attempt share (made once per attempt). */
  attemptContext(run: AttemptRun): SystemContext {
    return (run.sys ??= hookContext(this.#fields(run.instance, 'task'), run.instance.task.published, run.published, this.#log));
  }

  /** The task function wrapped by every decorator's `wrap` (the last decorator is outermost). */
  wrap(run: AttemptRun): TaskFn {
    return wrapTaskFn(run.instance.task.decorators, run.instance.task.fn, this.attemptContext(run));
  }

  /** Every decorator's `onAttemptSettled`, exactly once; see {@link settleWithHooks}. */
  settle(run: AttemptRun, result: AttemptResult, original: unknown): Promise<SettledOutcome> {
    return settleWithHooks(run.instance.task.decorators, result, this.attemptContext(run), original);
  }

  /**
   * `onTaskFinished(ok)` after a decorated instance reached a finished state (`isCloned`: its
   * result was reused by a resumed run). Resolves when every hook has run; errors are logged.
   */
  async taskFinished(instance: TaskInstance, isCloned: boolean): Promise<void> {
    const decorators = instance.task.decorators.filter((d) => d.definition.hooks.onTaskFinished !== undefined);
    if (decorators.length === 0) return;
    const ok = instance.state === 'success';
    const sys = hookContext({ ...this.#fields(instance, 'dispatch'), isCloned }, instance.task.published, undefined, this.#log);
    const { errors } = await runHooks(decorators, (d) => d.definition.hooks.onTaskFinished!(ok, sys, d.params));
    for (const error of errors) this.#log(`taskmachine: ${error.message}`);
  }

  /**
   * `runFinished` once per run for each decorator applied to a task (in task order; a decorator
   * object shared by several tasks is called once, for the first of them). Errors are logged.
   */
  async runFinished(record: FlowRunRecord): Promise<void> {
    const seen = new Set<Decorator<any>>();
    const error = record.state === 'failed' ? new Error(`flow run '${record.runId}' failed: ${record.reason}`) : undefined;
    for (const task of this.#flow.tasks) {
      // (Most tasks have no decorators: nothing is made for them.)
      if (task.decorators.length === 0) continue;
      const pending = task.decorators.filter((d) => d.definition.hooks.runFinished !== undefined && !seen.has(d));
      if (pending.length === 0) continue;
      for (const d of pending) seen.add(d);
      const sys = hookContext(this.#taskFields(task, undefined, undefined, 0, task.retries + 1, 'dispatch'), task.published, undefined, this.#log);
      const { errors } = await runHooks(pending, (d) => d.definition.hooks.runFinished!(error, sys, d.params));
      for (const hookError of errors) this.#log(`taskmachine: ${hookError.message}`);
    }
  }

  #fields(instance: TaskInstance, phase: HookPhase): SystemContextFields {
    const { context } = instance;
    return this.#taskFields(instance.task, instance.key, instance.mapIndex, context.attempt, context.maxAttempts, phase);
  }

  #taskFields(
    task: TaskDefinition,
    taskKey: string | undefined,
    mapIndex: number | undefined,
    attempt: number,
    maxAttempts: number,
    phase: HookPhase,
  ): SystemContextFields {
    return { phase, flowId: this.#flow.id, runId: this.#runId, taskId: task.id, taskKey, mapIndex, attempt, maxAttempts, isCloned: false };
  }
}

/**
 * Runs one hook of every decorator in order. Each hook runs even when an earlier one threw; the
 * errors are returned (in decorator order) for the caller to aggregate. Async hooks are awaited one
 * after the other, so hooks of one attempt never interleave.
 */
export async function runHooks<TResult>(
  decorators: readonly Decorator<any>[],
  call: (decorator: Decorator<any>) => TResult | Promise<TResult> | undefined,
): Promise<{ results: Array<TResult | undefined>; errors: Error[] }> {
  const results: Array<TResult | undefined> = [];
  const errors: Error[] = [];
  for (const decorator of decorators) {
    try {
      results.push(await call(decorator));
    } catch (error) {
      const wrapped = toError(error);
      errors.push(new Error(`decorator '${decorator.name}' hook failed: ${wrapped.message}`, { cause: wrapped }));
      results.push(undefined);
    }
  }
  return { results, errors };
}

/** Chains `wrap` hooks: the first decorator wraps the task function, the last one is outermost. */
export function wrapTaskFn(decorators: readonly Decorator<any>[], fn: TaskFn, sys: SystemContext): TaskFn {
  let wrapped = fn;
  for (const decorator of decorators) {
    const wrap = decorator.definition.hooks.wrap;
    if (wrap === undefined) continue;
    const next = wrap(wrapped, sys, decorator.params);
    if (typeof next !== 'function') {
      throw new TypeError(`decorator '${decorator.name}': wrap() must return a function, got ${typeof next}`);
    }
    wrapped = next;
  }
  return wrapped;
}

/**
 * Calls every decorator's `onAttemptSettled` exactly once and applies their verdicts:
 * `{ handled: true }` turns a failure into a success (every decorator still sees the original
 * error), `value` replaces a success's result, and hook errors fail the attempt together
 * (`AggregateError`).
 */
export async function settleWithHooks(
  decorators: readonly Decorator<any>[],
  result: AttemptResult,
  sys: SystemContext,
  original: unknown,
): Promise<SettledOutcome> {
  const { results, errors } = await runHooks(decorators, (decorator) =>
    decorator.definition.hooks.onAttemptSettled?.(result, sys, decorator.params),
  );
  if (errors.length > 0) {
    const inner = result.ok ? errors : [result.error, ...errors];
    return {
      ok: false,
      error: new AggregateError(inner, hooksFailed(errors, `in onAttemptSettled of '${sys.taskKey}'`)),
    };
  }
  let value = result.ok ? result.value : undefined;
  let handled = false;
  for (const verdict of results) {
    if (verdict === undefined || verdict === null || typeof verdict !== 'object') continue;
    if (result.ok) {
      if ('value' in verdict) value = verdict.value;
    } else if (verdict.handled === true && !result.control && !handled) {
      handled = true;
      value = 'value' in verdict ? verdict.value : undefined;
    }
  }
  if (result.ok || handled) return { ok: true, value };
  return { ok: false, error: original };
}

/** A system context for a hook call outside `stepInit`. */
export function hookContext(
  fields: SystemContextFields,
  step: PublishedValues,
  attempt: PublishedValues | undefined,
  log: (line: string) => void,
): SystemContext {
  return createSystemContext(fields, { step, attempt, write: attempt === undefined ? 'none' : 'attempt' }, log);
}

/**
 * The message of the `AggregateError` an attempt fails with when decorator hooks threw: what
 * failed and each hook's own message (`decorator '<name>' hook failed: …`), so that the run
 * record, `status`, listeners and spans say why without opening `errors`.
 *
 * @example
 * ```ts
 * hooksFailed([new Error("decorator 'vault' hook failed: token expired")], "before attempt 1 of 'load'");
 * // "a decorator hook failed before attempt 1 of 'load': decorator 'vault' hook failed: token expired"
 * ```
 */
export function hooksFailed(errors: readonly unknown[], where: string): string {
  const what = errors.length === 1 ? 'a decorator hook' : `${errors.length} decorator hooks`;
  // (Each cut, so a hook that throws a page of text does not make the run's error a page long.)
  const cut = (text: string) => (text.length <= 500 ? text : `${text.slice(0, 500)}…`);
  return `${what} failed ${where}: ${errors.map((error) => cut(toError(error).message)).join('; ')}`;
}
