import { deriveContext, taskContextStorage, type DerivableContext, type TaskContext } from './taskContext.ts';

/**
 * Runs `fn` with extra custom context merged over the current one (inner keys win). Children
 * started with `ctx().call` inside `fn` capture it at the call; code outside `fn` never sees it.
 * Outside a task it just runs `fn`.
 *
 * @example
 * ```ts
 * import { withCustomContext } from 'taskmachine';
 * f.task('export-all', async ({ ctx }) => {
 *   for (const region of ['eu', 'us']) await withCustomContext({ region }, () => ctx.call(exportRegion));
 * });
 * ```
 */
export function withCustomContext<T>(values: Readonly<Record<string, string>>, fn: () => T): T {
  if (values === null || typeof values !== 'object') {
    throw new TypeError('withCustomContext(values, fn): values must be an object of strings');
  }
  for (const [key, value] of Object.entries(values)) {
    if (typeof value !== 'string') {
      throw new TypeError(`withCustomContext: values must be strings; '${key}' is ${typeof value} (convert it with String())`);
    }
  }
  const current = taskContextStorage.getStore();
  if (!isDerivable(current)) return fn();
  return taskContextStorage.run(current[deriveContext](values), fn);
}

function isDerivable(context: TaskContext | undefined): context is DerivableContext {
  return context !== undefined && typeof (context as Partial<DerivableContext>)[deriveContext] === 'function';
}
