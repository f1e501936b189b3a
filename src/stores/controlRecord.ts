import type { ManualTaskInstanceState } from '../../machines/index.ts';

/**
 * What a control request asks the owner of a run to do: `set-state`, `clear` (its payload may be
 * `{ downstream: true }` / `{ upstream: true }`), `resume-task`, `send-event` (its payload becomes
 * `ctx().event`), or `cancel` (the run).
 *
 * @example
 * ```ts
 * import type { ControlAction } from 'taskmachine/stores';
 * const ask = (action: ControlAction, taskKey?: string) =>
 *   store.requestControl({ runId: 'nightly', action, taskKey, requestedAt: Date.now() });
 * await ask('clear', 'load');
 * ```
 */
export type ControlAction = 'set-state' | 'clear' | 'resume-task' | 'send-event' | 'cancel';

/**
 * A manual change asked of a run that another process drives: stored, applied by the owner
 * through the machines in its next turn, settled (`applied` or `refused` with the machine's
 * message) in the same commit as the transitions it caused.
 *
 * @example
 * ```ts
 * const request = await store.requestControl({ runId: 'nightly', action: 'set-state', taskKey: 'load', state: 'success', requestedAt: Date.now() });
 * ```
 */
export interface ControlRequestWrite {
  readonly runId: string;
  readonly action: ControlAction;
  /** The task instance (every action but `cancel`). */
  readonly taskKey?: string;
  /** For `set-state`: the target state. */
  readonly state?: ManualTaskInstanceState;
  /** For `send-event` and `resume-task`: the payload; for `clear`: `{ downstream?, upstream? }`; for `cancel`: the reason. */
  readonly payload?: unknown;
  /** When it was asked (epoch ms). */
  readonly requestedAt: number;
  /** Who asked (free text, e.g. `taskmachine set-state (pid 4242 on build-7)`). */
  readonly requestedBy?: string;
}

/**
 * How a control request ended.
 *
 * @example
 * ```ts
 * import type { ControlStatus } from 'taskmachine/stores';
 * const status: ControlStatus | undefined = (await store.getControl('nightly', id))?.status;
 * if (status === 'pending') console.log('the process driving the run has not taken it up yet');
 * ```
 */
export type ControlStatus = 'pending' | 'applied' | 'refused';

/**
 * A control request as the store keeps it.
 *
 * @example
 * ```ts
 * const request = await store.getControl('nightly', id);
 * if (request?.status === 'refused') console.error(request.message);
 * ```
 */
export interface StoredControlRequest extends ControlRequestWrite {
  /** Assigned by the store: 1, 2, 3, … (order of arrival). */
  readonly id: number;
  readonly status: ControlStatus;
  /** For `applied`: what changed (e.g. `load: failed → success`); for `refused`: why. */
  readonly message: string | undefined;
  /** When the owner settled it (epoch ms). */
  readonly settledAt: number | undefined;
}

/**
 * The owner's answer to a control request, committed with the batch of the changes it caused.
 *
 * @example
 * ```ts
 * await store.commit({ runId: 'nightly', leaseToken, instances, transitions, controls: [{ id: 3, status: 'applied', message: 'load: failed → success', at: now }] });
 * ```
 */
export interface ControlSettlement {
  readonly id: number;
  readonly status: 'applied' | 'refused';
  readonly message: string;
  readonly at: number;
}
