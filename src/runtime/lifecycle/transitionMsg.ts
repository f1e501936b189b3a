import type { TaskInstanceEvent, TaskInstanceState } from '../../../machines/index.ts';
import type { TaskInstanceMsg } from '../../records.ts';

/**
 * The `msg` listeners receive for a transition (Airflow's AIP-96 values): why the instance got
 * where it is; `undefined` for scheduler-side changes (scheduled, queued, skipped by trigger rule…).
 */
export function msgFor(
  event: TaskInstanceEvent,
  previousState: TaskInstanceState,
  state: TaskInstanceState,
): TaskInstanceMsg | undefined {
  switch (event.type) {
    case 'SET_STATE':
      return `manually_set_to_${event.state}`;
    case 'START':
      return previousState === 'queued' ? 'started' : undefined;
    case 'SUCCEED':
      return 'success';
    case 'FAIL':
    case 'GATE_FAIL':
      return state === 'up_for_retry' ? 'up_for_retry' : 'failed';
    case 'INTERRUPT':
      return state === 'failed' ? 'failed' : 'interrupted';
    case 'SKIP':
      return previousState === 'running' ? 'skipped' : undefined;
    case 'CHECKPOINT':
      return 'checkpointed';
    default:
      return undefined;
  }
}
