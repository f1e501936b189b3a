import type { ManualTaskInstanceState, TaskInstanceState } from '../../../machines/index.ts';
import type { StoredControlRequest } from '../../stores/index.ts';
import type { ClearOptions } from '../handle.ts';

/** The run a control request acts on: its manual operations, as the handle offers them. */
export interface ControlTarget {
  readonly runId: string;
  setState(key: string, state: ManualTaskInstanceState): void;
  clear(key: string, options: ClearOptions): readonly string[];
  resumeTask(key: string, payload?: unknown): void;
  sendEvent(key: string, payload?: unknown): void;
  cancel(reason?: string): void;
  /** A task instance's state now (`undefined` for an unknown key). */
  stateOf(key: string): TaskInstanceState | undefined;
  /** The run's state now. */
  runState(): string;
}

/**
 * Applies a control request another process stored (`taskmachine set-state`, `clear`,
 * `resume-task`, `send-event`, `cancel` on a run this process drives) through the run's manual
 * operations — so through the machines: a change they refuse throws their error, which becomes the
 * request's `refused` answer. Returns what changed, for the `applied` answer.
 */
export function applyControl(run: ControlTarget, request: StoredControlRequest): string {
  const key = request.taskKey ?? '';
  const before = run.stateOf(key);
  switch (request.action) {
    case 'set-state':
      run.setState(key, request.state!);
      break;
    case 'clear': {
      const cleared = run.clear(key, clearOptionsOf(request.payload));
      if (cleared.length > 1) return `cleared ${cleared.length} task instances: ${cleared.join(', ')}`;
      break;
    }
    case 'resume-task':
      run.resumeTask(key, request.payload);
      break;
    case 'send-event':
      run.sendEvent(key, request.payload);
      break;
    case 'cancel':
      run.cancel(typeof request.payload === 'string' ? request.payload : undefined);
      return `run '${run.runId}': ${run.runState()} (cancelled)`;
  }
  return `${key}: ${before} → ${run.stateOf(key)}`;
}

/** The options of a stored `clear` request (its payload: `{ downstream?, upstream? }`). */
function clearOptionsOf(payload: unknown): ClearOptions {
  if (payload === null || typeof payload !== 'object') return {};
  const { downstream, upstream } = payload as Record<string, unknown>;
  return { downstream: downstream === true, upstream: upstream === true };
}
