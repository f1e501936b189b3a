import { assign, setup } from 'xstate';

/**
 * The states of a flow run, as in Airflow's DagRun.
 *
 * @example
 * ```ts
 * import { FlowRunState } from 'taskmachine/machines';
 * FlowRunState.success; // 'success'
 * ```
 */
export const FlowRunState = {
  queued: 'queued',
  running: 'running',
  success: 'success',
  failed: 'failed',
} as const;

/** One of the four flow-run states. */
export type FlowRunState = (typeof FlowRunState)[keyof typeof FlowRunState];

/**
 * Why a flow run ended failed:
 * - `task_failure`: every task instance finished and a leaf is in a failed state;
 * - `all_tasks_deadlocked`: unfinished task instances remain but none can ever run;
 * - `cancelled`: the run was cancelled (its `signal` aborted or `cancel()` called);
 * - `manual`: a person marked the run.
 */
export type FlowRunFailureReason = 'task_failure' | 'all_tasks_deadlocked' | 'cancelled' | 'manual';

/**
 * Events of the flow-run machine:
 * `START` queued → running · `SUCCEED` running → success · `FAIL` queued|running → failed (with
 * the reason) · `SET_STATE` any → success|failed (manual marking) · `RERUN` success|failed → queued
 * (a task was cleared or the run is resumed).
 *
 * @example
 * ```ts
 * import type { FlowRunEvent } from 'taskmachine/machines';
 * const failed: FlowRunEvent = { type: 'FAIL', reason: 'task_failure' };
 * ```
 */
export type FlowRunEvent =
  | { type: 'START' }
  | { type: 'SUCCEED' }
  | { type: 'FAIL'; reason: Exclude<FlowRunFailureReason, 'manual'> }
  | { type: 'SET_STATE'; state: 'success' | 'failed' }
  | { type: 'RERUN' };

/**
 * Context of the flow-run machine.
 *
 * @example
 * ```ts
 * import { createActor } from 'xstate';
 * import { flowRunMachine } from 'taskmachine/machines';
 * createActor(flowRunMachine).getSnapshot().context; // { reason: null, manuallySetFrom: null }
 * ```
 */
export interface FlowRunContext {
  /** Why the run failed; `null` unless it is `failed`. */
  reason: FlowRunFailureReason | null;
  /** The state the run was in when it was last marked by hand, or `null`. */
  manuallySetFrom: FlowRunState | null;
}

/** Version of the flow-run machine definition, stored beside every durable run record. */
export const FLOW_RUN_MACHINE_VERSION = '1';

const fr = setup({
  types: {
    context: {} as FlowRunContext,
    events: {} as FlowRunEvent,
    tags: {} as 'finished' | 'unfinished',
  },
  guards: {
    isManualTarget: ({ event }, params: { state: 'success' | 'failed' }) =>
      event.type === 'SET_STATE' && event.state === params.state,
  },
  actions: {
    recordFailure: assign({
      reason: ({ event }) => (event.type === 'FAIL' ? event.reason : null),
    }),
    recordManualSet: assign((_, params: { from: FlowRunState; to: 'success' | 'failed' }) => ({
      manuallySetFrom: params.from,
      reason: params.to === 'failed' ? ('manual' as const) : null,
    })),
    resetOutcome: assign({ reason: null, manuallySetFrom: null }),
  },
});

function markEdges(from: FlowRunState) {
  return (['success', 'failed'] as const)
    .filter((to) => to !== from)
    .map((to) => ({
      guard: { type: 'isManualTarget' as const, params: { state: to } },
      target: to,
      actions: { type: 'recordManualSet' as const, params: { from, to } },
    }));
}

/**
 * The flow-run lifecycle: `queued → running → success | failed`, with the failure reason, manual
 * marking, and re-running a finished run. Pure definition; the runtime decides when to send what.
 *
 * @example
 * ```ts
 * import { createActor } from 'xstate';
 * import { flowRunMachine } from 'taskmachine/machines';
 * const run = createActor(flowRunMachine).start();
 * run.send({ type: 'START' });
 * run.send({ type: 'FAIL', reason: 'task_failure' });
 * run.getSnapshot().context.reason; // 'task_failure'
 * ```
 */
export const flowRunMachine = fr.createMachine({
  id: 'flowRun',
  version: FLOW_RUN_MACHINE_VERSION,
  initial: 'queued',
  context: () => ({ reason: null, manuallySetFrom: null }),
  states: {
    queued: {
      tags: ['unfinished'],
      on: {
        START: 'running',
        FAIL: { target: 'failed', actions: 'recordFailure' },
        SET_STATE: markEdges('queued'),
      },
    },
    running: {
      tags: ['unfinished'],
      on: {
        SUCCEED: 'success',
        FAIL: { target: 'failed', actions: 'recordFailure' },
        SET_STATE: markEdges('running'),
      },
    },
    success: {
      tags: ['finished'],
      on: { RERUN: { target: 'queued', actions: 'resetOutcome' }, SET_STATE: markEdges('success') },
    },
    failed: {
      tags: ['finished'],
      on: { RERUN: { target: 'queued', actions: 'resetOutcome' }, SET_STATE: markEdges('failed') },
    },
  },
});

/** The flow-run machine's type. */
export type FlowRunMachine = typeof flowRunMachine;
