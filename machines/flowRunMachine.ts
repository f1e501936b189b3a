import { assign, setup, type SnapshotFrom } from 'xstate';

/**
 * The states of a flow run, as in Airflow's DagRun: what the store keeps and what a run record
 * reports. (`running` has phases inside it, see {@link FlowRunPhase}; they belong to the process
 * driving the run and are not stored.)
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
 * What the process driving a `running` run is doing with it:
 * - `active`: scheduling and running task instances;
 * - `paused`: opened to inspect it or change task instances by hand; nothing is scheduled or run;
 * - `cancelling`: cancelled; running attempts are being ended, then the run fails (`cancelled`);
 * - `stopping`: graceful shutdown; nothing new starts, running attempts get a grace period;
 * - `detached`: this process no longer drives the run (shut down, or the store refused a write).
 *   The run stays `running` in the store, to be resumed.
 *
 * @example
 * ```ts
 * import type { FlowRunPhase } from 'taskmachine/machines';
 * const phase: FlowRunPhase = 'stopping';
 * ```
 */
export type FlowRunPhase = 'active' | 'paused' | 'cancelling' | 'stopping' | 'detached';

/**
 * Why a flow run ended failed:
 * - `task_failure`: every task instance finished and a leaf is in a failed state;
 * - `all_tasks_deadlocked`: unfinished task instances remain but none can ever run;
 * - `cancelled`: the run was cancelled (its `signal` aborted or `cancel()` called);
 * - `manual`: a person marked the run.
 *
 * @example
 * ```ts
 * import type { FlowRunFailureReason } from 'taskmachine/machines';
 * const advice: Record<FlowRunFailureReason, string> = {
 *   task_failure: 'see the failed tasks', all_tasks_deadlocked: 'check the trigger rules',
 *   cancelled: 'start it again', manual: 'ask who marked it',
 * };
 * const run = await runFlow(etl, { input });
 * if (run.reason !== null) console.error(`${run.runId} failed: ${advice[run.reason]}`);
 * ```
 */
export type FlowRunFailureReason = 'task_failure' | 'all_tasks_deadlocked' | 'cancelled' | 'manual';

/**
 * Events of the flow-run machine:
 * - `START` queued → running (active);
 * - `PAUSE` running (active) → running.paused: opened for inspection or manual changes only;
 * - `CANCEL` queued → failed (cancelled) · running (active or paused) → running.cancelling;
 * - `SHUTDOWN` running (active) → running.stopping;
 * - `DETACH` running (any phase) → running.detached: the process lets go of the run;
 * - `SUCCEED` running → success (not once detached) · `FAIL` queued|running → failed (with the
 *   reason; not once detached);
 * - `SET_STATE` any → success|failed (manual marking);
 * - `RERUN` success|failed → queued (a task was cleared or set by hand, or the run is resumed).
 *
 * @example
 * ```ts
 * import type { FlowRunEvent } from 'taskmachine/machines';
 * const failed: FlowRunEvent = { type: 'FAIL', reason: 'task_failure' };
 * ```
 */
export type FlowRunEvent =
  | { type: 'START' }
  | { type: 'PAUSE' }
  | { type: 'CANCEL' }
  | { type: 'SHUTDOWN' }
  | { type: 'DETACH' }
  | { type: 'SUCCEED' }
  | { type: 'FAIL'; reason: Exclude<FlowRunFailureReason, 'manual'> }
  | { type: 'SET_STATE'; state: 'success' | 'failed' }
  | { type: 'RERUN' };

/**
 * The event type names of the flow-run machine, e.g. `'CANCEL'`.
 *
 * @example
 * ```ts
 * import type { FlowRunEventType } from 'taskmachine/machines';
 * const operatorEvents: ReadonlySet<FlowRunEventType> = new Set(['CANCEL', 'SET_STATE', 'RERUN']);
 * ```
 */
export type FlowRunEventType = FlowRunEvent['type'];

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

/**
 * Version of the flow-run machine definition, stored beside every durable run record. Version 2
 * added the phases inside `running`; they are not stored, so runs stored by version 1 open as
 * they are.
 *
 * @example
 * ```ts
 * import { FLOW_RUN_MACHINE_VERSION } from 'taskmachine/machines';
 * const loaded = await store.loadRun('nightly');
 * if (loaded && loaded.run.machineVersion !== FLOW_RUN_MACHINE_VERSION) console.log('stored by another version');
 * ```
 */
export const FLOW_RUN_MACHINE_VERSION = '2';

