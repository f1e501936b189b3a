import type { FlowDefinitionProblem } from '../errors.ts';
import type { Decorator, DecoratorDefinition } from './types.ts';

/**
 * Defines a decorator: returns a factory that takes its parameters (merged over `defaults`).
 * Parameters are checked when a flow using it is defined: an unknown key, a value of the wrong
 * type or a `validate` complaint is a `FlowDefinitionError` naming the decorator, task and key.
 *
 * @example
 * ```ts
 * import { defineDecorator } from 'taskmachine';
 * export const stopwatch = defineDecorator({
 *   name: 'stopwatch',
 *   defaults: { label: '' },
 *   hooks: {
 *     beforeAttempt: (sys) => sys.publish('stopwatch', 'start', performance.now()),
 *     onAttemptSettled: (result, sys, params) => {
 *       const ms = performance.now() - (sys.getPublished('stopwatch', 'start') as number);
 *       console.log(`${params.label || sys.taskKey} attempt ${sys.attempt}: ${ms.toFixed(1)} ms`);
 *     },
 *   },
 * });
 * ```
 */
export function defineDecorator<TParams extends Record<string, unknown>>(
  definition: DecoratorDefinition<TParams>,
): (params?: Partial<TParams>) => Decorator<TParams> {
  if (definition === null || typeof definition !== 'object' || typeof definition.name !== 'string' || definition.name === '') {
    throw new TypeError('defineDecorator({ name, defaults, hooks }): name must be a non-empty string');
  }
  if (definition.defaults === null || typeof definition.defaults !== 'object') {
    throw new TypeError(`defineDecorator('${definition.name}'): defaults must be an object listing every parameter`);
  }
  if (definition.hooks === null || typeof definition.hooks !== 'object') {
    throw new TypeError(`defineDecorator('${definition.name}'): hooks must be an object (it may be empty)`);
  }
  const factory = (params: Partial<TParams> = {}) =>
    Object.freeze({
      name: definition.name,
      params: Object.freeze({ ...definition.defaults, ...params }) as Readonly<TParams>,
      definition,
      given: Object.freeze({ ...params }),
    }) as Decorator<TParams>;
  Object.defineProperty(factory, 'name', { value: definition.name });
  return factory;
}

const NO_DECORATORS: readonly Decorator[] = Object.freeze([]);

/** Checks a task's decorators; returns one problem per mistake. */
export function checkDecorators(
  task: { id: string; kind: string },
  decorators: unknown,
): { decorators: readonly Decorator[]; problems: FlowDefinitionProblem[] } {
  const problems: FlowDefinitionProblem[] = [];
  if (decorators === undefined) return { decorators: NO_DECORATORS, problems };
  if (!Array.isArray(decorators)) {
    problems.push({ taskId: task.id, message: 'decorators must be an array, e.g. decorators: [retry({ times: 3 })]' });
    return { decorators: [], problems };
  }
  const seen = new Set<string>();
  const valid: Decorator[] = [];
  for (const decorator of decorators as unknown[]) {
    if (decorator === null || typeof decorator !== 'object' || !('definition' in decorator)) {
      problems.push({
        taskId: task.id,
        message: `decorators must be made by a decorator factory (e.g. retry({ times: 3 })), got ${typeof decorator === 'function' ? 'a function — call it: ' + ((decorator as { name?: string }).name || 'decorator') + '()' : String(decorator)}`,
      });
      continue;
    }
    const { definition, params } = decorator as Decorator;
    const given = (decorator as unknown as { given: Record<string, unknown> }).given;
    const where = `decorator '${definition.name}'`;
    if (seen.has(definition.name) && definition.allowMultiple !== true) {
      problems.push({ taskId: task.id, message: `${where} is applied twice; it allows only one per task` });
    }
    seen.add(definition.name);
    let ok = true;
    for (const [key, value] of Object.entries(given)) {
      if (!Object.hasOwn(definition.defaults, key)) {
        problems.push({
          taskId: task.id,
          message: `${where} has no parameter '${key}'; its parameters are: ${Object.keys(definition.defaults).join(', ') || '(none)'}`,
        });
        ok = false;
        continue;
      }
      const fallback = (definition.defaults as Record<string, unknown>)[key];
      if (fallback !== undefined && fallback !== null && value !== undefined && typeof value !== typeof fallback) {
        problems.push({
          taskId: task.id,
          message: `${where}: parameter '${key}' must be a ${typeof fallback}, got ${JSON.stringify(value) ?? typeof value}`,
        });
        ok = false;
      }
    }
    if (ok && definition.validate) {
      try {
        for (const message of definition.validate(params, task) ?? []) problems.push({ taskId: task.id, message: `${where}: ${message}` });
      } catch (error) {
        problems.push({ taskId: task.id, message: `${where}: its validate() threw: ${(error as Error).message}` });
      }
    }
    valid.push(decorator as Decorator);
  }
  return { decorators: Object.freeze(valid), problems };
}
