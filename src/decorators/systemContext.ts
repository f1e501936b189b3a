import { format } from 'node:util';
import type { SystemContext } from './types.ts';

/** Values published in a scope, by `namespace` then `key`. */
export type PublishedValues = Map<string, Map<string, unknown>>;

function read(scope: PublishedValues | undefined, namespace: string, key: string): unknown {
  return scope?.get(namespace)?.get(key);
}

function write(scope: PublishedValues, namespace: string, key: string, value: unknown): void {
  let values = scope.get(namespace);
  if (values === undefined) {
    values = new Map();
    scope.set(namespace, values);
  }
  values.set(key, value);
}

/** The fields of a system context that vary from call to call (everything but its methods). */
export type SystemContextFields = Omit<SystemContext, 'publish' | 'getPublished' | 'log'>;

/**
 * Makes an immutable {@link SystemContext}. `writeScope` is where `publish` goes (the step scope in
 * `stepInit`, the attempt's own scope during an attempt, none at dispatch time); reads look in
 * `attemptScope` first, then `stepScope`.
 */
export function createSystemContext(
  fields: SystemContextFields,
  scopes: { step: PublishedValues; attempt: PublishedValues | undefined; write: 'step' | 'attempt' | 'none' },
  log: (line: string) => void,
): SystemContext {
  return Object.freeze({
    ...fields,
    log: (...parts: unknown[]) => log(format(...parts)),
    publish(namespace: string, key: string, value: unknown) {
      if (typeof namespace !== 'string' || typeof key !== 'string') {
        throw new TypeError('publish(namespace, key, value): namespace and key must be strings');
      }
      if (scopes.write === 'none') {
        throw new Error(
          `publish('${namespace}', '${key}') is only possible in stepInit (step scope) or during an attempt (attempt scope), not in the ${fields.phase} phase`,
        );
      }
      write(scopes.write === 'step' ? scopes.step : scopes.attempt!, namespace, key, value);
    },
    getPublished(namespace: string, key: string) {
      const own = scopes.attempt?.get(namespace);
      if (own?.has(key)) return own.get(key);
      return read(scopes.step, namespace, key);
    },
  });
}
