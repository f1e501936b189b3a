import { toError } from '../errors.ts';
import { listenerHookNames, type AttemptScopeArgs, type ForRunArgs, type Listener, type RunListener } from './types.ts';

/** An attempt scope: a run listener's `aroundAttempt`, bound to it. */
export type AttemptScope = <T>(args: AttemptScopeArgs, run: () => T) => T;

/** An attempt carrier: a run listener's `attemptCarrier`, bound to it. */
export type AttemptCarrier = (args: AttemptScopeArgs) => Readonly<Record<string, string>> | undefined;

/** What the listeners' `forRun` gave a run that begins. */
export interface RunListeners {
  /** The run listeners, in the order of the listeners that returned them. */
  readonly listeners: readonly RunListener[];
  /** The labels they ask to store with the run (later listeners win), or `undefined`. */
  readonly labels: Readonly<Record<string, string>> | undefined;
  /** Their `aroundAttempt` hooks, outermost first. */
  readonly scopes: readonly AttemptScope[];
  /** Their `attemptCarrier` hooks, in order (later ones win a key both give). */
  readonly carriers: readonly AttemptCarrier[];
}

const NONE: RunListeners = Object.freeze({ listeners: Object.freeze([]), labels: undefined, scopes: Object.freeze([]), carriers: Object.freeze([]) });

/** The members a run listener may have besides the hooks (`forRun` is not one of them). */
const RUN_ONLY = new Set(['labels', 'aroundAttempt', 'attemptCarrier']);

/**
 * Calls `forRun` of every listener that has it and checks what each returns. A listener whose
 * `forRun` throws, or returns something that is not a run listener, is logged (as any listener
 * error) and left out: a listener never stops a run from beginning.
 */
export function runListenersFor(listeners: readonly Listener[], args: ForRunArgs, log: (line: string) => void): RunListeners {
  if (!listeners.some((listener) => typeof listener.forRun === 'function')) return NONE;
  const found: RunListener[] = [];
  const scopes: AttemptScope[] = [];
  const carriers: AttemptCarrier[] = [];
  let labels: Record<string, string> | undefined;
  for (const listener of listeners) {
    if (typeof listener.forRun !== 'function') continue;
    let made: unknown;
    try {
      made = listener.forRun(args);
    } catch (error) {
      const thrown = toError(error);
      log(`error calling listener for hook 'forRun': ${thrown.stack ?? thrown.message}`);
      continue;
    }
    if (made === undefined || made === null) continue;
    const problem = runListenerProblem(made);
    if (problem !== undefined) {
      log(`error calling listener for hook 'forRun': ${problem}; the run goes on without it`);
      continue;
    }
    const runListener = made as RunListener;
    found.push(runListener);
    if (runListener.labels !== undefined) labels = { ...labels, ...runListener.labels };
    if (runListener.aroundAttempt !== undefined) {
      scopes.push(<T>(scopeArgs: AttemptScopeArgs, run: () => T): T => runListener.aroundAttempt!(scopeArgs, run));
    }
    if (runListener.attemptCarrier !== undefined) carriers.push((carrierArgs) => runListener.attemptCarrier!(carrierArgs));
  }
  if (found.length === 0) return NONE;
  return Object.freeze({ listeners: Object.freeze(found), labels, scopes: Object.freeze(scopes), carriers: Object.freeze(carriers) });
}

/** Why `value` is not a run listener, or `undefined` when it is one. */
function runListenerProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return `it returned ${typeof value}, not a run listener object`;
  // (Own enumerable keys, as for listeners: a class instance's methods live on its prototype.)
  for (const [key, member] of Object.entries(value)) {
    if (key === 'labels') {
      if (member === undefined) continue;
      if (typeof member !== 'object' || member === null || Object.values(member).some((label) => typeof label !== 'string')) {
        return 'its labels must be an object of strings';
      }
      continue;
    }
    if (!RUN_ONLY.has(key) && !listenerHookNames.includes(key as never)) {
      return `'${key}' is not a run listener member; run listeners have the listener hooks, labels, aroundAttempt and attemptCarrier`;
    }
    if (key === 'forRun') return 'a run listener has no forRun (it is already for one run)';
    if (typeof member !== 'function') return `its '${key}' must be a function`;
  }
  const around = (value as { aroundAttempt?: unknown }).aroundAttempt;
  if (around !== undefined && typeof around !== 'function') return 'its aroundAttempt must be a function';
  const carrier = (value as { attemptCarrier?: unknown }).attemptCarrier;
  if (carrier !== undefined && typeof carrier !== 'function') return 'its attemptCarrier must be a function';
  return undefined;
}
