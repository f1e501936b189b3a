import { toError } from '../../errors.ts';
import type { TimerAction } from '../../stores/index.ts';
import type { AttemptRun, TaskInstance } from '../instances/taskInstance.ts';
import type { Clock } from '../../clock.ts';
import type { Lifecycle } from '../lifecycle/lifecycle.ts';
import type { Admission } from './admission.ts';

/** What the wake-ups need from the run. */
export interface WakeupsHost {
  /** A deferral is over (`until` reached, or timed out). */
  endDeferral(instance: TaskInstance, how: { timedOut: boolean }): void;
  /** An attempt's `timeout` elapsed. */
  attemptTimedOut(run: AttemptRun, timeoutMs: number): void;
  /** The instance's stored record changed (its pending timer). */
  touch(instance: TaskInstance): void;
  /** Whether timers may fire now (not while the run shuts down, is cancelled or was let go). */
  armed(): boolean;
  /** A timer fired: the scheduler takes a turn. */
  requestTurn(): void;
  log(line: string): void;
}

/**
 * The only owner of the run's timers: an instance's one pending wake-up (retry delay,
 * `up_for_reschedule` poke, deferral `until`/`timeout`, checkpoint `resumeAfter`) and each
 * attempt's `timeout`, and what each does when it fires: `retry` → RETRY, `poke` → POKE,
 * `resume` → RESUME (each then queued), `trigger`/`trigger-timeout` → the deferral ends. An
 * instance's timer is stored with it as an absolute deadline (never an XState `after`, which a
 * restored actor would lose), so a resumed run arms it again with the time that is left; attempt
 * timeouts are not stored (an interrupted attempt runs again in full).
 */
export class Wakeups {
  readonly #clock: Clock;
  readonly #lifecycle: Lifecycle;
  readonly #admission: Admission;
  readonly #host: WakeupsHost;
  /** Instance timers armed now. */
  #pending = 0;

  constructor(clock: Clock, lifecycle: Lifecycle, admission: Admission, host: WakeupsHost) {
    this.#clock = clock;
    this.#lifecycle = lifecycle;
    this.#admission = admission;
    this.#host = host;
  }

  /** Instance timers armed now. */
  get pending(): number {
    return this.#pending;
  }

  /** Sets the instance's one pending wake-up, `ms` from now (replacing any earlier one). */
  set(instance: TaskInstance, ms: number, action: TimerAction): void {
    this.clear(instance);
    instance.timerInfo = { deadline: this.#clock.now() + ms, action };
    this.#host.touch(instance);
    this.#arm(instance, ms, action);
  }

  /** Arms the timer a restored instance had stored, with the time that is left. */
  rearm(instance: TaskInstance, timer: { deadline: number; action: TimerAction }): void {
    this.clear(instance);
    instance.timerInfo = timer;
    this.#arm(instance, Math.max(0, timer.deadline - this.#clock.now()), timer.action);
  }

  /**
   * Cancels the instance's wake-up. With `keepDeadline` the stored deadline stays (a shutdown: the
   * resumed run fires it), otherwise it is forgotten.
   */
  clear(instance: TaskInstance, keepDeadline = false): void {
    if (instance.timer !== undefined) {
      this.#clock.clearTimeout(instance.timer);
      instance.timer = undefined;
      this.#pending--;
    }
    if (keepDeadline || instance.timerInfo === undefined) return;
    instance.timerInfo = undefined;
    this.#host.touch(instance);
  }

  /** Arms the attempt's `timeout`. */
  startDeadline(run: AttemptRun, timeoutMs: number): void {
    run.deadline = this.#clock.setTimeout(() => {
      run.deadline = undefined;
      this.#host.attemptTimedOut(run, timeoutMs);
    }, timeoutMs);
  }

  /** Cancels the attempt's `timeout` (it ended). */
  endDeadline(run: AttemptRun): void {
    if (run.deadline === undefined) return;
    this.#clock.clearTimeout(run.deadline);
    run.deadline = undefined;
  }

  /** Calls `fn` after `ms` (for the run's own waits, e.g. a shutdown's grace period); returns a cancel. */
  after(ms: number, fn: () => void): () => void {
    const handle = this.#clock.setTimeout(fn, ms);
    return () => this.#clock.clearTimeout(handle);
  }

  #arm(instance: TaskInstance, ms: number, action: TimerAction): void {
    // Not armed (a shutdown, a cancelled run): the deadline is stored, a resumed run fires it.
    if (!this.#host.armed()) return;
    this.#pending++;
    instance.timer = this.#clock.setTimeout(() => {
      instance.timer = undefined;
      instance.timerInfo = undefined;
      this.#pending--;
      this.#fire(instance, action);
    }, ms);
  }

  #fire(instance: TaskInstance, action: TimerAction): void {
    try {
      switch (action) {
        case 'retry':
          this.#lifecycle.apply(instance, { type: 'RETRY' });
          this.#admission.toQueue.push(instance);
          break;
        case 'poke':
          this.#lifecycle.apply(instance, { type: 'POKE' });
          this.#admission.toQueue.push(instance);
          break;
        case 'resume':
          this.#lifecycle.apply(instance, { type: 'RESUME' });
          this.#admission.toQueue.push(instance);
          break;
        case 'trigger':
        case 'trigger-timeout':
          this.#host.endDeferral(instance, { timedOut: action === 'trigger-timeout' });
          break;
      }
    } catch (error) {
      this.#host.log(`taskmachine: internal error in a timer of '${instance.key}': ${toError(error).stack}`);
    }
    this.#host.requestTurn();
  }
}
