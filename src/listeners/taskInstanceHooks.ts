import type { TaskInstanceChange } from '../records.ts';
import type { ListenerDispatcher } from './dispatch.ts';

/**
 * Queues the listener hooks one task-instance change fires: `onTaskInstanceStateChange` for every
 * change, and Airflow's hook for the changes that have one (chosen by `msg`: scheduler-side
 * changes such as a skip by trigger rule fire only `onTaskInstanceStateChange`).
 */
export function emitTaskInstanceHooks(dispatcher: ListenerDispatcher, change: TaskInstanceChange): void {
  const { previousState, state, taskInstance, msg, at } = change;
  dispatcher.emit('onTaskInstanceStateChange', { previousState, state, taskInstance, msg, at });
  if (msg === undefined) return;
  switch (msg) {
    case 'started':
      dispatcher.emit('onTaskInstanceRunning', { previousState, taskInstance, msg });
      break;
    case 'success':
    case 'manually_set_to_success':
      dispatcher.emit('onTaskInstanceSuccess', { previousState, taskInstance, msg });
      break;
    case 'failed':
    case 'up_for_retry':
    case 'manually_set_to_failed':
      dispatcher.emit('onTaskInstanceFailed', {
        previousState,
        taskInstance,
        msg,
        error: change.error ?? new Error(`task instance '${taskInstance.key}' failed`),
        failureDetails: Object.freeze({
          kind: taskInstance.failureKind ?? (msg === 'manually_set_to_failed' ? 'manual' : 'application'),
          attempt: taskInstance.attempts,
          willRetry: state === 'up_for_retry',
        }),
      });
      break;
    case 'skipped':
    case 'manually_set_to_skipped':
      dispatcher.emit('onTaskInstanceSkipped', { previousState, taskInstance, msg });
      break;
    case 'checkpointed':
      dispatcher.emit('onTaskInstanceCheckpointed', { previousState, taskInstance, msg, checkpointData: change.checkpointData ?? null });
      break;
  }
}
