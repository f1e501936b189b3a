import { toError } from '../errors.ts';
import { frozen } from '../frozen.ts';
import type { DeliveredHookName, Listener } from './types.ts';

/** The timers `drain` waits with (the run's clock, so tests control it). */
export interface DrainClock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const platformTimers: DrainClock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Delivers hook calls to listeners. Each listener has its own queue: its calls run one after the
 * other in the order the changes happened (so per task instance, in transition order), while a
 * slow listener delays neither the others nor task execution. A throw (sync or async) is logged as
 * `error calling listener for hook '<name>'` with its stack and changes nothing else.
 */
export class ListenerDispatcher {
  readonly #listeners: Listener[];
  readonly #log: (line: string) => void;
  readonly #tails: Array<Promise<void> | undefined>;
  /**
   * Listeners a drain already gave up on (still busy after `listenerTimeout`): later drains do not
   * wait for them again until their queue empties, so a stuck listener delays a run's end (or a
   * shutdown) by one `listenerTimeout`, not one per drain.
   */
  readonly #late: boolean[];
  readonly #clock: DrainClock;

  constructor(listeners: readonly Listener[], log: (line: string) => void, clock: DrainClock = platformTimers) {
    this.#listeners = [...listeners];
    this.#log = log;
    this.#tails = listeners.map(() => undefined);
    this.#late = listeners.map(() => false);
    this.#clock = clock;
  }

  /**
   * Adds a listener for the rest of the run (a run listener `forRun` returned): it hears of what
   * happens from now on, with a queue of its own.
   */
  add(listener: Listener): void {
    this.#listeners.push(listener);
    this.#tails.push(undefined);
    this.#late.push(false);
  }

  /** Whether some listener has `hook` (so a caller can skip building arguments nobody reads). */
  has(hook: DeliveredHookName): boolean {
    return this.#listeners.some((listener) => typeof listener[hook] === 'function');
  }

  /**
   * Queues `hook(args)` for every listener that has it. Never throws. The arguments are frozen
   * (records, their plain data): every listener sees them as the run made them.
   */
  emit(hook: DeliveredHookName, args: object): void {
    frozen(args);
    this.#listeners.forEach((listener, index) => {
      const fn = listener[hook] as ((a: object) => unknown) | undefined;
      if (typeof fn !== 'function') return;
      const call = () => {
        try {
          const result = fn.call(listener, args);
          if (result !== null && typeof (result as PromiseLike<unknown>)?.then === 'function') {
            return Promise.resolve(result).then(undefined, (error: unknown) => this.#report(hook, error));
          }
        } catch (error) {
          this.#report(hook, error);
        }
        return undefined;
      };
      // Always after the current turn: a hook that calls back into the run (e.g. setState) never
      // re-enters a transition in progress.
      this.#track(index, (this.#tails[index] ?? RESOLVED).then(call));
    });
  }

  #track(index: number, promise: Promise<unknown>): void {
    const tail: Promise<void> = promise.then(() => {
      if (this.#tails[index] !== tail) return;
      this.#tails[index] = undefined;
      this.#late[index] = false;
    });
    this.#tails[index] = tail;
  }

  /** Resolves when every queued delivery has settled, or after `timeoutMs` (logging which are late). */
  async drain(timeoutMs: number): Promise<void> {
    const pending = this.#tails.filter((tail, index): tail is Promise<void> => tail !== undefined && !this.#late[index]);
    if (pending.length === 0) return;
    let timer: unknown;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = this.#clock.setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([Promise.all(pending).then(() => 'done' as const), timedOut]);
    this.#clock.clearTimeout(timer);
    if (outcome === 'timeout') {
      let late = 0;
      this.#tails.forEach((tail, index) => {
        if (tail === undefined || this.#late[index]) return;
        this.#late[index] = true;
        late++;
      });
      this.#log(`taskmachine: ${late} listener(s) still busy after listenerTimeout (${timeoutMs} ms); not waiting for them`);
    }
  }

  #report(hook: string, error: unknown): void {
    const thrown = toError(error);
    const detail = thrown.stack ?? `${thrown.name}: ${thrown.message}`;
    this.#log(`error calling listener for hook '${hook}': ${detail}`);
  }
}
