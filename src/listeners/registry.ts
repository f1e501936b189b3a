import { listenerHookNames, type Listener } from './types.ts';

const globalListeners = new Set<Listener>();

/**
 * Registers a listener for every run started afterwards in this process (besides the ones given
 * to `runFlow(..., { listeners })`). Returns a function that unregisters it. Registering the same
 * object twice has no further effect.
 *
 * @example
 * ```ts
 * import { registerListener } from 'taskmachine';
 * const unregister = registerListener({ onFlowRunFailed: ({ flowRun, msg }) => page(`${flowRun.flowId}: ${msg}`) });
 * ```
 */
export function registerListener(listener: Listener): () => void {
  checkListener(listener, 'registerListener');
  globalListeners.add(listener);
  return () => {
    globalListeners.delete(listener);
  };
}

/** @internal The globally registered listeners, in registration order. */
export function globalListenerList(): Listener[] {
  return [...globalListeners];
}

/** Rejects a listener with a misspelled hook (it would never be called) or a non-function hook. */
export function checkListener(listener: unknown, where: string): asserts listener is Listener {
  if (listener === null || typeof listener !== 'object') {
    throw new TypeError(`${where}: a listener must be an object with hook methods, got ${String(listener)}`);
  }
  for (const [key, value] of Object.entries(listener)) {
    if (!listenerHookNames.includes(key as never)) {
      throw new TypeError(`${where}: '${key}' is not a listener hook; hooks are: ${listenerHookNames.join(', ')}`);
    }
    if (typeof value !== 'function') throw new TypeError(`${where}: hook '${key}' must be a function`);
  }
}
