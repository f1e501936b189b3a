/**
 * Control-flow signals thrown by `ctx().defer()` and `ctx().reschedule()`. They unwind the task
 * function; the runtime turns them into the `deferred` and `up_for_reschedule` transitions.
 * Task code must not swallow them (a `catch` that rethrows unknown errors is fine).
 */
export class DeferSignal extends Error {
  override name = 'DeferSignal';
  readonly until: number | undefined;
  readonly waitForEvent: boolean;
  readonly timeout: number | undefined;
  constructor(options: { until: number | undefined; waitForEvent: boolean; timeout: number | undefined }) {
    super('task deferred itself (ctx().defer); do not catch this error');
    this.until = options.until;
    this.waitForEvent = options.waitForEvent;
    this.timeout = options.timeout;
  }
}

/** Thrown by `ctx().reschedule(delay)`; see {@link DeferSignal}. */
export class RescheduleSignal extends Error {
  override name = 'RescheduleSignal';
  readonly delay: number;
  constructor(delay: number) {
    super('task rescheduled itself (ctx().reschedule); do not catch this error');
    this.delay = delay;
  }
}