/**
 * Flow-run machine versions whose stored runs this version opens unchanged.
 *
 * @example
 * ```ts
 * import { compatibleFlowRunMachineVersions } from 'taskmachine/machines';
 * compatibleFlowRunMachineVersions.has('1'); // true
 * ```
 */
export const compatibleFlowRunMachineVersions: ReadonlySet<string> = new Set(['1', '2']);

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
    recordCancel: assign({ reason: 'cancelled' as const }),
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
      target: `#flowRun.${to}`,
      actions: { type: 'recordManualSet' as const, params: { from, to } },
    }));
}

const finish = {
  SUCCEED: '#flowRun.success',
  FAIL: { target: '#flowRun.failed', actions: 'recordFailure' },
} as const;

/**
 * The flow-run lifecycle: `queued → running → success | failed`, with the failure reason, manual
 * marking, re-running a finished run, and the phases of the process driving a running run
 * (`active`, `paused`, `cancelling`, `stopping`, `detached`). Pure definition; the runtime decides
 * when to send what, and restores the actor from the stored run state when it opens a run.
 *
 * @example
 * ```ts
 * import { createActor } from 'xstate';
 * import { flowRunMachine, flowRunStateOf } from 'taskmachine/machines';
 * const run = createActor(flowRunMachine).start();
 * run.send({ type: 'START' });
 * run.send({ type: 'CANCEL' });
 * run.getSnapshot().value; // { running: 'cancelling' }
 * run.send({ type: 'FAIL', reason: 'cancelled' });
 * flowRunStateOf(run.getSnapshot()); // 'failed'
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
        CANCEL: { target: 'failed', actions: 'recordCancel' },
        FAIL: { target: 'failed', actions: 'recordFailure' },
        SET_STATE: markEdges('queued'),
      },
    },
    running: {
      tags: ['unfinished'],
      initial: 'active',
      states: {
        active: {
          on: {
            PAUSE: 'paused',
            CANCEL: 'cancelling',
            SHUTDOWN: 'stopping',
            DETACH: 'detached',
            ...finish,
          },
        },
        paused: {
          on: { CANCEL: 'cancelling', DETACH: 'detached', ...finish },
        },
        cancelling: {
          on: { DETACH: 'detached', ...finish },
        },
        stopping: {
          on: { DETACH: 'detached', ...finish },
        },
        // The process let go: nothing it does reaches the run any more (only a marking by hand).
        detached: {},
      },
      on: { SET_STATE: markEdges('running') },
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

/**
 * The flow-run machine's type.
 *
 * @example
 * ```ts
 * import { createActor, type ActorRefFrom } from 'xstate';
 * import { flowRunMachine, type FlowRunMachine } from 'taskmachine/machines';
 * const run: ActorRefFrom<FlowRunMachine> = createActor(flowRunMachine).start();
 * ```
 */
export type FlowRunMachine = typeof flowRunMachine;

/**
 * A snapshot of the flow-run machine.
 *
 * @example
 * ```ts
 * import { flowRunPhaseOf, flowRunStateOf, type FlowRunSnapshot } from 'taskmachine/machines';
 * const label = (snapshot: FlowRunSnapshot) => flowRunPhaseOf(snapshot) ?? flowRunStateOf(snapshot);
 * label(run.getSnapshot()); // 'queued', then the phase while it runs ('active', …), then 'success' or 'failed'
 * ```
 */
export type FlowRunSnapshot = SnapshotFrom<FlowRunMachine>;

/**
 * The stored state of a flow-run snapshot (its top-level state).
 *
 * @example
 * ```ts
 * import { createActor } from 'xstate';
 * import { flowRunMachine, flowRunStateOf } from 'taskmachine/machines';
 * flowRunStateOf(createActor(flowRunMachine).getSnapshot()); // 'queued'
 * ```
 */
export function flowRunStateOf(snapshot: { readonly value: FlowRunSnapshot['value'] }): FlowRunState {
  const value = snapshot.value;
  return typeof value === 'string' ? value : 'running';
}

/**
 * The phase of a `running` flow-run snapshot, or `undefined` when the run is not running.
 *
 * @example
 * ```ts
 * import { createActor } from 'xstate';
 * import { flowRunMachine, flowRunPhaseOf } from 'taskmachine/machines';
 * const run = createActor(flowRunMachine).start();
 * run.send({ type: 'START' });
 * flowRunPhaseOf(run.getSnapshot()); // 'active'
 * ```
 */
export function flowRunPhaseOf(snapshot: { readonly value: FlowRunSnapshot['value'] }): FlowRunPhase | undefined {
  const value = snapshot.value;
  return typeof value === 'string' ? undefined : value.running;
}
