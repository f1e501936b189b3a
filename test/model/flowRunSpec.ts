import type { FlowRunEvent } from '../../machines/index.ts';
import type { Spec, SpecRow } from './spec.ts';

/** The flow-run lifecycle (DESIGN §1–§2, Airflow's DagRun) as a hand-written table. */
export interface FlowModel {
  state: string;
  reason: string | null;
  manuallySetFrom: string | null;
}

export const flowStates = ['queued', 'running', 'success', 'failed'] as const;

export function initialFlowModel(): FlowModel {
  return { state: 'queued', reason: null, manuallySetFrom: null };
}

type Row = SpecRow<FlowModel, FlowRunEvent>;

const recordFailure = (_m: FlowModel, e: FlowRunEvent) => ({ reason: e.type === 'FAIL' ? e.reason : null });

const rows: Row[] = [
  { from: 'queued', event: 'START', to: 'running' },
  // a run can fail before it starts (cancelled while queued)
  { from: 'queued', event: 'FAIL', to: 'failed', update: recordFailure },
  { from: 'running', event: 'SUCCEED', to: 'success' },
  { from: 'running', event: 'FAIL', to: 'failed', update: recordFailure },
  // a finished run runs again when a task is cleared or the run resumed: outcome forgotten
  { from: 'success', event: 'RERUN', to: 'queued', update: () => ({ reason: null, manuallySetFrom: null }) },
  { from: 'failed', event: 'RERUN', to: 'queued', update: () => ({ reason: null, manuallySetFrom: null }) },
  // manual marking to success | failed from any state but the one it is in
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
    { type: 'SUCCEED' },
    { type: 'FAIL', reason: 'task_failure' },
    { type: 'FAIL', reason: 'all_tasks_deadlocked' },
    { type: 'FAIL', reason: 'cancelled' },
    { type: 'SET_STATE', state: 'success' },
    { type: 'SET_STATE', state: 'failed' },
    { type: 'RERUN' },
  ];
}
