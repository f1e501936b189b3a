import { createSystemContext, type PublishedValues, type SystemContextFields } from '../decorators/systemContext.ts';
import type { AttemptResult, Decorator, SystemContext } from '../decorators/types.ts';
import { toError } from '../errors.ts';
import type { TaskFn } from '../flow/types.ts';

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
      errors.push(
        new Error(`decorator '${decorator.name}' hook failed: ${wrapped.message}`, { cause: wrapped }),
      );
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

/** What the attempt counts as after every `onAttemptSettled` has had its say. */
export type SettledOutcome = { ok: true; value: unknown } | { ok: false; error: unknown };

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
      error: new AggregateError(inner, `${errors.length} decorator hook(s) failed in onAttemptSettled of '${sys.taskKey}'`),
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
): SystemContext {
  return createSystemContext(fields, { step, attempt, write: attempt === undefined ? 'none' : 'attempt' });
}
