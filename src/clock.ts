/**
 * Where the runtime reads time and sets timers. Inject one in tests to control retry delays,
 * timeouts and deferrals without waiting (see `createTestClock` in `taskmachine/testing`).
 *
 * @example
 * ```ts
 * const clock: Clock = { now: Date.now, setTimeout, clearTimeout };
 * ```
 */
export interface Clock {
  /** Current time in epoch milliseconds. */
  now(): number;
  /** Calls `fn` after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer set with `setTimeout`. */
  clearTimeout(handle: unknown): void;
}

/**
 * The real clock: `Date.now` and the platform timers. Runs use it when no `clock` is given.
 *
 * @example
 * ```ts
 * import { systemClock, type Clock } from 'taskmachine';
 * const traced: Clock = {
 *   ...systemClock,
 *   setTimeout: (fn, ms) => (console.log(`timer in ${ms} ms`), systemClock.setTimeout(fn, ms)),
 * };
 * await runFlow(etl, { input, clock: traced });
 * ```
 */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
  clearTimeout: (handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>),
});

/**
 * A clock that only moves when told to. Timers fire in deadline order (ties in the order they
 * were set) during {@link TestClock.advance}, and the microtasks each timer starts are flushed
 * before the next one fires, so a test sees the same sequence every time.
 *
 * @example
 * ```ts
 * import { createTestClock } from 'taskmachine/testing';
 * const clock: TestClock = createTestClock();
 * const handle = startFlow(flaky, { clock });   // a task with retries and retryDelay: 5_000
 * await clock.advance(5_000);                    // the retry runs now, no waiting
 * clock.pendingTimers;                           // 0 once nothing is scheduled
 * ```
 */
export interface TestClock extends Clock {
  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): Promise<void>;
  /** Fires timers (advancing time to each deadline) until none is left or `limit` fired. */
  runAll(limit?: number): Promise<void>;
  /** Lets pending promise callbacks run without moving time. */
  flush(): Promise<void>;
  /** Number of timers set and not yet fired or cleared. */
  readonly pendingTimers: number;
}

interface TestTimer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * Creates a {@link TestClock} starting at `start` (epoch ms).
 *
 * @example
 * ```ts
 * import { createTestClock } from 'taskmachine/testing';
 * const clock = createTestClock();
 * const handle = startFlow(myFlow, { clock });
 * await clock.advance(1_000); // the retry delay elapses
 * ```
 */
export function createTestClock(start = 0): TestClock {
  let now = start;
  let nextId = 1;
  const timers = new Map<number, TestTimer>();
  const flush = async () => {
    // setImmediate runs after every microtask queued so far (and those they queue); a few rounds
    // let chains of promise callbacks settle.
    for (let round = 0; round < 5; round++) await new Promise<void>((resolve) => setImmediate(resolve));
  };
  const nextDue = (until: number): TestTimer | undefined => {
    let best: TestTimer | undefined;
    for (const timer of timers.values()) {
      if (timer.at <= until && (best === undefined || timer.at < best.at || (timer.at === best.at && timer.id < best.id))) {
        best = timer;
      }
    }
    return best;
  };
  const fire = async (timer: TestTimer) => {
    timers.delete(timer.id);
    now = Math.max(now, timer.at);
    timer.fn();
    await flush();
  };
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, { id, at: now + Math.max(0, ms), fn });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    async advance(ms) {
      await flush();
      const target = now + ms;
      for (let timer = nextDue(target); timer; timer = nextDue(target)) await fire(timer);
      now = target;
      await flush();
    },
    async runAll(limit = 10_000) {
      await flush();
      for (let fired = 0; fired < limit; fired++) {
        const timer = nextDue(Number.POSITIVE_INFINITY);
        if (!timer) return;
        await fire(timer);
      }
    },
    flush,
    get pendingTimers() {
      return timers.size;
    },
  };
}

/**
 * The longest delay a Node timer takes (2^31 − 1 ms): a longer one fires after 1 ms instead, with
 * only a warning — so longer grace periods and lease TTLs are refused.
 *
 * @example
 * ```ts
 * if (graceMs > MAX_TIMER_MS) throw new TypeError('graceMs is longer than a timer can wait');
 * ```
 */
export const MAX_TIMER_MS = 2_147_483_647;
