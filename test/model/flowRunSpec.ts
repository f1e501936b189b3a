import type { FlowRunEvent } from '../../machines/index.ts';
import type { Spec, SpecRow } from './spec.ts';

/** The flow-run lifecycle (DESIGN §1–§2, Airflow's DagRun) as a hand-written table. */
export interface FlowModel {
  state: string;
  reason: string | null;
  manuallySetFrom: string | null;
}

export const flowStates = ['queued', 'running', 'success', 'failed'] as const;
/** What the process driving a running run does with it (not stored). */
export const runningPhases = ['active', 'paused', 'cancelling', 'stopping', 'detached'] as const;

export function initialFlowModel(): FlowModel {
  return { state: 'queued', reason: null, manuallySetFrom: null };
}

type Row = SpecRow<FlowModel, FlowRunEvent>;

const recordFailure = (_m: FlowModel, e: FlowRunEvent) => ({ reason: e.type === 'FAIL' ? e.reason : null });
const phase = (name: (typeof runningPhases)[number]) => `running.${name}`;

/** Finishing: from every phase in which the process still drives the run (not once it let go). */
const finishRows: Row[] = (['active', 'paused', 'cancelling', 'stopping'] as const).flatMap((from): Row[] => [
  { from: phase(from), event: 'SUCCEED', to: 'success' },
  { from: phase(from), event: 'FAIL', to: 'failed', update: recordFailure },
]);

const rows: Row[] = [
  { from: 'queued', event: 'START', to: 'running', toState: phase('active') },
  // a run cancelled before it starts fails at once; it can also fail before it starts
  { from: 'queued', event: 'CANCEL', to: 'failed', update: () => ({ reason: 'cancelled' }) },
  { from: 'queued', event: 'FAIL', to: 'failed', update: recordFailure },
  // the phases of a running run
  { from: phase('active'), event: 'PAUSE', to: phase('paused') },
  { from: phase('active'), event: 'CANCEL', to: phase('cancelling') },
  { from: phase('active'), event: 'SHUTDOWN', to: phase('stopping') },
  { from: phase('active'), event: 'DETACH', to: phase('detached') },
  { from: phase('paused'), event: 'CANCEL', to: phase('cancelling') },
  { from: phase('paused'), event: 'DETACH', to: phase('detached') },
  { from: phase('cancelling'), event: 'DETACH', to: phase('detached') },
  { from: phase('stopping'), event: 'DETACH', to: phase('detached') },
  ...finishRows,
  // a finished run runs again when a task is cleared or the run resumed: outcome forgotten
  { from: 'success', event: 'RERUN', to: 'queued', update: () => ({ reason: null, manuallySetFrom: null }) },
  { from: 'failed', event: 'RERUN', to: 'queued', update: () => ({ reason: null, manuallySetFrom: null }) },
  // manual marking to success | failed from any state but the one it is in (a running run in any phase)
  ...flowStates.flatMap((from) =>
    (['success', 'failed'] as const)
      .filter((target) => target !== from)
      .map(
        (target): Row => ({
          from,
          event: 'SET_STATE',
          guard: `isManualTarget(state=${target})`,
          when: (_m, e) => e.type === 'SET_STATE' && e.state === target,
          to: target,
          update: () => ({ manuallySetFrom: from, reason: target === 'failed' ? 'manual' : null }),
        }),
      ),
  ),
];

export const flowRunSpec: Spec<FlowModel, FlowRunEvent> = { name: 'flow-run lifecycle', rows };

export function flowRunEvents(): FlowRunEvent[] {
  return [
    { type: 'START' },
    { type: 'PAUSE' },
    { type: 'CANCEL' },
    { type: 'SHUTDOWN' },
    { type: 'DETACH' },
    { type: 'SUCCEED' },
    { type: 'FAIL', reason: 'task_failure' },
    { type: 'FAIL', reason: 'all_tasks_deadlocked' },
    { type: 'FAIL', reason: 'cancelled' },
    { type: 'SET_STATE', state: 'success' },
    { type: 'SET_STATE', state: 'failed' },
    { type: 'RERUN' },
  ];
}
