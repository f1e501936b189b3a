import { toError } from '../../errors.ts';
import type { AttemptCarrier, AttemptScope } from '../../listeners/runListeners.ts';
import type { AttemptScopeArgs } from '../../listeners/types.ts';
import type { AttemptRun } from '../instances/taskInstance.ts';

/**
 * Runs an attempt's task function inside the run listeners' `aroundAttempt` scopes (the first
 * listener's outermost). A scope only chooses the async context the function runs in: whatever it
 * returns or throws of its own, the attempt's outcome is what the function returned or threw, and
 * a scope that never calls `run()` does not keep the attempt from running. A run without scopes
 * never gets here (the executor calls the function directly).
 */
export class AttemptScopes {
  readonly #scopes: readonly AttemptScope[];
  readonly #carriers: readonly AttemptCarrier[];
  readonly #log: (line: string) => void;

  constructor(scopes: readonly AttemptScope[], log: (line: string) => void, carriers: readonly AttemptCarrier[] = []) {
    this.#scopes = scopes;
    this.#carriers = carriers;
    this.#log = log;
  }

  /**
   * What the run listeners' `attemptCarrier`s give an attempt that runs elsewhere (merged, later
   * listeners win a key), or `undefined` when none gives anything. A carrier that throws or gives
   * something other than strings is logged and left out.
   */
  carry(run: AttemptRun): Readonly<Record<string, string>> | undefined {
    if (this.#carriers.length === 0) return undefined;
    const args: AttemptScopeArgs = Object.freeze({ taskInstance: run.instance.toRecord(), attempt: run.attempt });
    let carried: Record<string, string> | undefined;
    for (const carrier of this.#carriers) {
      // (Reading what it gave may throw too: a getter, a revoked Proxy.)
      try {
        const given: unknown = carrier(args);
        if (given === undefined || given === null) continue;
        const entries = typeof given === 'object' ? Object.entries(given) : undefined;
        if (entries === undefined || entries.some(([, value]) => typeof value !== 'string')) {
          this.#log(`error calling listener for hook 'attemptCarrier': it must return an object of strings (or undefined), got ${typeof given === 'object' ? 'an object with other values' : typeof given}`);
          continue;
        }
        carried = { ...carried, ...(Object.fromEntries(entries) as Record<string, string>) };
      } catch (error) {
        const thrown = toError(error);
        this.#log(`error calling listener for hook 'attemptCarrier': ${thrown.stack ?? thrown.message}`);
      }
    }
    return carried;
  }

  /** `invoke()` (the task function, in its `ctx()`) inside every scope; returns or throws as it does. */
  run<T>(run: AttemptRun, invoke: () => T): T {
    const args: AttemptScopeArgs = Object.freeze({ taskInstance: run.instance.toRecord(), attempt: run.attempt });
    return this.#within(0, args, invoke);
  }

  #within<T>(index: number, args: AttemptScopeArgs, invoke: () => T): T {
    const scope = this.#scopes[index];
    if (scope === undefined) return invoke();
    // The inner call runs at most once; its result (or throw) is the attempt's, whatever the scope does with it.
    const inner: { state: 'pending' | 'returned' | 'threw'; value?: T; thrown?: unknown } = { state: 'pending' };
    const once = (): T => {
      if (inner.state === 'pending') {
        try {
          inner.value = this.#within(index + 1, args, invoke);
          inner.state = 'returned';
        } catch (error) {
          inner.thrown = error;
          inner.state = 'threw';
        }
      }
      if (inner.state === 'threw') throw inner.thrown;
      return inner.value as T;
    };
    let reported = false;
    try {
      scope(args, once);
    } catch (error) {
      // The task's own throw passing through the scope is the attempt's failure, not the scope's.
      if (inner.state !== 'threw' || error !== inner.thrown) {
        this.#report(error);
        reported = true;
      }
    }
    if (inner.state === 'pending') {
      if (!reported) this.#log(`error calling listener for hook 'aroundAttempt': it did not call run() for '${args.taskInstance.key}'; the attempt ran outside its scope`);
      try {
        once();
      } catch {
        // (Thrown again below.)
      }
    }
    if (inner.state === 'threw') throw inner.thrown;
    return inner.value as T;
  }

  #report(error: unknown): void {
    const thrown = toError(error);
    this.#log(`error calling listener for hook 'aroundAttempt': ${thrown.stack ?? thrown.message}`);
  }
}
